"""Service metrics (docs/DESIGN.md, §9 "Metrics"): one home for their definitions.

* ``definitions.py`` (pure): one conversation's timeline folded into its facts — the
  need for a human, first reply, customer turns, legs, queue spells.
* ``conversation_rows.py`` (pure): one conversation's facts as a stored row with its
  turn counts, and how a turn or a first response counts against the shop's targets;
* ``agent_time.py`` (pure): online time from status changes, chats held at once;
* ``conversion.py`` (pure): inquiry conversion and the attribution of orders to agents;
* ``figures.py`` (pure): facts, orders and status changes into the report's figures,
  grouped by shop, group, channel, hour, day or agent, with each shop's thresholds.
* ``cstool/storage/repos/metrics.py``: the facts kept in the SQLite file and caught up
  from the event log; the readers a report needs (``metrics_today.py`` there: the few
  indexed queries of one shop's "today so far").
* ``cstool/services/metrics.py``: reports, one agent's figures, and the dashboard's
  "today so far" (equal to what the report gives), each in an explicit time zone.

The CLI (``cstool metrics``) and the API go through the Backend's ``metrics_report`` /
``agent_metrics``, the dashboard through ``Backend.dashboard``: all call the metrics
service, so the figures are the same.
"""

from .conversation_rows import Targets
from .definitions import Conversation, Facts, Leg, Timeline, Turn, fold
from .figures import DIMENSIONS, FIELDS, build

__all__ = ["DIMENSIONS", "FIELDS", "Conversation", "Facts", "Leg", "Targets", "Timeline",
           "Turn", "build", "fold"]
