"""Where waiting chats stand: queue places and wait estimates, and the customer told.

A chat's place counts the chats ahead of it that the same agents could be given instead
(a chat waiting for the logistics group is not behind one waiting for a VIP agent), read
from the queue's indexes (:mod:`cstool.storage.repos.queue`), never chat by chat.
"""

from __future__ import annotations

import json

from ..routing import AgentState, RoutingState, agent_in_pool, estimate_wait_s
from ..storage.repos.queue import QueueKey
from ..storage.unit_of_work import UnitOfWork
from .context import ServiceContext
from .messages import in_shop_language, system

DEFAULT_HANDLE_S = 300  # average handle time for wait estimates until history says more


def read_routing_state(uow: UnitOfWork, shop_id: int, *, staff: bool = False
                       ) -> RoutingState:
    """The shop's agents with their live load, from the file (three set queries: agents,
    open-chat counts, group memberships). Supervisors and admins are left out unless
    ``staff``: routing gives them nothing, they may pull chats."""
    rows = uow.agents.routing_rows(shop_id, staff=staff)
    # An agent's chats in other shops count against their capacity too.
    active = uow.agents.active_in_shop(shop_id)
    groups = uow.agents.groups_in_shop(shop_id)
    skills_of: dict[str, frozenset] = {}
    agents = []
    for r in rows:
        skills = skills_of.get(r[6])
        if skills is None:
            skills = skills_of[r[6]] = frozenset(json.loads(r[6]))
        agents.append(AgentState(
            handle=r[1], name=r[2], status=r[3], max_chats=r[4], level=r[5], skills=skills,
            last_assigned_ms=r[7] or 0, idle_since_ms=r[8] or 0, active=active.get(r[0], 0),
            groups=frozenset(groups.get(r[0], ())),
        ))
    state = RoutingState(agents)
    state.ids = {r[1]: r[0] for r in rows}  # handle -> row id, for the assignment
    return state


def position_text(shop: dict, position: int | None, wait: int | None) -> str:
    """The customer told their place in the queue and the wait, in the shop's language."""
    if wait is None:
        return in_shop_language(
            shop, f"当前排队第 {position} 位，客服暂时都不在线，上线后会第一时间接待您。",
            f"You are number {position} in the queue. No agent is online right now; one "
            "will be with you as soon as they are.")
    minutes = max(1, round(wait / 60))
    return in_shop_language(
        shop, f"当前排队第 {position} 位，预计等待约 {minutes} 分钟。",
        f"You are number {position} in the queue; the wait is about {minutes} "
        f"minute{'s' if minutes != 1 else ''}.")


