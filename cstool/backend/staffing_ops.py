"""Staffing operations of the Local backend, each a call of the staffing service
(``cstool.services.staffing``; its SQL in ``cstool.storage.repos.staffing``)."""

from __future__ import annotations

from ..services.staffing import StaffingService


class StaffingOps:
    """Staffing reads of the Local backend (mixed into LocalBackend; needs ``ctx``).
    Transitional: the facade can make ``ctx.staffing = StaffingService(ctx)`` and
    delegate itself, then this mixin goes."""

    @property
    def staffing_service(self) -> StaffingService:
        """The staffing service over this backend's context."""
        service = self.__dict__.get("_staffing_service")
        if service is None:
            service = self.__dict__["_staffing_service"] = StaffingService(self.ctx)
        return service

    def arrivals(self, shop: str, since: int, until: int, bucket_min: int = 30, *,
                 desk_only: bool = False) -> dict:
        """Conversations the shop received in [since, until) per ``bucket_min``-minute
        bucket of the shop's local clock (see ``StaffingService.arrivals``)."""
        return self.staffing_service.arrivals(shop, since, until, bucket_min,
                                              desk_only=desk_only)

    def desk_profile(self, shop: str, since: int, until: int) -> dict:
        """How the shop's desk handles chats (see ``StaffingService.desk_profile``)."""
        return self.staffing_service.desk_profile(shop, since, until)
