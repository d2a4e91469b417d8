"""The PostgreSQL engine: a connection that speaks like ``sqlite3``'s, and its Database.

:class:`PgConnection` takes the repositories' statements in SQLite's dialect, translates
each once (``dialect.translate``, cached) and runs it through psycopg 3; its cursors
answer ``fetchone``/``fetchall``/``rowcount``/``lastrowid`` as sqlite3's do. PostgreSQL's
errors are raised as the storage's error types (``storage.errors``: IntegrityError,
OperationalError, both DatabaseError), so nothing above the storage knows the engine.

Two behaviours of SQLite are kept on purpose:

* **One writer at a time.** ``BEGIN IMMEDIATE`` becomes ``BEGIN`` plus a transaction-level
  advisory lock (``pg_advisory_xact_lock``) that every write transaction of every process
  on the database takes first: writes are serialised across processes exactly as SQLite
  serialises them across the processes sharing a file, so every read-then-write of the
  services (accept-next, capacity checks, campaign sends) stays atomic without each
  being rewritten with row locks. Reads run concurrently in REPEATABLE READ snapshots.
* **A failed write fails alone.** In PostgreSQL a failed statement aborts its
  transaction (SQLite's leaves it usable). No caller goes on after a storage error inside
  a transaction: the error ends the ``Database.write()`` (rolled back whole), and inside
  a ``group()`` each write is its own savepoint, rolled back to alone, so the other
  writes of the group commit. (A savepoint around every statement would keep SQLite's
  finer behaviour at two more round trips a statement; nothing needs it.)

**A pool of connections.** A process holds up to ``pool_size`` connections (the URL's
``pool_size`` parameter, else ``$CSTOOL_PG_POOL_SIZE``, else 4): each transaction
(``Database.write()``/``read()``/``group()``) takes one for its length, so threads of one
process (a threaded server, the TUI's background reads) run their transactions side by
side instead of one after the other on a single connection. The first connection is
opened at once (a bad URL fails there, in one line); the others
(``psycopg_pool.ConnectionPool``) only when two transactions of the process overlap, so a
CLI command holds one. The advisory lock still admits one write transaction at a time
across every connection of every process.

**Fewer round trips.** A write transaction's ``BEGIN``, its advisory lock and the
reading of the commit counter are sent together (psycopg's pipeline mode), and so are
its taking a number of the counter and ``COMMIT``; a group's ``SAVEPOINT``/``RELEASE``
and a read's ``BEGIN`` go with the next statement. ``data_version`` (what the in-process
caches check for other connections' commits: SQLite's ``PRAGMA data_version``) is
answered from the counter read with the lock, not by one more query: the counter is the
sequence ``cstool_commits``, of which every cstool write transaction takes a number as it
commits, so it moved since our last write exactly when another connection (another
process, or another connection of this one) committed a write. Writes made to the
database by programs other than cstool are not counted: the caches would not see them.

The module imports psycopg only when a PostgreSQL URL is opened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..errors import Conflict, StorageError
from . import dialect
from .errors import DatabaseError, PgDataError, PgIntegrityError, PgOperationalError

# The advisory lock every write transaction takes (one key for the whole database).
WRITE_LOCK_KEY = 0x6373_746F_6F6C  # "cstool"

_DDL = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.I)
_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END)\b", re.I)


DEFAULT_POOL_SIZE = 4
POOL_ENV = "CSTOOL_PG_POOL_SIZE"
# Every write transaction of cstool takes a number of this sequence as it commits (under
# the write lock, in the COMMIT's round trip); data_version compares the last number
# taken with the one this process took last.
COMMITS = "cstool_commits"
_COMMITS_NOW = f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {COMMITS}"
_COMMITS_NEXT = f"SELECT nextval('{COMMITS}')"


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


def redact(url: str) -> str:
    """The URL without its password (for messages and ``db info``)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _map_error(e: Exception) -> Exception:
    import psycopg

    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, psycopg.errors.IntegrityError):
        return PgIntegrityError(text)
    if isinstance(e, psycopg.errors.DataError):
        return PgDataError(text)
    return PgOperationalError(text)


