"""What every service is built with: the storage, the clock, the bot, the caches of the
process, and the other services (see :mod:`cstool.services` for the pattern)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..storage.unit_of_work import Storage, UnitOfWork

if TYPE_CHECKING:
    from ..bot.step import BotReply, BotStep
    from ..clock import Clock
    from ..storage.database import Database


# -- what the desk asks of services it does not own --------------------------------------
class CampaignHooks(Protocol):
    """Campaigns, as the desk's post calls them (inside the post's unit of work)."""

    def command_in(self, uow: UnitOfWork, shop_id: int, text: str
                   ) -> tuple[str, dict | None] | None:
        """What a customer's message asks of campaigns (退订 / a reply code), or None."""

    def answer_command(self, uow: UnitOfWork, shop: dict, conv: dict, customer_id: int,
                       command: tuple[str, dict | None]) -> list[dict]:
        """Carry out a command found by ``command_in``; the messages sent back."""


class TicketHooks(Protocol):
    """Tickets, as the desk and the dashboard call them."""

    def reopen_since(self, now: int) -> int:
        """Tickets resolved since this instant reopen when their customer writes."""

    def reopen_on_customer_reply(self, uow: UnitOfWork, customer_id: int,
                                 shop_id: int, *, resolved: list[int] | None = None
                                 ) -> list[int]:
        """The customer wrote again: their recently resolved tickets reopen
        (``resolved``: their ids, as read already)."""

    def ticket_report(self, *, shop: str | None = None, since: int | None = None,
                      until: int | None = None) -> list[dict]:
        """SLA figures of tickets (the Backend operation)."""


class KnowledgeHooks(Protocol):
    """The knowledge service, as the desk's bot step calls it."""

    def bot_turn(self, uow: UnitOfWork, shop: dict, conv: dict, customer_id: int,
                 text: str) -> BotReply:
        """Ask the bot (with the chat's memory); record what it could not answer."""


class MetricsHooks(Protocol):
    """Metrics, as the dashboard calls them."""

    def catch_up(self) -> None:
        """Fold the events not yet folded into the stored conversation facts."""


@dataclass(eq=False)
class Caches:
    """Caches of this process shared by services; each says what keeps it valid.

    - ``post_shops``: shop rows (and a shop's reply codes, key ``("codes", shop_id)``)
      from post to post, valid while ``post_chain`` matches (see ``DeskService``).
    - ``snapshots``: per shop, routing's agents, rules and round-robin state between our
      own posts (``dv``: PRAGMA data_version; ``gen``: ``Database.generation``).
    - ``pool_texts``: stored pool JSON decoded, by its text (immutable values).
    - ``place_states``: per shop, the agents as queue places read them, by desk version.
    - ``avg_handle``: per shop, mean handle time by data_version.
    """

    post_shops: dict = field(default_factory=dict)
    post_chain: tuple | None = None
    snapshots: dict = field(default_factory=dict)
    pool_texts: dict = field(default_factory=dict)
    place_states: dict = field(default_factory=dict)
    avg_handle: dict = field(default_factory=dict)


class ServiceContext:
    """The storage, clock, bot and caches, and every service by name.

    The facade makes the context, then each service with it, and sets the services here
    (``ctx.desk = DeskService(ctx)`` ...), so that a service reaches another as
    ``self.ctx.tickets`` at call time.
    """

    desk: Any
    console: Any
    dashboard: Any
    worker: Any
    records: Any
    labels: Any
    files: Any
    order_events: Any
    erasure: Any
    macros: Any
    follow_ups: Any
    presence: Any
    qa: Any
    radar: Any
    orders: Any
    staffing: Any
    tokens: Any
    campaigns: CampaignHooks
    tickets: TicketHooks
    webhooks: Any
    knowledge: KnowledgeHooks
    metrics: MetricsHooks

    def __init__(self, database: Database, clock: Clock, bot: BotStep,
                 on_access_moved: Callable[[], None] | None = None):
        self.database = database
        self.bot = bot
        self.storage = Storage(database, clock, on_access_moved)
        self.caches = Caches()

    @property
    def clock(self) -> Clock:
        """The clock every unit of work reads its ``now`` from."""
        return self.storage.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.storage.clock = clock

    def now(self) -> int:
        """The clock's time in ms (outside a unit of work; inside, use ``uow.now``)."""
        return self.clock.now_ms()

    def write(self) -> AbstractContextManager[UnitOfWork]:
        """One write transaction as a unit of work (see ``Storage.write``)."""
        return self.storage.write()

    def read(self) -> AbstractContextManager[UnitOfWork]:
        """One read snapshot as a unit of work."""
        return self.storage.read()
