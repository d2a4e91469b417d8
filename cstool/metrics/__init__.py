"""Service metrics (docs/DESIGN.md, §9 "Metrics"): one home for their definitions.

* ``definitions.py`` (pure): one conversation's timeline folded into its facts — the
  need for a human, first reply, customer turns, legs, queue spells.
* ``conversation_rows.py`` (pure): one conversation's facts as a stored row with its
  turn counts, and how a turn or a first response counts against the shop's targets;
* ``agent_time.py`` (pure): online time from status changes, chats held at once;
* ``conversion.py`` (pure): inquiry conversion and the attribution of orders to agents;
* ``figures.py`` (pure): the definitions of every figure (its docstring), and the rows,
  orders and status changes tallied into the report's figures, grouped by shop, group,
  channel, hour, day or agent, with each shop's thresholds.
* ``store.py``: the facts kept in the SQLite file and caught up from the event log;
  the readers a report needs.
* ``today.py``: one shop's figures over one period (the dashboard's "today so far") read
  from those stored facts in a few indexed queries, equal to what the report gives.

The CLI (``cstool metrics``) and the API go through the Backend's ``metrics_report`` /
``agent_metrics`` (``cstool/backend/metrics_ops.py``), the dashboard through
``Backend.dashboard`` (``cstool/backend/dashboard_ops.py``, with ``today.py``): both use
these modules, so the figures are the same.
"""

from .conversation_rows import Targets
from .definitions import Conversation, Facts, Leg, Timeline, Turn, fold
from .figures import DIMENSIONS, FIELDS, build

__all__ = ["DIMENSIONS", "FIELDS", "Conversation", "Facts", "Leg", "Targets", "Timeline",
           "Turn", "build", "fold"]
