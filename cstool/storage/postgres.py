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
  The server's concurrent posts take the lock in shared mode, lock their chat's row,
  and write their events under a second lock as they commit (``pg_engine.group``).
* **A failed write fails alone.** In PostgreSQL a failed statement aborts its
  transaction (SQLite's leaves it usable). No caller goes on after a storage error inside
  a transaction: the error ends the ``Database.write()`` (rolled back whole), and inside
  a ``group()`` each write is its own savepoint, rolled back to alone, so the other
  writes of the group commit. (A savepoint around every statement would keep SQLite's
  finer behaviour at two more round trips a statement; nothing needs it.)

The engine (the pool of connections, the transactions, ``data_version``) is in
``pg_engine.py``; the cursors and results handed back are in ``pg_results.py``.

The module imports psycopg only when a PostgreSQL URL is opened.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from typing import Any

from ..errors import StorageError
from . import dialect
from .errors import LOCK_STATES, NeedsWriteLock, PgDataError, PgIntegrityError, PgOperationalError
from .pg_results import Count, PgCursor, Result

# The advisory lock every write transaction takes (one key for the whole database):
# exclusive for every write, shared for the server's concurrent posts (pg_engine.py).
WRITE_LOCK_KEY = 0x6373_746F_6F6C  # "cstool"
# Taken (exclusive) by a concurrent post's transaction as it writes its events and
# commits: event ids are then taken in commit order (pg_engine.py).
EVENT_LOCK_KEY = 0x6373_746F_6F6D

_DDL = re.compile(r"^\s*(CREATE|ALTER|DROP)\b", re.I)
_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|END)\b", re.I)


def redact(url: str) -> str:
    """The URL without its password (for messages and ``db info``)."""
    return re.sub(r"(://[^:/@]+):[^@/]*@", r"\1:***@", url)


