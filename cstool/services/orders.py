"""The orders service: what a person (an agent, a supervisor) or the bot may do to an
order, within the guards of :mod:`cstool.order_rules`: cancel an unpaid order; change
the receiver, phone or address of an order not yet shipped.

Each change is one unit of work with its event (``order.updated``, the fields changed,
who did it: an agent's handle, or ``bot`` with the conversation it acted in). The bot
acts through the same ``*_in`` methods inside its turn's unit of work, for the customer
of the chat only (an order of anyone else is "not found").
"""

from __future__ import annotations

from typing import Any

from .. import order_rules
from ..errors import Conflict, NotFound, UsageError
from ..resources import KINDS
from ..storage.records import strip_ids
from ..storage.repos.tickets import Tickets
from ..storage.unit_of_work import UnitOfWork
from ..text_rules import check_text
from ..validation import to_external
from .context import ServiceContext

BOT = "bot"


class OrdersService:
    """Order changes with their guards (``ctx.orders``)."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    # -- lookups -----------------------------------------------------------------------
    def _order(self, uow: UnitOfWork, key: str, customer_id: int | None = None) -> dict:
        """The order's internal record; NotFound for no such order, or (``customer_id``:
        the bot acting for a customer) an order of someone else."""
        rec = uow.records.read("orders", key) if isinstance(key, str) else None
        if rec is not None and customer_id is not None \
                and uow.records.id_of("customers", rec["customer"]) != customer_id:
            rec = None
        if rec is None:
            raise NotFound(f"no order {key!r}", key="no_record", kind="order", record=str(key))
        return rec

    def _actor(self, uow: UnitOfWork, by: str | None, rec: dict) -> str | None:
        """``by`` checked: an agent who works for the order's shop (admins for all)."""
        if by is None:
            return None
        agent = uow.agents.by_handle(by)
        if not uow.repo(Tickets).works_for_shop(agent["id"], uow.records.id_of("shops",
                                                                               rec["shop"])):
            raise Conflict(f"agent {by!r} does not work for shop {rec['shop']!r}",
                           key="agent_not_in_shop", agent=by, shop=rec["shop"])
        return by

    def _save(self, uow: UnitOfWork, rec: dict, payload: dict) -> dict:
        store = uow.records
        store.write("orders", rec, uow.now)
        shop_id = store.id_of("shops", rec["shop"])
        self.ctx.routing.refresh_classification(
            uow, store.id_of("customers", rec["customer"]), shop_id)
        uow.event("order.updated", "order", rec["key"], shop_id, payload)
        return to_external(KINDS["orders"], strip_ids(store.read("orders", rec["key"])))

    # -- cancel ------------------------------------------------------------------------
    def cancel_order(self, key: str, *, by: str | None = None,
                     reason: str | None = None) -> dict:
        """Cancel an order that is not paid yet (Conflict ``order_not_cancellable``
        otherwise: a paid order is refunded through an after-sale ticket)."""
        check_text(reason or "", "reason")
        with self.ctx.write() as uow:
            rec = self._order(uow, key)
            actor = self._actor(uow, by, rec)
            return self.cancel_in(uow, rec, by=actor, reason=reason)

    def cancel_in(self, uow: UnitOfWork, rec: dict, *, by: str | None,
                  reason: str | None = None, conversation: int | None = None) -> dict:
        """Cancel ``rec`` (an order's internal record) in the caller's unit of work."""
        order_rules.check_cancel(rec["key"], rec["status"])
        before = rec["status"]
        rec = {**rec, "status": "cancelled"}
        payload: dict[str, Any] = {"fields": ["status"], "action": "cancel", "from": before,
                                   "to": "cancelled", "by": by}
        if reason:
            payload["reason"] = reason[:200]
        if conversation is not None:
            payload["conversation"] = conversation
        return self._save(uow, rec, payload)

    # -- where it goes ------------------------------------------------------------------
    def change_order_address(self, key: str, *, address: str | None = None,
                             phone: str | None = None, receiver: str | None = None,
                             by: str | None = None) -> dict:
        """Change where an order goes (its address, phone, receiver) before it ships
        (Conflict ``order_address_fixed`` once it has)."""
        changes = self.address_changes(address=address, phone=phone, receiver=receiver)
        with self.ctx.write() as uow:
            rec = self._order(uow, key)
            actor = self._actor(uow, by, rec)
            return self.readdress_in(uow, rec, changes, by=actor)

    @staticmethod
    def address_changes(*, address: str | None = None, phone: str | None = None,
                        receiver: str | None = None) -> dict:
        """The fields given, checked and in their stored form (UsageError for none)."""
        changes: dict[str, str] = {}
        if address is not None:
            check_text(address, "address")
            changes["address"] = order_rules.normal_text(address, "address",
                                                         order_rules.ADDRESS_MAX)
        if phone is not None:
            changes["phone"] = order_rules.normal_phone(phone)
        if receiver is not None:
            check_text(receiver, "receiver")
            changes["receiver"] = order_rules.normal_text(receiver, "receiver",
                                                          order_rules.RECEIVER_MAX)
        if not changes:
            raise UsageError("give --address, --phone or --receiver", key="order_address_nothing")
        return changes

    def readdress_in(self, uow: UnitOfWork, rec: dict, changes: dict, *, by: str | None,
                     conversation: int | None = None) -> dict:
        """Change ``rec``'s receiver / phone / address in the caller's unit of work."""
        order_rules.check_address_change(rec["key"], rec["status"])
        fields = sorted(f for f, v in changes.items() if rec.get(f) != v)
        payload: dict[str, Any] = {"fields": fields, "action": "address", "by": by}
        if conversation is not None:
            payload["conversation"] = conversation
        if not fields:
            return to_external(KINDS["orders"], strip_ids(rec))
        return self._save(uow, {**rec, **changes}, payload)

    # -- the bot, for the customer of a chat ----------------------------------------------
    def order_for(self, uow: UnitOfWork, key: str, customer_id: int) -> dict:
        """The order ``key`` if it is this customer's (NotFound otherwise)."""
        return self._order(uow, key, customer_id)
