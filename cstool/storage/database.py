"""The SQLite file: opening it safely, migrating it, transactions, backup and info.

WAL mode, a busy timeout and foreign keys are set on every connection; writes run
in ``BEGIN IMMEDIATE`` transactions so that several processes (a TUI, a CLI, a
worker) share one file without lost updates or upgrade deadlocks.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

from ..errors import Conflict, NoDataFile, StorageError
from .errors import DatabaseError
from .migrations import LATEST, MIGRATIONS
from .records import q

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(target: object) -> bool:
    """Whether a --db value names a PostgreSQL database (``postgresql://…``) rather than
    a SQLite file."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def database_exists(target: str | Path) -> bool:
    """Whether the --db target exists already: the file, or (PostgreSQL) always: the
    database is made by its operator, cstool makes the tables."""
    return is_postgres_url(target) or Path(target).exists()

BUSY_TIMEOUT_S = 30.0


def default_db_path() -> Path | str:
    """The file used when no ``--db`` is given: ``$CSTOOL_DB`` (a file, or a
    ``postgresql://`` URL), else the user data dir."""
    env = os.environ.get("CSTOOL_DB")
    if env:
        return env if is_postgres_url(env) else Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("cstool", appauthor=False)) / "cstool.db"


class Database:
    """One open SQLite file with the project's pragmas, migrations and transactions.

    Safe to share between threads of one process (calls are serialised by a lock).
    """

    engine = None  # None: SQLite (the file); else the other engine (storage/postgres.py)

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection: SQLite's one; on PostgreSQL this thread's transaction's (else
        the one for statements outside transactions, used under ``lock``)."""
        if self.engine is not None:
            return self.engine.conn
        return self._conn

    @conn.setter
    def conn(self, value: sqlite3.Connection) -> None:
        self._conn = value

    def __init__(self, path: str | Path, *, create: bool = True):
        self.lock = threading.RLock()
        self.migrated: list[int] = []
        self.generation = 0
        self._group_thread: int | None = None
        if is_postgres_url(path):
            self._open_postgres(str(path))
            return
        self.path = Path(path)
        if not create and not self.path.exists():
            raise NoDataFile(self.path)
        if self.path.parent and not self.path.parent.exists():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            self.conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self.conn.execute("PRAGMA foreign_keys = ON")
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StorageError(f"{self.path}: could not switch to WAL mode ({mode})",
                                   key="db_no_wal", the_path=str(self.path), mode=mode)
            # FULL: a committed (acknowledged) change survives an OS crash too, not only ours.
            self.conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.DatabaseError as e:
            raise StorageError(f"{self.path}: not a usable SQLite database ({e})",
                               key="db_not_sqlite", the_path=str(self.path), e=str(e)) from None
        # self.generation is bumped by every write transaction we start and every
        # rollback: in-process caches compare it (with PRAGMA data_version for other
        # connections' commits); self._group_thread is the thread running a group().

    def _open_postgres(self, url: str) -> None:
        """Connect to the PostgreSQL database at ``url`` (see storage/postgres.py: the
        connection takes the same statements and transactions as SQLite's)."""
        from .pg_engine import PostgresEngine
        from .postgres import redact, storage_error

        self.url = url
        self.path = redact(url)  # what messages and `db info` show (no password)
        try:
            self.engine = PostgresEngine(url)
        except DatabaseError as e:
            raise storage_error(url, e) from None

    # -- transactions -------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE): commits on success, rolls back on error.

        Inside a ``group()`` of this thread it is a savepoint of the group's transaction
        instead: an error rolls back this write alone, success waits for the group's
        commit. (PostgreSQL: ``PostgresEngine.write``, on a pooled connection.)
        """
        if self.engine is not None:
            with self.engine.write(self) as conn:
                yield conn
            return
        if self._group_thread == threading.get_ident():
            self.conn.execute("SAVEPOINT cstool_write")  # one name: a cached statement
            self.generation += 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK TO cstool_write")
                self.conn.execute("RELEASE cstool_write")
                self.generation += 1
                raise
            else:
                self.conn.execute("RELEASE cstool_write")
            return
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise StorageError(f"{self.path}: {e}",
                                   key="db_error", the_path=str(self.path), e=str(e)) from None
            self.generation += 1
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                self.generation += 1
                raise
            else:
                self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent read snapshot (a deferred transaction); inside a ``group()`` of
        this thread, a read of the group's transaction (it sees the group's writes)."""
        if self.engine is not None:
            with self.engine.read(self) as conn:
                yield conn
            return
        if self._group_thread == threading.get_ident():
            yield self.conn
            return
        with self.lock:
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                self.conn.execute("COMMIT")

    @contextlib.contextmanager
    def group(self, *, shared: bool = False) -> Iterator[None]:
        """Group commit: the ``write()`` and ``read()`` calls this thread makes inside run
        in one transaction, each write in its own savepoint, and commit once (one fsync
        for all). A write that fails rolls back alone; a commit that fails fails the
        group (StorageError). Other threads wait for the group, as for any write.

        Whoever answers for the writes of a group answers only after it has committed,
        so an acknowledged change is as durable as one written alone.
        (PostgreSQL: ``PostgresEngine.group``; other threads run beside it on their own
        connections, their writes waiting for the database's write lock. ``shared``:
        customers' posts run beside other such groups, see there; the file ignores it,
        having one writer.)
        """
        if self.engine is not None:
            with self.engine.group(self, shared=shared):
                yield
            return

        with self.lock:
            if self._group_thread is not None:
                # groups do not nest
                raise StorageError("a group is open already", key="db_group_open")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                raise StorageError(f"{self.path}: {e}",
                                   key="db_error", the_path=str(self.path), e=str(e)) from None
            self._group_thread = threading.get_ident()
            try:
                yield
            except BaseException:
                self._group_thread = None
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                self.generation += 1
                raise
            self._group_thread = None
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as e:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                self.generation += 1
                raise StorageError(f"{self.path}: commit failed: {e}",
                                   key="db_commit_failed", the_path=str(self.path),
                                   e=str(e)) from None

    def data_version(self) -> int:
        """Changes whenever another connection commits to the file."""
        if self.engine is not None:
            return self.engine.data_version()
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    # -- schema ------------------------------------------------------------------
    def schema_version(self) -> int:
        """The highest migration recorded in the file (0 for a new file)."""
        if self.engine is not None:
            with self.engine.session() as conn:
                if not self.engine.has_table(conn, "schema_migrations"):
                    return 0
                return conn.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0]
        row = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='schema_migrations'"
        ).fetchone()
        if not row:
            return 0
        return self.conn.execute(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
        ).fetchone()[0]

    def upgrade(self, now_ms: int) -> list[int]:
        """Apply every pending migration, each in its own transaction; return those applied.

        Safe when several processes open a new file at once: the version is read
        again inside the write lock.
        """
        applied: list[int] = []
        try:
            if self.schema_version() > LATEST:
                raise StorageError(
                    f"{self.path} has schema version {self.schema_version()}, newer than this "
                    f"cstool knows ({LATEST}); upgrade cstool",
                                   key="db_schema_newer", the_path=str(self.path),
                                   schema_version=self.schema_version(), LATEST=LATEST)
            if self.schema_version() == LATEST:
                return applied
            if self.engine is not None:  # every write transaction takes a number of it
                self.engine.make_commit_counter()
            for version, name, sql in MIGRATIONS:
                with self.write() as conn:
                    conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_migrations ("
                        "version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
                        "applied_at BIGINT NOT NULL)"
                    )
                    if self.schema_version() >= version:
                        continue
                    if self.engine is not None:  # the same history in its dialect
                        self.engine.prepare_schema(self.conn)
                        statements = self.engine.migration_statements(version, sql)
                    else:
                        statements = sql.split(";\n")
                    for statement in statements:
                        if statement.strip():
                            conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES (?, ?, ?)",
                        (version, name, now_ms),
                    )
                    applied.append(version)
            if self.engine is not None and applied:  # the servers' wake-up, made once here
                self.engine.install_notify()
        except DatabaseError as e:
            raise StorageError(f"{self.path}: {e}",
                               key="db_error", the_path=str(self.path), e=str(e)) from None
        self.migrated = applied
        return applied

    def migrations(self) -> list[dict]:
        """The migrations recorded in the file."""
        if self.schema_version() == 0:
            return []
        with self.read() as conn:
            rows = conn.execute(
                "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
            ).fetchall()
        return [{"version": v, "name": n, "applied_at": a} for v, n, a in rows]

    # -- maintenance -------------------------------------------------------------
    def table_counts(self) -> dict[str, int]:
        """Row counts of every table, by name."""
        if self.engine is not None:
            with self.engine.session() as conn:
                return {name: conn.execute(f"SELECT COUNT(*) FROM {q(name)}").fetchone()[0]
                        for name in self.engine.table_names(conn)}
        with self.lock:  # SQLite's catalogue
            names = [r[0] for r in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")
                if not r[0].startswith("sqlite_")]
            return {name: self.conn.execute(f"SELECT COUNT(*) FROM {q(name)}").fetchone()[0]
                    for name in names}

    def journal_mode(self) -> str:
        """The file's journal mode (``wal``)."""
        if self.engine is not None:
            return self.engine.journal_mode()
        with self.lock:
            return self.conn.execute("PRAGMA journal_mode").fetchone()[0]

    def backup(self, target: str | Path) -> Path:
        """Copy the file with SQLite's online backup API: safe while others write.
        (PostgreSQL: refused with a Conflict that names pg_dump.)"""
        if self.engine is not None:
            self.engine.backup(target)
        target = Path(target)
        if target.exists():  # the state refuses it (as on the server): a Conflict
            raise Conflict(f"backup {target} exists already; choose a new name",
                           key="backup_exists", name=str(target))
        if target.parent and not target.parent.exists():
            raise StorageError(f"folder {target.parent} does not exist",
                               key="backup_no_folder", parent=str(target.parent))
        with self.lock:
            dest = sqlite3.connect(str(target))
            try:
                self.conn.backup(dest, pages=4096)
            finally:
                dest.close()
        return target

    def size_bytes(self) -> int:
        """Size of the file plus its WAL (PostgreSQL: the database's size)."""
        if self.engine is not None:
            with self.engine.session() as conn:
                return self.engine.size_bytes(conn)
        total = 0
        for suffix in ("", "-wal"):
            p = Path(str(self.path) + suffix)
            if p.exists():
                total += p.stat().st_size
        return total

    def close(self) -> None:
        """Close the connection (PostgreSQL: every connection of the pool)."""
        if self.engine is not None:
            self.engine.close()
            return
        with self.lock:
            self.conn.close()


def open_database(path: str | Path, now_ms: int, *, create: bool = True) -> Database:
    """Open (creating if needed) and migrate the file at ``path``."""
    db = Database(path, create=create)
    db.upgrade(now_ms)
    return db
