"""A simulated day as timelines: the shops and agents read from the file, and the
conversations (their messages, notices and status) and orders the simulation makes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import Conflict, NotFound
from ..storage.connection import Connection
from ..storage.repos import simulated_days as repo
from .day_tables import HOUR, MINUTE


@dataclass
class _Agent:
    id: int
    handle: str
    name: str
    max_chats: int
    pool: str
    index: int
    night: bool = False
    intervals: list[tuple[int, int]] = field(default_factory=list)

    def next_online(self, t: int) -> int | None:
        for s, e in self.intervals:
            if t < e:
                return max(s, t)
        return None


@dataclass
class _Shop:
    id: int
    key: str
    mode: dict
    idle_ms: int
    groups: dict[str, str]
    agents: list[_Agent]
    customers: list[tuple[int, str]]
    products: list[tuple[int, str, str, int]]


def _world(conn: Connection, keys: tuple[str, ...]) -> list[_Shop]:
    shops = []
    rows = repo.shops(conn)
    known = {r[1] for r in rows}
    for k in keys:
        if k not in known:
            raise NotFound(f"no shop {k!r}", key="no_shop", shop=k)
    for sid, key, mode, off, hours, tz, settings in rows:
        if keys and key not in keys:
            continue
        groups: dict[str, str] = {}
        for gkey, kind in repo.group_kinds(conn, sid):
            groups.setdefault(kind, gkey)
        agents = []
        for i, (aid, handle, name, cap) in enumerate(repo.shop_agents(conn, sid)):
            kinds = repo.agent_group_kinds(conn, aid, sid)
            kind = kinds[0] if kinds else "presale"
            pool = kind if kind in ("logistics", "aftersale", "presale") else "presale"
            agents.append(_Agent(aid, handle, name, cap, pool, i,
                                 night=all(a.pool != pool for a in agents)))
        customers = repo.shop_customers(conn, sid)
        products = repo.products_on_sale(conn, sid)
        settings_d = json.loads(settings) if settings else {}
        shops.append(_Shop(
            sid, key, {"service_mode": mode, "off_hours_mode": off,
                       "business_hours": json.loads(hours) if hours else None, "timezone": tz},
            int(settings_d.get("idle_close_min", 30)) * MINUTE, groups, agents,
            customers, products))
    usable = [s for s in shops if s.customers]
    if not usable:
        raise Conflict("no shop with customers to generate conversations for; "
                       "run `cstool fixtures generate` first", key="promo_no_customers")
    return usable


@dataclass
class SimConversation:
    """One conversation: its fixed fields and its timeline of steps.

    A step is ``(at, sender, agent_id, kind, body, payload, event, event_payload,
    changes)``: a message when ``sender`` is set (with its ``message.created`` event), an
    event of type ``event`` (before the message), and ``changes`` to the conversation row.
    """

    shop_id: int
    customer_id: int
    customer_key: str
    channel: str
    intent: str
    created_at: int
    entry_page: str | None
    source: str
    product_key: str | None
    steps: list[tuple] = field(default_factory=list)
    db_id: int | None = None

    @property
    def last_at(self) -> int:
        """The time of its last step."""
        return self.steps[-1][0]


@dataclass
class SimOrder:
    """An order that followed a chat."""

    key: str
    shop_id: int
    customer_id: int
    product_id: int
    price: int
    quantity: int
    created_at: int
    paid_at: int | None
    db_id: int | None = None


@dataclass
class Day:
    """A simulated day (or two): conversations by creation time, orders, status changes."""

    conversations: list[SimConversation]
    orders: list[SimOrder]
    statuses: list[tuple[int, int, str, str, str]]  # (at, agent_id, handle, from, to)
    start: int
    end: int
    dropped: int = 0

    def volumes(self, start: int) -> list[int]:
        """Conversations per hour of the day starting at ``start``."""
        out = [0] * 24
        for c in self.conversations:
            h = (c.created_at - start) // HOUR
            if 0 <= h < 24:
                out[h] += 1
        return out

