"""Service metrics of the Local backend: the operations, each a call of the metrics
service (``cstool.services.metrics``), which holds the rules; the SQL is in
``cstool.storage.repos.metrics``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..services.metrics import MetricsService, check_period

__all__ = ["MetricsOps", "check_period"]


class MetricsOps:
    """Metrics operations of the Local backend: each delegates to the metrics service
    over the backend's service context (``ctx``). Transitional: the facade can make
    ``ctx.metrics = MetricsService(ctx)`` and delegate itself, then this mixin goes."""

    @property
    def metrics_service(self) -> MetricsService:
        """The metrics service over this backend's context."""
        service = self.__dict__.get("_metrics_service")
        if service is None:
            service = self.__dict__["_metrics_service"] = MetricsService(self.ctx)
        return service

    def metrics_refresh(self) -> dict:
        """Catch the stored conversation facts up with the event log (reports do it
        first on their own); returns how many conversations were folded."""
        return self.metrics_service.refresh()

    def metrics_rebuild(self) -> dict:
        """Fold every conversation again from its messages."""
        return self.metrics_service.rebuild()

    def _metrics_current(self) -> None:
        self.metrics_service.catch_up()

    def metrics_report(self, shop: str | None = None, since: str | int | None = None,
                       until: str | int | None = None,
                       by: str | Sequence[str] | None = None,
                       zone: str | None = None) -> dict:
        """Service figures (docs/DESIGN.md §9) of the conversations created in
        ``[since, until)`` (ISO times or epoch ms; open-ended when None), of one shop or
        all, in total and grouped ``by`` shop, group, channel, hour, day (combinable) or
        agent. ``zone`` (an IANA name) is the zone of hours, days and times; None: this
        process's display zone."""
        return self.metrics_service.report(shop, since, until, by, zone)

    def agent_metrics(self, handle: str, since: str | int | None = None,
                      until: str | int | None = None, zone: str | None = None) -> dict:
        """One agent's figures over the conversations of their shops created in
        ``[since, until)``: chats, messages, rates, CSAT, conversion, attributed sales,
        online time, handle time and concurrency (times in ``zone``)."""
        return self.metrics_service.agent_report(handle, since, until, zone)