class PgCursor:
    """sqlite3's cursor over a psycopg cursor (the rows are tuples, as sqlite3's)."""

    __slots__ = ("_cur", "lastrowid", "_rows")

    def __init__(self, cur: Any, lastrowid: int | None = None, rows: list | None = None):
        self._cur = cur
        self.lastrowid = lastrowid
        self._rows = rows

    @property
    def rowcount(self) -> int:
        """Rows changed by the statement (-1 when unknown)."""
        return self._cur.rowcount if self._cur is not None else -1

    @property
    def description(self) -> Any:
        """The result's columns (name first, as sqlite3's)."""
        return self._cur.description if self._cur is not None else None

    def fetchone(self) -> tuple | None:
        """The next row, or None."""
        if self._rows is not None:
            return self._rows.pop(0) if self._rows else None
        if self._cur is None or self._cur.description is None:
            return None
        return self._cur.fetchone()

    def fetchall(self) -> list[tuple]:
        """The remaining rows."""
        if self._rows is not None:
            rows, self._rows = self._rows, []
            return rows
        if self._cur is None or self._cur.description is None:
            return []
        return self._cur.fetchall()

    def fetchmany(self, size: int = 100) -> list[tuple]:
        """Up to ``size`` further rows."""
        if self._rows is not None:
            rows, self._rows = self._rows[:size], self._rows[size:]
            return rows
        if self._cur is None or self._cur.description is None:
            return []
        return self._cur.fetchmany(size)

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchall())

    def close(self) -> None:
        """Nothing to free (the rows are client-side)."""


def _adapt(raw: Any) -> None:
    """Register SQLite's value conventions on a psycopg connection."""
    from psycopg.adapt import Dumper, Loader

    class _BoolAsInt(Dumper):
        # SQLite's booleans are 1 and 0; untyped, PostgreSQL reads '1'/'0' as a
        # boolean where one is expected and as a number in an integer column
        oid = 0

        def dump(self, obj: bool) -> bytes:
            return b"1" if obj else b"0"

    class _Numeric(Loader):
        # SUM over BIGINT is NUMERIC in PostgreSQL, an integer in SQLite
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            if "." in text or "e" in text or "N" in text:
                return float(text)
            return int(text)

    raw.adapters.register_dumper(bool, _BoolAsInt)
    raw.adapters.register_loader("numeric", _Numeric)


class _Catalogue:
    """What every connection of one database shares: the translated statements and
    what the translation reads from the catalogue."""

    def __init__(self) -> None:
        self.statements: dict[tuple, dialect.Translated] = {}
        self.probes: dict[str, dialect.Translated] = {}
        self.identity: set[str] | None = None
        self.keys: dict[str, tuple[str, ...]] = {}


