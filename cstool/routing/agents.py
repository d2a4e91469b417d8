"""Agent state records and the incrementally maintained pool index.

:class:`RoutingState` holds one shop's agents. Build it once from the agent
list, then keep it current with :meth:`RoutingState.assign`,
:meth:`RoutingState.release`, :meth:`RoutingState.set_status` and
:meth:`RoutingState.upsert_agent`. For every pool (a resolved target such as
``{"group": "logistics"}``) it keeps, on first use, the members and per-strategy
structures: a heap keyed by load for least_load, a heap keyed by idle time for
longest_idle, and a sorted list of available handles for round_robin. A change
to one agent touches only the pools that agent is in, so a routing decision
costs O(log pool) instead of a scan over every agent.

Availability: only ``online`` agents with ``active < max_chats`` take a chat.
``busy`` means the agent marked themselves busy: no new chats.

"Idle since" used by the strategies is ``max(idle_since_ms, last_assigned_ms)``:
when an agent has no chat it is the moment they became free (or came online);
when they have chats it is their last assignment, i.e. how long they have gone
without a new chat.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from typing import Any

from cstool.routing.rules import target_key

__all__ = [
    "STATUSES",
    "AgentState",
    "RoundRobinState",
    "RoutingState",
    "agent_in_pool",
    "not_in_pool_reason",
    "unavailable_reason",
]

STATUSES = ("online", "busy", "away", "offline")


@dataclass(slots=True)
class AgentState:
    """What routing needs to know about one agent of the shop.

    ``active`` is the number of chats they have now; ``idle_since_ms`` is when
    that count last dropped to 0 or they came online. ``revision`` is bumped by
    :class:`RoutingState` on every change (it invalidates stale index entries).
    """

    handle: str
    status: str = "offline"
    max_chats: int = 5
    active: int = 0
    level: str = "junior"
    skills: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    last_assigned_ms: int = 0
    idle_since_ms: int = 0
    name: str = ""
    revision: int = field(default=0, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.handle, str) or not self.handle:
            raise ValueError("agent: handle: required")
        if self.status not in STATUSES:
            raise ValueError(f"agent {self.handle!r}: status: must be one of "
                             f"{', '.join(STATUSES)}, got {self.status!r}")
        if isinstance(self.max_chats, bool) or not isinstance(self.max_chats, int) \
                or self.max_chats < 0:
            raise ValueError(f"agent {self.handle!r}: max_chats: must be a whole number >= 0")
        if isinstance(self.active, bool) or not isinstance(self.active, int) or self.active < 0:
            raise ValueError(f"agent {self.handle!r}: active: must be a whole number >= 0")
        self.skills = frozenset(self.skills)
        self.groups = frozenset(self.groups)

    @property
    def available(self) -> bool:
        """True when the agent can take one more chat now."""
        return self.status == "online" and self.active < self.max_chats

    @property
    def waiting_since_ms(self) -> int:
        """When the agent last became free or last got a chat, whichever is later."""
        return max(self.idle_since_ms, self.last_assigned_ms)

    @property
    def display(self) -> str:
        """``name (handle)`` or just the handle."""
        return f"{self.name} ({self.handle})" if self.name and self.name != self.handle \
            else self.handle

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AgentState:
        """Build from plain data; keys the engine does not use are ignored."""
        known = ("handle", "status", "max_chats", "active", "level", "skills", "groups",
                 "last_assigned_ms", "idle_since_ms", "name")
        values = {k: data[k] for k in known if k in data and data[k] is not None}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for storage or JSON (skills and groups as sorted lists)."""
        return {"handle": self.handle, "name": self.name, "status": self.status,
                "max_chats": self.max_chats, "active": self.active, "level": self.level,
                "skills": sorted(self.skills), "groups": sorted(self.groups),
                "last_assigned_ms": self.last_assigned_ms, "idle_since_ms": self.idle_since_ms}

    def copy(self) -> AgentState:
        """An independent copy."""
        twin = AgentState(self.handle, self.status, self.max_chats, self.active, self.level,
                          self.skills, self.groups, self.last_assigned_ms, self.idle_since_ms,
                          self.name)
        twin.revision = self.revision
        return twin


def _as_agent(agent: AgentState | Mapping[str, Any]) -> AgentState:
    if isinstance(agent, AgentState):
        return agent.copy()
    return AgentState.from_dict(agent)


# --------------------------------------------------------------------------- pool membership

def agent_in_pool(agent: AgentState, target: Mapping[str, Any]) -> bool:
    """True when the agent belongs to the (resolved) target's pool (``except``: an agent
    left out, the one who transferred the chat into the pool)."""
    if target.get("except") == agent.handle:
        return False
    if target.get("shop"):
        return True
    if "agent" in target:
        return agent.handle == target["agent"]
    group = target.get("group")
    if group is not None and group not in agent.groups:
        return False
    skill = target.get("skill")
    if skill is not None and skill not in agent.skills:
        return False
    level = target.get("level")
    if level is not None:
        return agent.level == level if isinstance(level, str) else agent.level in level
    return True


