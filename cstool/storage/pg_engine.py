"""The PostgreSQL engine: what differs from SQLite's file (opening, transactions, the
catalogue, maintenance), over the connections of ``postgres.py``.

**A pool of connections.** A process holds up to ``pool_size`` connections (the URL's
``pool_size`` parameter, else ``$CSTOOL_PG_POOL_SIZE``, else 4): each transaction
(``Database.write()``/``read()``/``group()``) takes one for its length, so threads of one
process (a threaded server, the TUI's background reads) run their transactions side by
side instead of one after the other on a single connection. The first connection is
opened at once (a bad URL fails there, in one line); the others
(``psycopg_pool.ConnectionPool``) only when two transactions of the process overlap, so a
CLI command holds one. The advisory lock still admits one write transaction at a time
across every connection of every process, except the server's concurrent posts, which
hold it shared side by side (``group(shared=True)``).

**Fewer round trips.** A write transaction's ``BEGIN``, its advisory lock and the
reading of the commit counter are sent together (psycopg's pipeline mode), and so are
its taking a number of the counter and ``COMMIT``; a group's ``SAVEPOINT``/``RELEASE``
and a read's ``BEGIN`` go with the next statement (a group's write whose savepoint was
never sent, all its writes still waiting when it ended, drops it: nothing to roll back
to), and writes waiting side by side that have a statement for many (a group's posts'
messages and chats' times) go as one (``PgConnection.pipeline``). ``data_version`` (what
the in-process caches check for other connections' commits: SQLite's ``PRAGMA
data_version``) is answered from the counter read with the lock, not by one more query:
the counter is the sequence ``cstool_commits``, of which every cstool write transaction
takes a number as it commits, so it moved since our last write exactly when another
connection (another process, or another connection of this one) committed a write.
(Except the server's concurrent posts, ``group(shared=True)``: they change nothing a
cache keeps.) Writes made to the database by programs other than cstool are not counted:
the caches would not see them. The sequence is made by ``db upgrade`` (migration 21),
never by opening: a role with only read and write rights (no CREATE) opens an upgraded
database.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import Conflict, StorageError
from . import dialect
from .errors import DatabaseError, NeedsWriteLock, PgOperationalError
from .events import INSERT_EVENT
from .postgres import (
    EVENT_LOCK_KEY,
    WRITE_LOCK_KEY,
    PgConnection,
    _adapt,
    _Catalogue,
    _map_error,
    redact,
)

DEFAULT_POOL_SIZE = 4
POOL_ENV = "CSTOOL_PG_POOL_SIZE"
# Every write transaction of cstool takes a number of this sequence as it commits (under
# the write lock, in the COMMIT's round trip); data_version compares the last number
# taken with the one this process took last.
COMMITS = "cstool_commits"
_COMMITS_NOW = f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {COMMITS}"
_COMMITS_NEXT = f"SELECT nextval('{COMMITS}')"


# events of a concurrent posts' group written by one INSERT (rows of VALUES) at most
_EVENTS_PER_INSERT = 64
_EVENT_INSERTS: dict[int, str] = {}


def _events_insert(conn: PgConnection, rows: int) -> str:
    """``INSERT_EVENT`` (translated) with ``rows`` rows of VALUES, whose parameters are
    the rows' values one after the other."""
    text = _EVENT_INSERTS.get(rows)
    if text is None:
        one = conn._translate(INSERT_EVENT, ())[0].sql
        head, _, values = one.rpartition(" VALUES ")
        text = _EVENT_INSERTS[rows] = f"{head} VALUES " + ", ".join([values] * rows)
    return text