class PgConnection:
    """A psycopg connection (autocommit; transactions are explicit statements, as the
    Database issues them) that takes SQLite's dialect."""

    def __init__(self, url: str | None = None, catalogue: _Catalogue | None = None, *,
                 raw: Any = None):
        import psycopg

        if raw is None:
            try:
                raw = psycopg.connect(url, autocommit=True)
            except psycopg.Error as e:
                raise _map_error(e) from None
            _adapt(raw)
        self._raw = raw
        self._cat = catalogue or _Catalogue()
        self._pending: list[str] = []  # statements sent with the next one (no result)
        self.lock = threading.RLock()

    @property
    def raw(self) -> Any:
        """The psycopg connection, with any deferred statement sent first."""
        if self._pending:
            self.flush()
        return self._raw

    def defer(self, sql: str) -> None:
        """Send ``sql`` (a statement without parameters or result) together with the
        next statement, in one round trip."""
        self._pending.append(sql)

    def drop_deferred(self, sql: str) -> bool:
        """Forget the deferred ``sql`` if it is the last one waiting (a read that ran
        nothing needs neither its BEGIN nor its COMMIT)."""
        if self._pending and self._pending[-1] == sql:
            self._pending.pop()
            return True
        return False

    def flush(self) -> None:
        """Send the deferred statements now."""
        import psycopg

        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            if len(pending) == 1:
                self._raw.execute(pending[0])
            else:
                with self._raw.pipeline():
                    for sql in pending:
                        self._raw.execute(sql)
        except psycopg.Error as e:
            raise _map_error(e) from None

    def pipeline(self, statements: list[tuple[str, Any]]) -> list[Any]:
        """Run the deferred statements and ``statements`` (text, parameters) in one
        round trip; their cursors."""
        import psycopg

        pending, self._pending = self._pending, []
        cursors = []
        try:
            with self._raw.pipeline():
                for sql in pending:
                    self._raw.execute(sql)
                for sql, params in statements:
                    cursors.append(self._raw.execute(sql, params))
        except psycopg.Error as e:
            raise _map_error(e) from None
        return cursors

    # -- the catalogue, as far as the translation needs it ---------------------------------
    def identity_tables(self) -> set[str]:
        """Tables whose ``id`` is an identity column (``INTEGER PRIMARY KEY`` in SQLite)."""
        if self._cat.identity is None:
            rows = self.raw.execute(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'id' "
                "AND is_identity = 'YES' AND table_schema = current_schema()").fetchall()
            self._cat.identity = {r[0] for r in rows}
        return self._cat.identity

    def primary_key(self, table: str) -> tuple[str, ...]:
        """The primary key's columns of ``table``."""
        if table not in self._cat.keys:
            rows = self.raw.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = "
                "i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass "
                "AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
                (f'"{table}"',)).fetchall()
            self._cat.keys[table] = tuple(r[0] for r in rows)
        return self._cat.keys[table]

    def schema_changed(self) -> None:
        """Forget what the catalogue said (after DDL)."""
        self._cat.identity = None
        self._cat.keys.clear()

    # -- statements ----------------------------------------------------------------------
    def _translate(self, sql: str, params: Any) -> tuple[dialect.Translated, Any]:
        kinds: tuple[str, ...] = ()
        if "json_each" in sql and params:
            kinds, params = self._json_params(sql, params)
        key = (sql, kinds)
        statements = self._cat.statements
        found = statements.get(key)
        if found is None:
            found = dialect.translate(sql, kinds)
            if found.replace:
                found = dialect.Translated(
                    found.sql + dialect.upsert_clause(self.primary_key(found.insert_table),
                                                      found.insert_columns),
                    found.json_lists, False, found.insert_table, found.insert_columns,
                    found.returning)
            if len(statements) > 5000:
                statements.clear()
            statements[key] = found
        if found.json_lists and params:
            params = self._lists(found, params)
        return found, params

    @staticmethod
    def _kind(value: Any) -> str:
        items = json.loads(value) if isinstance(value, str) else value
        return "int" if all(isinstance(x, int) for x in items) else "text"

    def _json_params(self, sql: str, params: Any) -> tuple[tuple[str, ...], Any]:
        # the element type of each JSON list passed (in the order they appear)
        probe = self._cat.probes.get(sql)
        if probe is None:
            probe = self._cat.probes[sql] = dialect.translate(sql)
        if isinstance(params, dict):
            kinds = tuple(self._kind(params[n]) for n in probe.json_lists)
        else:
            kinds = tuple(self._kind(params[i]) for i in probe.json_lists)
        return kinds, params

    @staticmethod
    def _lists(found: dialect.Translated, params: Any) -> Any:
        def as_list(value: Any) -> list:
            items = json.loads(value) if isinstance(value, str) else list(value)
            return [x if isinstance(x, int) else str(x) for x in items]

        if isinstance(params, dict):
            params = dict(params)
            for name in found.json_lists:
                params[name] = as_list(params[name])
            return params
        params = list(params)
        for i in found.json_lists:
            params[i] = as_list(params[i])
        return params

    def execute(self, sql: str, params: Any = ()) -> PgCursor:
        """Run one statement in SQLite's dialect; a sqlite3-like cursor."""
        import psycopg

        if _CONTROL.match(sql):
            try:
                cur = self.raw.execute(_control(sql))
                if re.match(r"\s*BEGIN\s+IMMEDIATE", sql, re.I):
                    # the database's one write lock: one writer at a time, as SQLite
                    self._raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,))
                return PgCursor(cur)
            except psycopg.Error as e:
                if self._in_transaction():
                    with contextlib.suppress(psycopg.Error):
                        self._raw.execute("ROLLBACK")
                raise _map_error(e) from None
        found, params = self._translate(sql, params)
        wants_id = (found.insert_table is not None and not found.returning
                    and found.insert_table in self.identity_tables())
        text = found.sql + " RETURNING id" if wants_id else found.sql
        if params is None:
            params = ()
        try:
            if self._pending:
                (cur,) = self.pipeline([(text, params)])
            else:
                cur = self._raw.execute(text, params)
            lastrowid = None
            rows = None
            if wants_id:
                rows = cur.fetchall()
                lastrowid = rows[-1][0] if rows else None
                rows = []
                if "id" in found.insert_columns:
                    self._sync_identity(found.insert_table)
        except psycopg.Error as e:
            raise _map_error(e) from None
        if _DDL.match(sql):
            self.schema_changed()
        return PgCursor(cur, lastrowid, rows)

    def executemany(self, sql: str, rows: Any) -> PgCursor:
        """Run one statement for each parameter row (one round trip per batch)."""
        import psycopg

        rows = list(rows)
        if not rows:
            return PgCursor(None)
        found, _ = self._translate(sql, rows[0])
        if found.json_lists:
            rows = [self._lists(found, r) for r in rows]
        try:
            with self.raw.cursor() as cur:
                cur.executemany(found.sql, rows)
                count = cur.rowcount
            if found.insert_table and "id" in found.insert_columns and \
                    found.insert_table in self.identity_tables():
                self._sync_identity(found.insert_table)
        except psycopg.Error as e:
            raise _map_error(e) from None
        return _Count(count)

    def copy_rows(self, table: str, columns: tuple[str, ...] | list[str], rows: Any) -> int:
        """Load ``rows`` (tuples in ``columns``' order) into ``table`` with PostgreSQL's
        ``COPY ... FROM STDIN``: one stream instead of a statement per row, many times
        faster for large loads. Runs inside the caller's transaction; an error (a broken
        key, a value of the wrong type) fails the whole COPY. Returns the rows written."""
        import psycopg

        names = ", ".join(f'"{c}"' for c in columns)
        n = 0
        try:
            with self.raw.cursor() as cur:
                with cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)
                        n += 1
            if "id" in columns and table in self.identity_tables():
                self._sync_identity(table)
        except psycopg.Error as e:
            raise _map_error(e) from None
        return n

    def _sync_identity(self, table: str) -> None:
        # rows inserted with explicit ids: the identity continues above the highest
        self.raw.execute(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f'GREATEST((SELECT MAX(id) FROM "{table}"), 1))')

    def _in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self._raw.info.transaction_status != TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        """Whether the connection is closed or lost."""
        return self._raw.closed or self._raw.broken

    def commit(self) -> None:
        """Nothing pending outside explicit transactions (autocommit)."""

    def close(self) -> None:
        """Close the connection."""
        self._pending.clear()
        self._raw.close()