def not_in_pool_reason(agent: AgentState, target: Mapping[str, Any]) -> str | None:
    """Why the agent is not in the target's pool, or None when they are."""
    if target.get("except") == agent.handle:
        return "handed this chat over"
    if target.get("shop"):
        return None
    if "agent" in target:
        return None if agent.handle == target["agent"] else f"not {target['agent']}"
    group = target.get("group")
    if group is not None and group not in agent.groups:
        return f"not in group {group}"
    skill = target.get("skill")
    if skill is not None and skill not in agent.skills:
        return f"lacks skill {skill}"
    level = target.get("level")
    if level is not None:
        levels = (level,) if isinstance(level, str) else tuple(level)
        if agent.level not in levels:
            return f"level {agent.level}, pool wants {' or '.join(levels)}"
    return None


def unavailable_reason(agent: AgentState) -> str | None:
    """Why the agent cannot take a chat now (offline, away, busy, at capacity), or None."""
    if agent.status == "offline":
        return "offline"
    if agent.status == "away":
        return "away"
    if agent.status == "busy":
        return "busy (takes no new chats)"
    if agent.active >= agent.max_chats:
        return f"at capacity {agent.active}/{agent.max_chats}"
    return None


# --------------------------------------------------------------------------- round robin

class RoundRobinState:
    """Where each pool's rotation stands: the last handle given a chat per pool key.

    The caller keeps one per shop and persists it (``to_dict``/``from_dict``);
    ``route`` advances it when it assigns by round_robin, so pass a ``copy()``
    for dry runs.
    """

    __slots__ = ("last",)

    def __init__(self, last: Mapping[str, str] | None = None) -> None:
        self.last: dict[str, str] = dict(last or {})

    def advance(self, pool_key: str, handle: str) -> None:
        """Record that ``handle`` was the last agent of ``pool_key`` to get a chat."""
        self.last[pool_key] = handle

    def to_dict(self) -> dict[str, Any]:
        """Plain data to persist."""
        return {"last": dict(self.last)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> RoundRobinState:
        """Rebuild from ``to_dict`` output (``None`` gives a fresh state)."""
        return cls((data or {}).get("last"))

    def copy(self) -> RoundRobinState:
        """An independent copy (for dry runs)."""
        return RoundRobinState(self.last)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RoundRobinState) and other.last == self.last

    def __repr__(self) -> str:
        return f"RoundRobinState({self.last!r})"


# --------------------------------------------------------------------------- the pool index

class _Pool:
    __slots__ = ("key", "target", "members", "least_load", "longest_idle", "rotation")

    def __init__(self, key: str, target: Mapping[str, Any]) -> None:
        self.key = key
        self.target = dict(target)
        self.members: set[str] = set()
        self.least_load: list[tuple[float, int, str, int]] | None = None
        self.longest_idle: list[tuple[int, str, int]] | None = None
        self.rotation: list[str] | None = None


def _load_entry(a: AgentState) -> tuple[float, int, str, int]:
    load = a.active / a.max_chats if a.max_chats else float("inf")
    return (load, max(a.idle_since_ms, a.last_assigned_ms), a.handle,
            a.revision)


def _idle_entry(a: AgentState) -> tuple[int, str, int]:
    return (max(a.idle_since_ms, a.last_assigned_ms), a.handle, a.revision)