class QueuePlacesService:
    """Queue places, waits and the pools they are computed over (``ctx.places``)."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    def pool_of(self, text: str | None) -> dict:
        """A stored pool (JSON text; None: the whole shop) decoded, once per text.
        The dict is shared: read it, do not change it."""
        cache = self.ctx.caches.pool_texts
        pool = cache.get(text)
        if pool is None:
            if len(cache) > 4096:
                cache.clear()
            pool = cache[text] = json.loads(text) if text else {"shop": True}
        return pool

    def current_state(self, uow: UnitOfWork, shop_id: int) -> RoutingState:
        """The shop's agents as a queue place reads them (pools, status, capacity; not
        their load), kept while ``desk_version`` stands: no agent, shop membership or
        group changed since, on any connection."""
        version = uow.routing.desk_version()
        cache = self.ctx.caches.place_states
        hit = cache.get(shop_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        state = read_routing_state(uow, shop_id)
        if len(cache) > 1024:
            cache.clear()
        cache[shop_id] = (version, state)
        return state

    def avg_handle_s(self, uow: UnitOfWork, shop_id: int) -> float:
        """Mean handle time of the shop's last 200 closed chats (seconds), kept until a
        chat of the shop closes here or another connection commits."""
        cache = self.ctx.caches.avg_handle
        dv = self.ctx.database.data_version()
        hit = cache.get(shop_id)
        if hit is not None and hit[0] == dv:
            return hit[1]
        ms = uow.routing.avg_handle_ms(shop_id)
        value = (ms / 1000) if ms else DEFAULT_HANDLE_S
        cache[shop_id] = (dv, value)
        return value

    def forget_avg(self, shop_id: int) -> None:
        """A chat of the shop closed: its mean handle time is read again."""
        self.ctx.caches.avg_handle.pop(shop_id, None)

    def for_read(self, uow: UnitOfWork, shop_id: int,
                 state: RoutingState | None = None) -> QueuePlaces:
        """The places of one shop's waiting chats for one read (``state``: the agents as
        read already; by default the cached ``current_state``)."""
        return QueuePlaces(self, uow, shop_id, state or self.current_state(uow, shop_id))

    def position(self, uow: UnitOfWork, shop_id: int, conv_id: int,
                 state: RoutingState | None = None) -> tuple[int | None, int | None]:
        """The chat's place among the chats ahead that the same agents could be given
        instead, and the estimated wait; (None, None) when it does not wait in the shop."""
        try:
            key, shop_of, conv_state, own = uow.queue.key_of(conv_id)
        except KeyError:
            return None, None
        if conv_state != "queued" or shop_of != shop_id:
            return None, None
        return self.for_read(uow, shop_id, state).place(key, own)

    def tell_position(self, uow: UnitOfWork, shop: dict, conv_id: int,
                      state: RoutingState) -> dict:
        """Tell the customer of a chat just queued their place and wait (a system
        notice with ``queue_position`` and ``estimated_wait_s``)."""
        position, wait = self.position(uow, shop["id"], conv_id, state)
        conv = uow.conversations.get(conv_id)
        return system(uow, conv, position_text(shop, position, wait),
                      payload={"queue_position": position, "estimated_wait_s": wait})


class QueuePlaces:
    """Queue places and wait estimates of a shop's waiting chats, for one read.

    Per pool that any agent of the chat's pool belongs to, the chats of that pool ahead,
    from the queue's band counts and a probe or two. Each distinct pool is decoded and
    compared once.
    """

    def __init__(self, service: QueuePlacesService, uow: UnitOfWork, shop_id: int,
                 state: RoutingState):
        self.service, self.uow, self.shop_id, self.state = service, uow, shop_id, state
        self.counts = uow.queue.band_counts(shop_id)
        self._mine: dict[str | None, tuple[list[AgentState], int]] = {}
        self._competes: dict[tuple[str | None, str | None], bool] = {}
        self._avg: float | None = None

    def _mine_of(self, pool: str | None) -> tuple[list[AgentState], int]:
        """The shop's agents in ``pool`` and their online capacity."""
        mine = self._mine.get(pool)
        if mine is None:
            target = self.service.pool_of(pool)
            agents = [a for a in self.state.agents() if agent_in_pool(a, target)]
            mine = self._mine[pool] = (
                agents, sum(a.max_chats for a in agents if a.status == "online"))
        return mine

    def competes(self, pool: str | None, other: str | None) -> bool:
        """True when an agent who may take chats of ``pool`` may take ``other``'s."""
        known = self._competes.get((pool, other))
        if known is None:
            target = self.service.pool_of(other)
            known = self._competes[(pool, other)] = any(
                agent_in_pool(a, target) for a in self._mine_of(pool)[0])
        return known

    def wait(self, pool: str | None, position: int) -> int | None:
        """The estimated wait of a chat of ``pool`` at ``position``."""
        if self._avg is None:
            self._avg = self.service.avg_handle_s(self.uow, self.shop_id)
        return estimate_wait_s(position, self._mine_of(pool)[1], self._avg)

    def place(self, key: QueueKey, pool: str | None) -> tuple[int, int | None]:
        """Place and wait of the waiting chat ``key`` of ``pool``."""
        ranker = self.uow.queue.ranker(self.shop_id, self.counts, key, pool, True)
        position = 1 + sum(ranker.ahead(other) for other in self.counts
                           if self.competes(pool, other))
        return position, self.wait(pool, position)

    def run(self, chats: list[tuple[QueueKey, str | None]]) -> list[tuple[int, int | None]]:
        """Places and waits of consecutive waiting chats (a page in serving order): the
        chats ahead of the first counted once per pool, then carried along the page."""
        if not chats:
            return []
        ranker = self.uow.queue.ranker(self.shop_id, self.counts, chats[0][0], chats[0][1],
                                       True)
        ahead = {other: ranker.ahead(other) for other in self.counts}
        out = []
        for _key, pool in chats:
            position = 1 + sum(n for other, n in ahead.items() if self.competes(pool, other))
            out.append((position, self.wait(pool, position)))
            ahead[pool] = ahead.get(pool, 0) + 1
        return out
