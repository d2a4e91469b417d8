"""Simulating a day of the desk: arrivals per half-hour, a roster, the real routing
engine and the real knowledge bot, and the figures the metrics module would compute,
beside the Erlang C/A prediction (docs/DESIGN.md, §9a "Staffing": check the plan by
simulating the day).

* ``inputs.py``: arrival curves, rosters and the conversation model (pure);
* ``world.py``: the shop read once through the Backend, the bot's answers per question;
* ``day.py``: the discrete-event day over ``cstool.routing`` (pure, in memory);
* ``predict.py``: the Erlang prediction in the metrics' terms, Erlang-staffed rosters;
* ``report.py``: the per-half-hour report;
* ``record.py``: the simulated day written into a copy of the data file, so that
  ``cstool metrics report`` can compute its figures on the same conversations.
"""
