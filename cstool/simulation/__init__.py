"""Every simulator of cstool, in one home (none of them is used by the live desk).

Simulating a day of the desk (``cstool simulate``): arrivals per half-hour, a roster, the
real routing engine and the real knowledge bot, and the figures the metrics module would
compute, beside the Erlang C/A prediction (docs/DESIGN.md, §9a "Staffing": check the plan
by simulating the day).

* ``inputs.py``: arrival curves, rosters and the conversation model (pure);
* ``world.py``: the shop read once through the Backend, the bot's answers per question;
* ``day.py``: the discrete-event day over ``cstool.routing`` (pure, in memory);
* ``predict.py``: the Erlang prediction in the metrics' terms, Erlang-staffed rosters;
* ``report.py``: the per-half-hour report;
* ``record.py``: the simulated day written into a copy of the data file, so that
  ``cstool metrics report`` can compute its figures on the same conversations.

The other simulators:

* ``promotion_day.py``: a believable promotion day (双11) and an ordinary day before it,
  as conversation timelines written into the file (``cstool fixtures generate --day``),
  with ``day_tables.py`` (its arrival curves, question mix and texts, which also feed
  ``inputs.py`` and ``world.py``), ``day_timeline.py`` (the shops read, the timelines
  made) and ``day_writer.py`` (the timelines written as the desk writes them);
* ``synthetic_data.py``: large deterministic synthetic data (shops, agents, customers,
  orders) for loads and benchmarks;
* ``demo_customers.py``: the demo's customers writing in at a steady pace, and the demo
  agent's colleagues taking their share;
* ``steady_state_queue.py``: a small steady-state queue simulation that checks the Erlang
  C/A formulas of ``cstool.staffing.erlang`` (and the plain baseline of
  ``benchmarks/bench_simulate.py``).
"""