def pool_settings(url: str) -> tuple[str, int]:
    """The URL without cstool's own ``pool_size`` parameter, and the pool's size (the
    parameter, else ``$CSTOOL_PG_POOL_SIZE``, else :data:`DEFAULT_POOL_SIZE`; 1 to 100;
    another value is refused as the database's error: the URL cannot be opened)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    given = [v for k, v in query if k == "pool_size"]
    value = given[-1] if given else os.environ.get(POOL_ENV, "")
    rest = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query
                                                      if k != "pool_size"])))
    if value == "":
        return rest, DEFAULT_POOL_SIZE
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise PgOperationalError(f"pool_size must be a whole number from 1 to 100, "
                                 f"not {value!r}")
    return rest, int(value)


class PostgresEngine:
    """The PostgreSQL side of ``Database``: what differs from SQLite's file (opening,
    transactions' first statements, the catalogue, maintenance)."""

    name = "postgresql"

    def __init__(self, url: str):
        self.url = url
        self.dsn, self.pool_size = pool_settings(url)
        self.catalogue = _Catalogue()
        self.first = PgConnection(self.dsn, self.catalogue)  # a bad URL fails here
        try:  # the counter is migration 21's: opening makes nothing (no CREATE rights)
            self.prepare_schema(self.first)  # functions a newer cstool added
        except Exception as e:  # psycopg's errors, as the storage's
            self.first.close()
            raise e if isinstance(e, DatabaseError) else _map_error(e) from None
        self._first_free = threading.Lock()
        self._pool: Any = None
        self._pool_guard = threading.Lock()
        self._wrappers: dict[int, PgConnection] = {}
        self._local = threading.local()
        self._side: PgConnection | None = None
        self.side_lock = threading.RLock()
        # data_version: the transaction counter after our last write, and the count of
        # changes seen from others (see the module's docstring)
        self._last_commit: int | None = None
        self._foreign = 0
        self._dv_guard = threading.Lock()
        self.checkouts = 0  # transactions that took a pooled connection (for figures)

    # -- connections -----------------------------------------------------------------------
    def current(self) -> PgConnection | None:
        """The connection of this thread's open transaction, if any."""
        return self._local.__dict__.get("conn")

    @property
    def conn(self) -> PgConnection:
        """This thread's transaction's connection, else the connection for statements
        outside transactions (opened when first needed; used under ``Database.lock``)."""
        found = self._local.__dict__.get("conn")
        if found is not None:
            return found
        with self.side_lock:
            if self._side is None or self._side.broken:
                self._side = PgConnection(self.dsn, self.catalogue)
            return self._side

    @contextlib.contextmanager
    def session(self) -> Iterator[PgConnection]:
        """A connection for this thread's transaction: the one it holds already, else
        the first connection when it is free, else one of the pool (waiting for one when
        all ``pool_size`` are taken)."""
        held = self._local.__dict__.get("conn")
        if held is not None:
            yield held
            return
        if self._first_free.acquire(blocking=False) or (
                self.pool_size <= 1 and self._first_free.acquire()):
            conn, give_back = self.first, self._give_back_first
        else:
            conn, give_back = self._checkout()
        self._local.conn = conn
        try:
            yield conn
        finally:
            self._local.conn = None
            give_back(conn)

    def _give_back_first(self, conn: PgConnection) -> None:
        try:
            self._reset(conn)
            if conn.broken:  # lost (a restarted server): the next one reconnects
                with contextlib.suppress(Exception):
                    self.first = PgConnection(self.dsn, self.catalogue)
        finally:
            self._first_free.release()

    @staticmethod
    def _reset(conn: PgConnection) -> None:
        conn.forget()
        if not conn.broken and conn._in_transaction():
            with contextlib.suppress(Exception):
                conn._raw.execute("ROLLBACK")

    def _checkout(self) -> tuple[PgConnection, Any]:
        import psycopg
        from psycopg_pool import ConnectionPool, PoolTimeout

        with self._pool_guard:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.dsn, min_size=0, max_size=self.pool_size - 1, open=True,
                    num_workers=1, kwargs={"autocommit": True}, configure=_adapt,
                    name="cstool")
        try:
            raw = self._pool.getconn(timeout=60)
        except (PoolTimeout, psycopg.Error) as e:
            raise _map_error(e) from None
        self.checkouts += 1
        wrapper = self._wrappers.get(id(raw))
        if wrapper is None or wrapper._raw is not raw:
            wrapper = self._wrappers[id(raw)] = PgConnection(catalogue=self.catalogue, raw=raw)

        def give_back(conn: PgConnection) -> None:
            self._reset(conn)
            self._pool.putconn(raw)

        return wrapper, give_back

    # -- transactions (Database.write / read / group on this engine) -------------------
    def _in_group(self) -> bool:
        return bool(self._local.__dict__.get("group"))

    def _begin_write(self, conn: PgConnection, database: Any, *, bump: bool = True,
                     shared: bool = False) -> None:
        """BEGIN, the write lock and the transaction counter in one round trip.
        ``bump``: a write transaction moves ``database.generation``; a group does not
        (each of its writes does, as on SQLite, so that the caches that follow a chain
        of posts keep it from one group to the next). ``shared``: the write lock in
        shared mode (concurrent posts, see ``group``)."""
        take = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        _, _, counter = conn.pipeline([("BEGIN", None),
                                    (f"SELECT {take}(%s)", (WRITE_LOCK_KEY,)),
                                    (_COMMITS_NOW, None)])
        self._observe(counter.fetchone()[0])
        if bump:
            database.generation += 1  # after the lock: in the order the writes run

    def _commit_write(self, conn: PgConnection) -> None:
        """The counter as our write leaves it, and COMMIT, in one round trip."""
        counter, _ = conn.pipeline([(_COMMITS_NEXT, None), ("COMMIT", None)])
        with self._dv_guard:
            self._last_commit = counter.fetchone()[0]

    def _commit_shared(self, conn: PgConnection) -> None:
        """A concurrent posts' group commits: the event lock, the events held, COMMIT, in
        one round trip (see ``group``). No number of the counter: nothing these writes
        change is kept by a cache (``claim_shared``'s contract)."""
        held, conn.held = conn.held or [], None
        conn.shared = False  # a failure now fails the group (no write to run again)
        statements: list[tuple[str, Any]] = []
        if held:
            statements.append(("SELECT pg_advisory_xact_lock(%s)", (EVENT_LOCK_KEY,)))
            # one INSERT of all the group's events (VALUES rows take their ids in the
            # order given), not one statement each: a statement costs more CPU here
            # than the rows it carries
            for at in range(0, len(held), _EVENTS_PER_INSERT):
                rows = held[at:at + _EVENTS_PER_INSERT]
                statements.append((_events_insert(conn, len(rows)),
                                   [v for row in rows for v in row]))
        statements.append(("COMMIT", None))
        conn.pipeline(statements)

    def _observe(self, counter: int) -> None:
        """Note the counter read now: a move since our last write is someone else's."""
        with self._dv_guard:
            if self._last_commit is not None and counter != self._last_commit:
                self._foreign += 1
            self._last_commit = counter

    @staticmethod
    def _rollback(conn: PgConnection) -> None:
        conn.forget()
        if not conn.broken:
            with contextlib.suppress(Exception):
                conn._raw.execute("ROLLBACK")

    @contextlib.contextmanager
    def write(self, database: Any) -> Iterator[PgConnection]:
        """``Database.write()``: a write transaction on a connection of its own (or a
        savepoint of this thread's group)."""
        if self._in_group():
            conn = self.current()
            conn.defer("SAVEPOINT cstool_write")
            database.generation += 1
            held = None if conn.held is None else len(conn.held)
            outer_claim, conn.claimed = conn.claimed, False
            try:
                yield conn
                if conn.shared and not conn.claimed:
                    # a write beside others that nobody vouched for: under the lock
                    raise NeedsWriteLock("a write not fit to run beside others")
            except BaseException:
                shared = conn.shared
                conn.shared = False  # the rollback itself must not be taken for a wait
                try:
                    if not conn.drop_since("SAVEPOINT cstool_write"):  # else nothing ran
                        conn.execute("ROLLBACK TO cstool_write")
                        conn.defer("RELEASE SAVEPOINT cstool_write")
                finally:
                    conn.shared = shared
                if held is not None:
                    del conn.held[held:]  # this write's events go with it
                database.generation += 1
                raise
            else:
                # the writes still waiting go with the group's next statement (or its
                # COMMIT); should they fail, the whole group fails (PgConnection.carry)
                conn.carry()
                if not conn.drop_unsent("SAVEPOINT cstool_write"):
                    conn.defer("RELEASE SAVEPOINT cstool_write")
            finally:
                conn.claimed = outer_claim
            return
        with self.session() as conn:
            try:
                self._begin_write(conn, database)
            except DatabaseError as e:
                self._rollback(conn)
                raise StorageError(f"{database.path}: {e}", key="db_error",
                                   the_path=str(database.path), e=str(e)) from None
            self._local.writing = True
            try:
                yield conn
            except BaseException:
                database.generation += 1  # still under the write lock: in order
                self._rollback(conn)
                raise
            else:
                try:
                    self._commit_write(conn)  # with the writes still waiting
                except BaseException:
                    database.generation += 1
                    self._rollback(conn)
                    raise
            finally:
                self._local.writing = False

    @contextlib.contextmanager
    def read(self, database: Any) -> Iterator[PgConnection]:
        """``Database.read()``: a REPEATABLE READ snapshot (its BEGIN goes with its first
        statement), or this thread's open transaction."""
        held = self.current()
        if held is not None:
            yield held
            return
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ"
        with self.session() as conn:
            conn.defer(begin)
            try:
                yield conn
            finally:
                if not conn.drop_deferred(begin):
                    conn.execute("COMMIT")

    @contextlib.contextmanager
    def group(self, database: Any, *, shared: bool = False) -> Iterator[None]:
        """``Database.group()``: one write transaction for this thread's writes and reads
        inside, each write a savepoint; committed once.

        ``shared``: a group of customers' posts run beside other such groups (the
        server's concurrent posts; see the README's "When one machine is not enough").
        It takes the write lock in shared mode: every other write (exclusive) waits for
        it and it for them, so a write of any other kind still runs alone. Each of its
        writes must be claimed fit to run beside others (``PgConnection.claim_shared``;
        the desk claims a message into a chat an agent serves, whose row it locks FOR
        UPDATE SKIP LOCKED); any other write, or one whose chat another holds, or that
        meets a deadlock or serialization failure, raises
        ``NeedsWriteLock`` after its savepoint is rolled back, and the caller runs it
        again under the exclusive lock. Its events are held and written as it commits,
        under the event lock: event ids are taken in the order of the commits, so a
        reader of ``id > n`` never skips an event committed after it read."""
        if self._in_group():
            raise StorageError("a group is open already", key="db_group_open")
        with self.session() as conn:
            try:
                self._begin_write(conn, database, bump=False, shared=shared)
            except DatabaseError as e:
                self._rollback(conn)
                raise StorageError(f"{database.path}: {e}", key="db_error",
                                   the_path=str(database.path), e=str(e)) from None
            self._local.group = True
            if shared:
                conn.shared, conn.held = True, []
            try:
                yield
            except BaseException:
                self._local.group = False
                database.generation += 1  # still under the write lock: in order
                self._rollback(conn)
                raise
            self._local.group = False
            try:
                if conn.poisoned:  # a write of the group, answered, failed to be sent
                    raise PgOperationalError("a write of the group failed after it ended")
                if shared:
                    self._commit_shared(conn)
                else:
                    self._commit_write(conn)
            except DatabaseError as e:
                database.generation += 1
                self._rollback(conn)
                raise StorageError(f"{database.path}: commit failed: {e}",
                                   key="db_commit_failed", the_path=str(database.path),
                                   e=str(e)) from None

    def data_version(self, conn: PgConnection | None = None) -> int:
        """Moves whenever a transaction other than this process's write transactions
        changed anything since our last write (in a write transaction: as read with its
        lock, no query)."""
        held = self.current()
        if held is not None and (self._in_group() or self._local.__dict__.get("writing")):
            return self._foreign  # read with the write lock: nobody else wrote since
        if held is not None:
            (cur,) = held.pipeline([(_COMMITS_NOW, None)])
            self._observe(cur.fetchone()[0])
            return self._foreign
        with self.side_lock:
            side = self.conn
            (cur,) = side.pipeline([(_COMMITS_NOW, None)])
            self._observe(cur.fetchone()[0])
        return self._foreign

    def close(self) -> None:
        """Close every connection."""
        with contextlib.suppress(Exception):
            self.first.close()
        if self._side is not None:
            with contextlib.suppress(Exception):
                self._side.close()
        if self._pool is not None:
            with contextlib.suppress(Exception):
                self._pool.close()

    def has_table(self, conn: PgConnection, name: str) -> bool:
        """Whether the table exists."""
        return conn.raw.execute("SELECT to_regclass(%s) IS NOT NULL",
                                (f'"{name}"',)).fetchone()[0]

    def table_names(self, conn: PgConnection) -> list[str]:
        """Every table of the schema."""
        return [r[0] for r in conn.raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name")]

    def prepare_schema(self, conn: PgConnection) -> None:
        """The compatibility functions (``dialect.COMPAT_FUNCTIONS``), when missing."""
        found = conn.raw.execute("SELECT COUNT(DISTINCT proname) FROM pg_proc WHERE "
                                 "proname = ANY(%s)", (list(dialect.COMPAT_NAMES),)).fetchone()[0]
        if found == len(dialect.COMPAT_NAMES):
            return
        for statement in dialect.COMPAT_FUNCTIONS:
            conn.raw.execute(statement)

    def make_commit_counter(self) -> None:
        """The sequence ``cstool_commits``, made when missing: an upgrade calls it before
        its first migration, whose transaction takes a number of the counter already
        (migration 21 records it in the schema's history). Under the write lock, so
        several processes upgrading a new database at once make it once."""
        with self.session() as conn:
            raw = conn.raw
            if raw.execute("SELECT to_regclass(%s) IS NOT NULL", (COMMITS,)).fetchone()[0]:
                return
            with raw.transaction():
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
                raw.execute(f"CREATE SEQUENCE IF NOT EXISTS {COMMITS}")

    def install_notify(self) -> None:
        """The NOTIFY trigger on ``events`` (storage/notify.py), made by the upgrade as the
        owner: a server running as a role without CREATE rights then finds it current and
        listens, instead of falling back to polling."""
        import psycopg

        from .notify import install_trigger

        with psycopg.connect(self.dsn, autocommit=True) as raw:
            install_trigger(raw)

    def migration_statements(self, version: int, sql: str) -> list[str]:
        """A migration's statements in PostgreSQL's dialect."""
        from .migrations import POSTGRES_OVERRIDES

        sql = POSTGRES_OVERRIDES.get(version, sql)
        out: list[str] = []
        for statement in sql.split(";\n"):
            if statement.strip():
                out.extend(dialect.translate_ddl(statement))
        return out

    def journal_mode(self) -> str:
        """PostgreSQL writes ahead always (its write-ahead log)."""
        return "wal"

    def size_bytes(self, conn: PgConnection) -> int:
        """pg_database_size of the database."""
        return conn.raw.execute("SELECT pg_database_size(current_database())").fetchone()[0]

    def backup(self, target: Any) -> None:
        """Refused: PostgreSQL is backed up with its own tools."""
        raise Conflict("a PostgreSQL database is backed up with pg_dump (or the provider's "
                       "snapshots), not by cstool: pg_dump -Fc -f FILE URL",
                       key="db_backup_postgres")

    def describe(self) -> str:
        """The URL without its password."""
        return redact(self.url)
