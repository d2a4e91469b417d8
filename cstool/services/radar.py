"""The agent radar (``ctx.radar``): per agent of a shop, the period's service figures
(today by default) beside the figures a supervisor coaches with.

* the metrics' figures of the agent in the shop (``metrics_report --by agent``): chats,
  FRT, 3-minute and 30-second rates, CSAT, inquiry conversion, attributed sales, and the
  **attach rate** (连带销售率): attributed orders of more than one item / attributed
  orders;
* **complaint rate**: of the chats they held (a leg of theirs) created in the period,
  those that became complaints — the chat carries a label 投诉 (or one starting with
  投诉, e.g. 投诉-物流) or a ticket of type ``complaint`` was raised from it;
* **QA score**: the mean 质检 score of the chats they are the chat agent of
  (``cstool.qa.figures``), and **training hints**: the rules they break most.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ..errors import NotFound
from ..storage.repos.qa import Quality
from .context import ServiceContext
from .metrics import period, zone_of

FIGURES = ("conversations", "first_response_avg_s", "response_rate", "answer_rate", "csat",
           "inquiry_conversion", "attributed_orders", "multi_item_orders", "attach_rate",
           "attributed_sales")


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


class RadarService:
    """The agent radar of one shop."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def radar(self, shop: str, since: str | int | None = None, until: str | int | None = None,
              *, agent: str | None = None, zone: str | None = None) -> list[dict]:
        """One row per agent of ``shop`` (or the one named) over the chats created in
        ``[since, until)``; ``since`` defaults to the start of today in ``zone``."""
        z = zone_of(zone)
        if since is None or since == "":
            now = datetime.fromtimestamp(self.ctx.now() / 1000, tz=UTC).astimezone(z)
            since = int(now.replace(hour=0, minute=0, second=0, microsecond=0)
                        .timestamp() * 1000)
        report = self.ctx.metrics.report(shop, since, until, "agent", z)
        self.ctx.qa.catch_up()
        lo, hi = period(since, until, z)
        with self.ctx.read() as uow:
            s = uow.shops.by_key(shop)
            q = uow.repo(Quality)
            if agent is not None:
                a = uow.agents.by_handle(agent)
                if not uow.agents.in_shop(a["id"], s["id"]):
                    raise NotFound(f"agent {agent!r} does not work for shop {shop!r}",
                                   key="radar_no_agent", agent=agent, shop=shop)
            complaints = q.complaint_chats(s["id"], lo, hi)
            handles = q.agent_handles()
            ids = {h: i for i, h in handles.items()}
        rows = []
        for r in report["rows"]:
            if agent is not None and r["agent"] != agent:
                continue
            aid = ids.get(r["agent"])
            held, bad = complaints.get(aid, (0, 0))
            qa = self.ctx.qa.agent_figures(aid, lo, hi, shop_id=s["id"])
            rows.append({"agent": r["agent"], "name": r["name"], "status": r["status"],
                         **{k: r.get(k) for k in FIGURES},
                         "complaints": bad, "complaint_rate": _rate(bad, held),
                         "qa_chats": qa["chats"], "qa_score": qa["qa_score"],
                         "qa_findings": qa["findings"], "by_rule": qa["by_rule"],
                         "hints": qa["hints"], "from": report["from"], "to": report["to"]})
        return rows
