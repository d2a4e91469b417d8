"""The SQLite file: migrations, pragmas, backups and several processes at once."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from cstool.backend.local import LocalBackend
from cstool.errors import StorageError
from cstool.storage import open_database
from cstool.storage.migrations import LATEST, MIGRATIONS

WRITER = textwrap.dedent("""
    import sys, time
    from cstool.backend.local import LocalBackend
    path, tag, n, start = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    b = LocalBackend(path)
    while time.time() < start:
        time.sleep(0.001)
    for i in range(n):
        b.create("customers", {"key": f"{tag}-{i}", "name": "客户",
                               "profiles": [{"shop": "s", "level": i % 6}]})
        b.update("shops", "s", {"name": f"{tag}{i}"})
    b.close()
""")


def _run_writers(path, tags, n):
    start = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), tag, str(n), str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in tags
    ]
    return procs


def test_new_file_is_migrated_with_pragmas(db_path, clock):
    db = open_database(db_path, clock.now_ms())
    assert db.schema_version() == LATEST
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
    assert [m["version"] for m in db.migrations()] == [v for v, _, _ in MIGRATIONS]
    assert db.upgrade(clock.now_ms()) == []
    db.close()


def test_newer_schema_is_refused(db_path, clock, cli):
    db = open_database(db_path, clock.now_ms())
    db.conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    db.close()
    with pytest.raises(StorageError, match="newer than this cstool knows"):
        open_database(db_path, clock.now_ms())
    r = cli("shop", "list")
    assert r.exit_code == 1 and "upgrade cstool" in r.stderr


def test_not_a_database(tmp_path):
    from typer.testing import CliRunner

    from commands.main import app

    path = tmp_path / "notes.txt"
    path.write_text("这不是数据库\n" * 200, encoding="utf-8")
    r = CliRunner().invoke(app, ["--db", str(path), "shop", "list"])
    assert r.exit_code == 1
    assert r.stderr.startswith("Error: ") and "not a usable SQLite database" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_two_processes_writing_at_once_lose_nothing(db_path, clock):
    b = LocalBackend(db_path, clock=clock)
    b.create("shops", {"key": "s", "name": "店"})
    b.close()
    n = 150
    procs = _run_writers(db_path, ["a", "b"], n)
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    b = LocalBackend(db_path, clock=clock)
    keys = {c["key"] for c in b.list("customers")}
    assert keys == {f"{t}-{i}" for t in "ab" for i in range(n)}
    types = [e["type"] for e in b.events(after=0, limit=10_000)]
    assert types.count("customer.created") == 2 * n
    assert types.count("shop.updated") == 2 * n
    b.close()


def test_backup_while_another_process_writes_is_consistent(db_path, clock, tmp_path):
    b = LocalBackend(db_path, clock=clock)
    b.create("shops", {"key": "s", "name": "店"})
    procs = _run_writers(db_path, ["w"], 400)
    time.sleep(2.0)  # the writer is running now
    target = tmp_path / "backup.db"
    b.backup(str(target))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    b.close()
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    customers = conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0]
    created = conn.execute(
        "SELECT COUNT(*) FROM events WHERE type = 'customer.created'"
    ).fetchone()[0]
    # every change and its event commit together: the copy holds both or neither
    assert customers == created
    conn.close()


def test_a_version_1_file_is_upgraded_in_place(db_path, clock):
    """A file made by the first release gains the later migrations and keeps its data."""
    from cstool.storage.database import Database
    from cstool.storage.migrations import MIGRATIONS

    db = Database(db_path)
    with db.write() as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
        for statement in MIGRATIONS[0][2].split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (1, 'v1', 0)")
        conn.execute("INSERT INTO shops (key, name, created_at, updated_at) "
                     "VALUES ('old', '老店', 0, 0)")
        conn.execute("INSERT INTO events (at, type, entity, entity_key) "
                     "VALUES (0, 'shop.created', 'shop', 'old')")
        conn.execute("INSERT INTO events (at, type, entity, entity_key) "
                     "VALUES (1, 'shop.updated', 'shop', 'old')")
    db.close()
    b = LocalBackend(db_path, clock=clock)
    assert b.info()["schema_version"] == LATEST
    assert b.get("shops", "old")["name"] == "老店"
    # the event log kept its ids, and goes on after them (no AUTOINCREMENT since 10)
    assert [(e["id"], e["type"]) for e in b.events()] == [(1, "shop.created"),
                                                          (2, "shop.updated")]
    b.update("shops", "old", {"name": "老字号"})
    assert [e["id"] for e in b.events(after=2)] == [3]
    sql = b.database.conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events'")
    assert "AUTOINCREMENT" not in sql.fetchone()[0]
    b.close()
