"""Service metrics (docs/DESIGN.md, §9 "Metrics"): one home for their definitions.

* ``definitions.py`` (pure): one conversation's timeline folded into its facts — the
  need for a human, first reply, customer turns, legs, queue spells.
* ``figures.py`` (pure): facts, orders and status changes into the report's figures,
  grouped by shop, group, channel, hour, day or agent, with each shop's thresholds.
* ``store.py``: the facts kept in the SQLite file and caught up from the event log;
  the readers a report needs.
* ``today.py``: one shop's figures over one period (the dashboard's "today so far") read
  from those stored facts in a few indexed queries, equal to what the report gives.

The CLI (``cstool metrics``) and the API go through the Backend's ``metrics_report`` /
``agent_metrics`` (``cstool/backend/metrics_ops.py``), the dashboard through
``Backend.dashboard`` (``cstool/backend/dashboard_ops.py``, with ``today.py``): both use
these modules, so the figures are the same.
"""

from .definitions import Conversation, Facts, Leg, Timeline, Turn, fold
from .figures import DIMENSIONS, FIELDS, Targets, build

__all__ = ["DIMENSIONS", "FIELDS", "Conversation", "Facts", "Leg", "Targets", "Timeline",
           "Turn", "build", "fold"]