def _map_error(e: Exception) -> Exception:
    import psycopg

    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    if isinstance(e, psycopg.errors.IntegrityError):
        found: Exception = PgIntegrityError(text)
    elif isinstance(e, psycopg.errors.DataError):
        found = PgDataError(text)
    else:
        found = PgOperationalError(text)
    found.sqlstate = getattr(e, "sqlstate", None)  # type: ignore[attr-defined]
    return found


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
        # deferred writes sent together as one statement: text -> (the statement for
        # many, its parameters as arrays; the parameter naming the row, else None)
        self.many: dict[str, tuple[str, int | None]] = {}


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
        # statements sent with the next one, whose results nobody reads: (text, None) for
        # a transaction's control statements, (PostgreSQL text, parameters) for writes
        self._pending: list[tuple[str, Any]] = []
        # writes of a group's write that ended are among them (``carry``); when sending
        # them fails, the group cannot commit (``poisoned``): the write they belong to was
        # answered already, as a part of the group that must commit whole
        self.carried = False
        self.poisoned = False
        self.lock = threading.RLock()
        # a concurrent post's transaction (``PostgresEngine.group(shared=True)``): its
        # writes must be claimed as fit to run beside others (``claim_shared``), and its
        # events wait in ``held`` for the commit (taken in commit order there)
        self.shared = False
        self.claimed = False
        self.held: list[tuple] | None = None
        # a concurrent posts' group's look-ups read together (``Posts.prefetch``)
        self.prefetched: tuple | None = None

    @property
    def raw(self) -> Any:
        """The psycopg connection, with any deferred statement sent first."""
        if self._pending:
            self.flush()
        return self._raw

    def defer(self, sql: str) -> None:
        """Send ``sql`` (a statement without parameters or result) together with the
        next statement, in one round trip."""
        self._pending.append((sql, None))

    def drop_deferred(self, sql: str) -> bool:
        """Forget the deferred ``sql`` if it is the last one waiting (a read that ran
        nothing needs neither its BEGIN nor its COMMIT)."""
        if self._pending and self._pending[-1] == (sql, None):
            self._pending.pop()
            return True
        return False

    def drop_since(self, sql: str) -> bool:
        """Forget the deferred control statement ``sql`` and everything deferred after it
        if it is still waiting (nothing of it ran); else forget the writes waiting (they
        belong to the write being rolled back) and say False."""
        for i in range(len(self._pending) - 1, -1, -1):
            if self._pending[i] == (sql, None):
                del self._pending[i:]
                return True
        self._pending.clear()
        return False

    def drop_unsent(self, sql: str) -> bool:
        """Forget the deferred control statement ``sql`` (the last one waiting with that
        text) if it was not sent yet, keeping what was deferred after it; whether it was
        there. A group's write whose savepoint was never sent needs none: had it failed,
        its writes waiting would have been dropped with it (``drop_since``), and once it
        ended they are carried, so that their failure fails the group anyway."""
        for i in range(len(self._pending) - 1, -1, -1):
            if self._pending[i] == (sql, None):
                del self._pending[i]
                return True
        return False

    def execute_later(self, sql: str, params: Any = (), *, id_reserved: bool = False,
                      many: tuple[str, int | None] | None = None) -> None:
        """Run a write whose result nobody reads (no row count, no new id) with the
        transaction's next statement, in its round trip (psycopg's pipeline mode), instead
        of a round trip of its own. Statements run in the order given; an error of this
        one is raised by the statement that carries it (at the latest by the write's end:
        ``PostgresEngine.write`` sends what waits with its COMMIT). ``id_reserved``: an
        explicit ``id`` taken from the table's identity sequence (nothing to sync)."""
        found, params = self._translate(sql, params)
        if found.insert_table is not None and "id" in found.insert_columns \
                and not id_reserved:
            self.execute(sql, params)  # an explicit id: the identity is synced after it
            return
        if many is not None:
            self._cat.many[found.sql] = many
        self._pending.append((found.sql, () if params is None else params))

    def execute_together(self, statements: list[tuple[str, Any]]) -> list[PgCursor]:
        """Run reads (statements in SQLite's dialect whose results are read only after
        all ran) and the deferred statements in one round trip; their cursors."""
        import psycopg

        texts = []
        for sql, params in statements:
            found, params = self._translate(sql, params)
            texts.append((found.sql, () if params is None else params))
        try:
            return [PgCursor(cur) for cur in self.pipeline(texts)]
        except psycopg.Error as e:
            raise _map_error(e) from None

    def claim_shared(self) -> None:
        """The write running now is fit to run beside other writes (see ``shared``)."""
        self.claimed = True

    def hold_events(self, rows: list[tuple]) -> bool:
        """In a concurrent post's transaction, keep event rows (the INSERT's parameters)
        for the commit, which writes them under the event lock; False elsewhere (the
        caller writes them)."""
        if self.held is None:
            return False
        self.held.extend(rows)
        return True

    def _lock_signal(self, e: Exception) -> BaseException | None:
        # in a concurrent post, a lock another transaction holds (NOWAIT), a deadlock or
        # a serialization failure: the write is run again under the write lock
        if self.shared and getattr(e, "sqlstate", None) in LOCK_STATES:
            return NeedsWriteLock(str(e))
        return None

    def writes_waiting(self) -> bool:
        """Whether a write sent with the next statement is waiting (not a control
        statement alone)."""
        return any(params is not None for _, params in self._pending)

    def carry(self) -> None:
        """The writes waiting belong to a write of a group that has ended: they go with
        the group's next statement, and if they fail, the group fails (``poisoned``)."""
        if self.writes_waiting():
            self.carried = True

    def forget(self) -> None:
        """Drop whatever waits (the transaction is rolled back)."""
        self._pending.clear()
        self.carried = self.poisoned = False
        self.shared = self.claimed = False
        self.held = None
        self.prefetched = None

    def flush(self) -> None:
        """Send the deferred statements now."""
        if self._pending:
            self.pipeline([])

    def pipeline(self, statements: list[tuple[str, Any]]) -> list[Any]:
        """Run the deferred statements and ``statements`` (PostgreSQL text, parameters)
        in one round trip (psycopg's pipeline mode; prepared statements as psycopg
        prepares them); their results (cursor-like: fetchone, fetchall, description,
        rowcount), in order. They run in the order given; the first that fails aborts
        the transaction, and its error is raised.

        (One message of the simple query protocol with the values bound on the client
        was tried: fewer socket calls here, but every statement parsed and planned again
        by the server, which shares the machine: slower over all, see the README's
        PostgreSQL figures.)"""
        import psycopg

        pending, self._pending = self._pending, []
        carried, self.carried = self.carried, False
        if len(pending) > 2 and self._cat.many:
            pending = self._merged(pending)
        work = pending + statements
        if not work:
            return []
        try:
            if len(work) == 1:
                cur = self._raw.execute(work[0][0], work[0][1])
                return [Result.of(cur)] if statements else []
            with self._raw.pipeline():
                cursors = [self._raw.execute(sql, params) for sql, params in work]
            return [Result.of(cur) for cur in cursors[len(pending):]]
        except psycopg.Error as e:
            signal = self._lock_signal(e)
            if signal is not None:
                # the carried writes of a concurrent post take no lock that can wait
                # (their chat's row is locked by their own post): the statement that
                # waited is this write's, and the group's earlier writes stand
                raise signal from None
            self.poisoned = self.poisoned or carried
            raise _map_error(e) from None

    def _merged(self, pending: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
        """The deferred statements with each run of writes that have a statement for
        many (``execute_later``'s ``many``), and nothing else between them, sent as one
        statement per kind: their order within the run does not matter (they write
        different tables, or the same row, where the last stands), and each such run
        fails or stands as a whole, as a run of its statements would in one round trip
        (the first failure aborts the transaction)."""
        many = self._cat.many
        out: list[tuple[str, Any]] = []
        run: dict[str, list] = {}

        def close_run() -> None:
            for sql, rows in run.items():
                text, key = many[sql]
                if key is not None:  # one row each: the last write to it stands
                    rows = list({row[key]: row for row in rows}.values())
                if len(rows) == 1:
                    out.append((sql, rows[0]))
                else:
                    out.append((text, [list(column) for column in zip(*rows, strict=True)]))
            run.clear()

        for sql, params in pending:
            if params is not None and sql in many:
                run.setdefault(sql, []).append(params)
                continue
            close_run()
            out.append((sql, params))
        close_run()
        return out

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
            signal = self._lock_signal(e)
            if signal is not None:
                raise signal from None
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
        return Count(count)

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
        self.forget()
        self._raw.close()


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


def storage_error(url: str, e: Exception) -> StorageError:
    """A StorageError for a database that could not be opened."""
    return StorageError(f"{redact(url)}: {e}", key="db_error", the_path=redact(url), e=str(e))


def __getattr__(name: str) -> Any:
    # the engine lives in pg_engine.py (it imports this module)
    if name in ("PostgresEngine", "pool_settings", "DEFAULT_POOL_SIZE", "POOL_ENV"):
        from . import pg_engine

        return getattr(pg_engine, name)
    raise AttributeError(name)