class _Count(PgCursor):
    __slots__ = ("_count",)

    def __init__(self, count: int):
        super().__init__(None)
        self._count = count

    @property
    def rowcount(self) -> int:
        return self._count


def _control(sql: str) -> str:
    text = sql.strip().upper()
    if text.startswith("BEGIN"):
        # a write (IMMEDIATE) sees the latest commits; a read is one snapshot
        return "BEGIN" if "IMMEDIATE" in text else "BEGIN ISOLATION LEVEL REPEATABLE READ"
    if text.startswith("RELEASE") and "SAVEPOINT" not in text:
        return "RELEASE SAVEPOINT " + sql.split()[-1]
    if text.startswith("ROLLBACK TO") and "SAVEPOINT" not in text:
        return "ROLLBACK TO SAVEPOINT " + sql.split()[-1]
    return sql


class PostgresEngine:
    """The PostgreSQL side of ``Database``: what differs from SQLite's file (opening,
    transactions' first statements, the catalogue, maintenance)."""

    name = "postgresql"

    def __init__(self, url: str):
        self.url = url
        self.dsn, self.pool_size = pool_settings(url)
        self.catalogue = _Catalogue()
        self.first = PgConnection(self.dsn, self.catalogue)  # a bad URL fails here
        try:
            self.first.raw.execute(f"CREATE SEQUENCE IF NOT EXISTS {COMMITS}")
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
        conn._pending.clear()
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

    def _begin_write(self, conn: PgConnection, database: Any) -> None:
        """BEGIN, the write lock and the transaction counter in one round trip."""
        _, _, counter = conn.pipeline([("BEGIN", None),
                                    ("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK_KEY,)),
                                    (_COMMITS_NOW, None)])
        self._observe(counter.fetchone()[0])
        database.generation += 1  # after the lock: in the order the writes run

    def _commit_write(self, conn: PgConnection) -> None:
        """The counter as our write leaves it, and COMMIT, in one round trip."""
        counter, _ = conn.pipeline([(_COMMITS_NEXT, None), ("COMMIT", None)])
        with self._dv_guard:
            self._last_commit = counter.fetchone()[0]

    def _observe(self, counter: int) -> None:
        """Note the counter read now: a move since our last write is someone else's."""
        with self._dv_guard:
            if self._last_commit is not None and counter != self._last_commit:
                self._foreign += 1
            self._last_commit = counter

    @staticmethod
    def _rollback(conn: PgConnection) -> None:
        conn._pending.clear()
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
            try:
                yield conn
            except BaseException:
                if not conn.drop_deferred("SAVEPOINT cstool_write"):  # else nothing ran
                    conn.execute("ROLLBACK TO cstool_write")
                    conn.defer("RELEASE SAVEPOINT cstool_write")
                database.generation += 1
                raise
            else:
                conn.defer("RELEASE SAVEPOINT cstool_write")
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
                self._commit_write(conn)
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
    def group(self, database: Any) -> Iterator[None]:
        """``Database.group()``: one write transaction for this thread's writes and reads
        inside, each write a savepoint; committed once."""
        if self._in_group():
            raise StorageError("a group is open already", key="db_group_open")
        with self.session() as conn:
            try:
                self._begin_write(conn, database)
            except DatabaseError as e:
                self._rollback(conn)
                raise StorageError(f"{database.path}: {e}", key="db_error",
                                   the_path=str(database.path), e=str(e)) from None
            self._local.group = True
            try:
                yield
            except BaseException:
                self._local.group = False
                database.generation += 1  # still under the write lock: in order
                self._rollback(conn)
                raise
            self._local.group = False
            try:
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


def storage_error(url: str, e: Exception) -> StorageError:
    """A StorageError for a database that could not be opened."""
    return StorageError(f"{redact(url)}: {e}", key="db_error", the_path=redact(url), e=str(e))
