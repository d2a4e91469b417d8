"""The unit of work: one transaction, its instant, its events and its repositories.

Services never open transactions or write SQL themselves: they ask the storage for a
unit of work and hand it down to whatever else the operation needs (another service,
a repository)::

    with storage.write() as uow:          # BEGIN IMMEDIATE ... COMMIT (or ROLLBACK)
        conv = uow.conversations.get(conv_id)
        uow.event("conversation.closed", "conversation", str(conv_id), conv["shop_id"])

``uow.now`` is the operation's instant in ms, read once from the injected clock when
the transaction begins: every row and event the operation writes carries the same
time. ``uow.event`` writes through :func:`~cstool.storage.events.append_events` (the
event log's one writer); when an event may change who may do what, the access epoch
moves once the transaction has committed (a rolled back change moves nothing).

Repositories (``cstool.storage.repos``) are small classes over the connection, made
on first use and kept for the transaction: ``uow.shops``, ``uow.agents``,
``uow.customers``, ``uow.conversations``, ``uow.messages``, ``uow.queue``,
``uow.routing``, ``uow.records``; any other with ``uow.repo(SomeRepo)``.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import NeedsWriteLock
from .events import EventRow, append_events
from .records import RecordStore
from .repos.agents import Agents
from .repos.conversations import Conversations
from .repos.customers import Customers
from .repos.messages import Messages
from .repos.queue import Queue
from .repos.routing import Routing
from .repos.shops import Shops

if TYPE_CHECKING:
    from ..clock import Clock
    from .database import Database

R = TypeVar("R")


class UnitOfWork:
    """One transaction: the connection, the instant, the event writer, the repositories.

    ``on_access_moved`` is called when an access-moving event is written, at once;
    without it (the usual case, :meth:`Storage.write`) the unit only notes it and the
    storage moves the epoch after the commit.
    """

    def __init__(self, conn: sqlite3.Connection, now: int, *, writable: bool = True,
                 on_access_moved: Callable[[], None] | None = None):
        self.conn = conn
        self.now = now
        self.writable = writable
        self.moved_access = False
        self._on_access_moved = on_access_moved
        self._repos: dict[type, Any] = {}

    # -- the event log ------------------------------------------------------------------
    def event(self, type_: str, entity: str | None, key: str | None, shop_id: int | None,
              payload: dict | str | None = None) -> int | None:
        """Record one event of this transaction (at ``now``); returns its id when the
        engine knows it at once (SQLite; PostgreSQL sends the row with the transaction's
        next statement and returns None)."""
        written = append_events(self.conn, EventRow(self.now, shop_id, type_, entity, key,
                                                    payload))
        if written.moves_access:
            self.moved_access = True
            if self._on_access_moved is not None:
                self._on_access_moved()
        return written.last_id

    def events(self, rows: list[EventRow]) -> None:
        """Record several events of this transaction in one batch (each with its own
        ``at``: a pass that replays another instant writes that instant)."""
        if append_events(self.conn, rows).moves_access:
            self.moved_access = True
            if self._on_access_moved is not None:
                self._on_access_moved()

    # -- concurrent posts (PostgreSQL) ---------------------------------------------------
    @property
    def shared(self) -> bool:
        """Whether this write runs beside other writes (the server's concurrent posts on
        PostgreSQL, ``PostgresEngine.group(shared=True)``): it must then either claim
        itself fit (``claim_shared``) or ask for the write lock (``need_write_lock``)."""
        return bool(getattr(self.conn, "shared", False))

    def claim_shared(self) -> None:
        """Vouch that this write may run beside others: it changes only rows it has
        locked FOR UPDATE (or made), and nothing any cache keeps (see the README's
        "When one machine is not enough"). Without it a write beside others is run
        again under the write lock."""
        claim = getattr(self.conn, "claim_shared", None)
        if claim is not None:
            claim()

    def need_write_lock(self) -> None:
        """This write cannot run beside others: roll it back and run it again under the
        database's write lock (raises ``NeedsWriteLock``; only in a shared write)."""
        if self.shared:
            raise NeedsWriteLock("this change needs the write lock")

    # -- repositories ---------------------------------------------------------------------
    def repo(self, cls: type[R]) -> R:
        """The repository ``cls`` over this transaction (made once per unit of work)."""
        found = self._repos.get(cls)
        if found is None:
            found = self._repos[cls] = cls(self.conn)
        return found

    @cached_property
    def shops(self) -> Shops:
        """Shops (``storage.repos.shops``)."""
        return Shops(self.conn)

    @cached_property
    def agents(self) -> Agents:
        """Agents, their shops and load (``storage.repos.agents``)."""
        return Agents(self.conn)

    @cached_property
    def customers(self) -> Customers:
        """Customers, their profiles and orders as the desk reads them."""
        return Customers(self.conn)

    @cached_property
    def conversations(self) -> Conversations:
        """Conversation rows (``storage.repos.conversations``)."""
        return Conversations(self.conn)

    @cached_property
    def messages(self) -> Messages:
        """Message rows (``storage.repos.messages``)."""
        return Messages(self.conn)

    @cached_property
    def queue(self) -> Queue:
        """The shop queues through their indexes (``storage.repos.queue``)."""
        return Queue(self.conn)

    @cached_property
    def routing(self) -> Routing:
        """Routing rules, round-robin state, rule-set versions (``storage.repos.routing``)."""
        return Routing(self.conn)

    @cached_property
    def records(self) -> RecordStore:
        """The declarative records (``storage.records``)."""
        return RecordStore(self.conn)


class Storage:
    """Hands out units of work over one database: ``write()`` and ``read()``.

    ``on_access_moved`` is called after a write transaction that wrote an event that may
    change access rights has committed (the backend moves its ``access_epoch``).
    """

    def __init__(self, database: Database, clock: Clock,
                 on_access_moved: Callable[[], None] | None = None):
        self.database = database
        self.clock = clock
        self.on_access_moved = on_access_moved

    def write(self) -> _Write:
        """A write transaction (``Database.write``: BEGIN IMMEDIATE, or a savepoint of a
        group) as a unit of work; commits on success, rolls back on error."""
        return _Write(self)

    @contextlib.contextmanager
    def read(self) -> Iterator[UnitOfWork]:
        """A consistent read snapshot as a unit of work (writing in it is an error of the
        caller: nothing commits what it would write)."""
        with self.database.read() as conn:
            yield UnitOfWork(conn, self.clock.now_ms(), writable=False)

    def over(self, conn: sqlite3.Connection) -> UnitOfWork:
        """A unit of work over a transaction someone else opened (code not yet converted
        to units of work hands its connection): access events move the epoch at once."""
        return UnitOfWork(conn, self.clock.now_ms(), on_access_moved=self.on_access_moved)


class _Write:
    """``Storage.write()``: the database's write transaction as a unit of work, and the
    access epoch moved once it has committed (a class, not a generator: every write of
    every operation goes through it)."""

    __slots__ = ("storage", "inner", "uow")

    def __init__(self, storage: Storage):
        self.storage = storage

    def __enter__(self) -> UnitOfWork:
        self.inner = self.storage.database.write()
        conn = self.inner.__enter__()
        self.uow = UnitOfWork(conn, self.storage.clock.now_ms())
        return self.uow

    def __exit__(self, kind, value, tb) -> bool:
        suppressed = self.inner.__exit__(kind, value, tb)
        if kind is None and self.uow.moved_access and \
                self.storage.on_access_moved is not None:
            self.storage.on_access_moved()
        return bool(suppressed)