class RoutingState:
    """One shop's agents plus per-pool indexes kept current on every change.

    Agents are copied in; read them with :meth:`agent` / :meth:`agents` and
    change them only through this object's methods.
    """

    def __init__(self, agents: Iterable[AgentState | Mapping[str, Any]] = ()) -> None:
        self._agents: dict[str, AgentState] = {}
        self._pools: dict[str, _Pool] = {}
        self._agent_pools: dict[str, list[_Pool]] = {}
        # One counter for all revisions, so an entry filed for a removed agent can
        # never look current for a later agent with the same handle.
        self._revision = 0
        # storage row ids by handle, when whoever built the state knows them
        self.ids: dict[str, int] = {}
        for agent in agents:
            record = _as_agent(agent)
            if record.handle in self._agents:
                raise ValueError(f"agent {record.handle!r}: listed twice")
            self._revision += 1
            record.revision = self._revision
            self._agents[record.handle] = record
            self._agent_pools[record.handle] = []

    # -- reading ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._agents)

    def __contains__(self, handle: object) -> bool:
        return handle in self._agents

    def agent(self, handle: str) -> AgentState | None:
        """The agent's current record (do not modify it), or None."""
        return self._agents.get(handle)

    def handles(self) -> list[str]:
        """Every handle, sorted."""
        return sorted(self._agents)

    def agents(self) -> list[AgentState]:
        """Copies of every agent, sorted by handle."""
        return [self._agents[h].copy() for h in sorted(self._agents)]

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every agent as plain data, sorted by handle (what storage persists)."""
        return [self._agents[h].to_dict() for h in sorted(self._agents)]

    def is_available(self, handle: str) -> bool:
        """True when the agent exists and can take a chat now."""
        agent = self._agents.get(handle)
        return agent is not None and agent.available

    def members(self, target: Mapping[str, Any]) -> list[str]:
        """Handles in the (resolved) target's pool, sorted."""
        return sorted(self._pool(target_key(target), target).members)

    def prepare(self, pools: Iterable[tuple[Mapping[str, Any], str]]) -> None:
        """Build pools and their strategy structures now rather than on first use,
        e.g. ``state.prepare(ruleset.static_pools())``."""
        for target, strategy in pools:
            if "agent" in target:
                continue
            pool = self._pool(target_key(target), target)
            if strategy in ("least_load", "sticky") and pool.least_load is None:
                self._least_load_heap(pool)
            elif strategy == "longest_idle" and pool.longest_idle is None:
                self._longest_idle_heap(pool)
            elif strategy == "round_robin" and pool.rotation is None:
                self._rotation(pool)

    # -- changes ---------------------------------------------------------------

    def assign(self, handle: str, now_ms: int) -> None:
        """Give the agent one more chat. Raises ``ValueError`` if they cannot take it."""
        agent = self._require(handle)
        reason = unavailable_reason(agent)
        if reason is not None:
            raise ValueError(f"agent {handle!r} cannot take a chat: {reason}")
        agent.active += 1
        agent.last_assigned_ms = now_ms
        self._touch(agent, True)

    def release(self, handle: str, now_ms: int) -> None:
        """One of the agent's chats ended (closed, transferred away or re-queued)."""
        agent = self._require(handle)
        if agent.active <= 0:
            raise ValueError(f"agent {handle!r} has no chat to release")
        was = agent.available
        agent.active -= 1
        if agent.active == 0:
            agent.idle_since_ms = now_ms
        self._touch(agent, was)

    def set_status(self, handle: str, status: str, now_ms: int) -> None:
        """Change the agent's status; coming online starts their idle time if they are free.

        Going offline does not change ``active``: the caller re-queues the
        agent's chats and calls :meth:`release` for each.
        """
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
        agent = self._require(handle)
        if agent.status == status:
            return
        was = agent.available
        if status == "online" and agent.active == 0:
            agent.idle_since_ms = now_ms
        agent.status = status
        self._touch(agent, was)

    def set_active(self, handle: str, active: int, now_ms: int) -> None:
        """Set the agent's chat count directly (e.g. after re-reading storage)."""
        agent = self._require(handle)
        if isinstance(active, bool) or not isinstance(active, int) or active < 0:
            raise ValueError("active must be a whole number >= 0")
        was = agent.available
        if active == 0 and agent.active > 0:
            agent.idle_since_ms = now_ms
        agent.active = active
        self._touch(agent, was)

    def upsert_agent(self, agent: AgentState | Mapping[str, Any]) -> None:
        """Add an agent or replace one (groups, skills, level, capacity may change)."""
        record = _as_agent(agent)
        old = self._agents.get(record.handle)
        if old is not None:
            for pool in self._agent_pools[record.handle]:
                pool.members.discard(record.handle)
                self._drop_from_rotation(pool, record.handle)
        self._agents[record.handle] = record
        pools: list[_Pool] = []
        self._agent_pools[record.handle] = pools
        for pool in self._pools.values():
            if agent_in_pool(record, pool.target):
                pool.members.add(record.handle)
                pools.append(pool)
        self._touch(record, False)

    def remove_agent(self, handle: str) -> None:
        """Take an agent out of the shop (their index entries become stale)."""
        self._require(handle)
        for pool in self._agent_pools.pop(handle):
            pool.members.discard(handle)
            self._drop_from_rotation(pool, handle)
        del self._agents[handle]

    # -- choosing (used by the engine) ----------------------------------------------

    def pool_size(self, target: Mapping[str, Any], key: str | None = None) -> int:
        """Number of agents in the target's pool, whatever their status."""
        if "agent" in target:
            return 1 if target["agent"] in self._agents else 0
        return len(self._pool(key or target_key(target), target).members)

    def choose(self, target: Mapping[str, Any], key: str, strategy: str,
               rr_state: RoundRobinState | None, last_agent: Any = None) -> str | None:
        """The handle the strategy picks among available agents of the pool, or None.

        Reads only; the caller assigns. ``key`` is ``target_key(target)``.
        """
        if "agent" in target:
            agent = self._agents.get(target["agent"])
            return agent.handle if agent is not None and agent.available else None
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pool(key, target)
        if strategy == "least_load":
            return self._top_least_load(pool)
        if strategy == "longest_idle":
            return self._top_longest_idle(pool)
        if strategy == "round_robin":
            rotation = pool.rotation
            if rotation is None:
                rotation = self._rotation(pool)
            if not rotation:
                return None
            last = rr_state.last.get(key) if rr_state is not None else None
            i = bisect_right(rotation, last) if last is not None else 0
            return rotation[i] if i < len(rotation) else rotation[0]
        if strategy == "sticky":
            if isinstance(last_agent, str) and last_agent in pool.members:
                agent = self._agents[last_agent]
                if agent.available:
                    return last_agent
            return self._top_least_load(pool)
        raise ValueError(f"unknown strategy {strategy!r}")

    def rank_key(self, handle: str, strategy: str) -> tuple[Any, ...]:
        """Sort key of an agent under a strategy (lower is picked first)."""
        agent = self._agents[handle]
        if strategy == "longest_idle":
            return _idle_entry(agent)[:2]
        return _load_entry(agent)[:3]

    # -- internals -------------------------------------------------------------

    def _require(self, handle: str) -> AgentState:
        agent = self._agents.get(handle)
        if agent is None:
            raise ValueError(f"unknown agent {handle!r}")
        return agent

    def _pool(self, key: str, target: Mapping[str, Any]) -> _Pool:
        pool = self._pools.get(key)
        if pool is None:
            pool = _Pool(key, target)
            for handle, agent in self._agents.items():
                if agent_in_pool(agent, target):
                    pool.members.add(handle)
                    self._agent_pools[handle].append(pool)
            self._pools[key] = pool
        return pool

    def _least_load_heap(self, pool: _Pool) -> list[tuple[float, int, str, int]]:
        agents = self._agents
        heap = [_load_entry(agents[h]) for h in pool.members if agents[h].available]
        heapify(heap)
        pool.least_load = heap
        return heap

    def _longest_idle_heap(self, pool: _Pool) -> list[tuple[int, str, int]]:
        agents = self._agents
        heap = [_idle_entry(agents[h]) for h in pool.members if agents[h].available]
        heapify(heap)
        pool.longest_idle = heap
        return heap

    def _rotation(self, pool: _Pool) -> list[str]:
        agents = self._agents
        pool.rotation = sorted(h for h in pool.members if agents[h].available)
        return pool.rotation

    def _top_least_load(self, pool: _Pool) -> str | None:
        heap = pool.least_load
        if heap is None:
            heap = self._least_load_heap(pool)
        agents = self._agents
        while heap:
            _, _, handle, revision = heap[0]
            agent = agents.get(handle)
            # Entries are pushed only while the agent is available and die with
            # the next change, so a current entry means "available now".
            if agent is not None and agent.revision == revision:
                return handle
            heappop(heap)
        return None

    def _top_longest_idle(self, pool: _Pool) -> str | None:
        heap = pool.longest_idle
        if heap is None:
            heap = self._longest_idle_heap(pool)
        agents = self._agents
        while heap:
            _, handle, revision = heap[0]
            agent = agents.get(handle)
            if agent is not None and agent.revision == revision:
                return handle
            heappop(heap)
        return None

    def _drop_from_rotation(self, pool: _Pool, handle: str) -> None:
        rotation = pool.rotation
        if rotation is not None:
            i = bisect_left(rotation, handle)
            if i < len(rotation) and rotation[i] == handle:
                del rotation[i]

    def _touch(self, agent: AgentState, was_available: bool) -> None:
        """Re-file a changed agent in every pool structure it belongs to."""
        self._revision += 1
        agent.revision = self._revision
        available = agent.available
        handle = agent.handle
        load = idle = None
        for pool in self._agent_pools[handle]:
            if available:
                heap = pool.least_load
                if heap is not None:
                    if load is None:
                        load = _load_entry(agent)
                    heappush(heap, load)
                    if len(heap) > 3 * len(pool.members) + 64:
                        self._least_load_heap(pool)  # drop stale entries
                heap2 = pool.longest_idle
                if heap2 is not None:
                    if idle is None:
                        idle = _idle_entry(agent)
                    heappush(heap2, idle)
                    if len(heap2) > 3 * len(pool.members) + 64:
                        self._longest_idle_heap(pool)
            rotation = pool.rotation
            if rotation is not None and available != was_available:
                if available:
                    insort(rotation, handle)
                else:
                    self._drop_from_rotation(pool, handle)
