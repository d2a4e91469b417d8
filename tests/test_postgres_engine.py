"""The PostgreSQL engine (``--db postgresql://…``) on a real throwaway cluster
(tests/pg_support.py): the schema history, the CLI's store commands, the demo mall equal
to the same mall on SQLite, the storage's error types, and the dialect's translation."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from typer.testing import CliRunner

from commands.main import app
from cstool.backend.local import LocalBackend
from cstool.storage import DatabaseError, IntegrityError, open_database
from cstool.storage.connection import execute_later
from cstool.storage.dialect import translate, translate_ddl
from cstool.storage.migrations import LATEST, MIGRATIONS

from .conftest import NOW, Cli


@pytest.fixture
def pg(pg_url):
    return Cli(pg_url)  # the same in-process CLI as the SQLite tests, on a URL


def test_every_migration_runs_on_an_empty_postgresql_database(pg_url):
    db = open_database(pg_url, NOW)
    try:
        assert db.migrated == [v for v, _, _ in MIGRATIONS]
        assert db.schema_version() == LATEST
        # opening again applies nothing
        assert db.upgrade(NOW) == []
        tables = db.table_counts()
        assert {"shops", "agents", "conversations", "messages", "events", "queue_bands",
                "schema_migrations"} <= set(tables)
        assert tables["desk_version"] == 1  # the migration's own INSERT ran
    finally:
        db.close()


def test_db_info_and_upgrade_on_postgresql(pg):
    r = pg("shop", "create", "s", "--name", "翎衣女装")
    assert r.exit_code == 0, r.output
    info = pg.json("db", "info")
    assert info["engine"] == "postgresql"
    assert info["schema_version"] == LATEST and info["latest_schema_version"] == LATEST
    assert [m["version"] for m in info["migrations"]] == [v for v, _, _ in MIGRATIONS]
    assert info["tables"]["shops"] == 1 and info["tables"]["events"] >= 1
    assert info["size_bytes"] > 0
    assert pg.json("db", "upgrade") == {"applied": [], "schema_version": LATEST}
    shown = pg("db", "info").stdout.splitlines()
    assert shown[0].split() == ["engine", "PostgreSQL"]  # and no SQLite journal mode
    assert not any(line.startswith("journal mode") for line in shown)


def _read_write_role(url: str) -> tuple[str, str]:
    """A login role with only the rights of an application that reads and writes:
    USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on its tables, USAGE/SELECT on its
    sequences; no CREATE anywhere (granted by the superuser); its name and URL."""
    import os

    import psycopg

    role = f"rw{os.getpid()}_{url.split('/')[3].split('?')[0]}"
    with psycopg.connect(url, autocommit=True) as conn:
        for sql in (f"CREATE ROLE {role} LOGIN",
                    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                    "REVOKE CREATE, TEMPORARY ON DATABASE "
                    f"{url.split('/')[3].split('?')[0]} FROM PUBLIC",
                    f"GRANT USAGE ON SCHEMA public TO {role}",
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public "
                    f"TO {role}",
                    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"):
            conn.execute(sql)
    return role, url.replace("cstool@", f"{role}@", 1)


def _drop_role(url: str, role: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


def test_a_role_without_create_rights_opens_an_upgraded_database_and_posts(pg_url):
    """`db upgrade` (by the owner) makes everything, the commit counter too (migration
    21): an application role that may only read and write opens the database, posts a
    message, and `db info` reads its version."""
    import psycopg

    owner = Cli(pg_url)
    assert owner.json("db", "upgrade")["schema_version"] == LATEST
    assert owner("shop", "create", "s", "--name", "翎衣女装").exit_code == 0
    role, url = _read_write_role(pg_url)
    try:
        with psycopg.connect(url, autocommit=True) as conn, \
                pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE SEQUENCE cstool_try")  # the role really may not create
        backend = LocalBackend(url)
        try:
            # the servers' NOTIFY trigger was made by the upgrade: the role listens
            # (finds it current) instead of falling back to polling
            from cstool.storage.notify import listener_for, wait_connected

            woken = []
            listener = listener_for(backend.database, woken.append)
            try:
                assert wait_connected(listener, 30)
                posted = backend.post_message("s", "k1", "在吗？双十一还有优惠吗")
                deadline = time.monotonic() + 30
                while not woken and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert woken  # the role's own post woke it
            finally:
                listener.stop()
            assert posted["message"]["body"] == "在吗？双十一还有优惠吗"
            assert backend.info()["schema_version"] == LATEST
        finally:
            backend.close()
        info = Cli(url).json("db", "info")
        assert info["schema_version"] == info["latest_schema_version"] == LATEST
        assert [m["version"] for m in info["migrations"]] == [v for v, _, _ in MIGRATIONS]
        seen = LocalBackend(pg_url)  # the owner reads what the role wrote
        try:
            assert [m["body"] for m in seen.get_conversation(
                posted["conversation"]["id"])["messages"]][:1] == ["在吗？双十一还有优惠吗"]
        finally:
            seen.close()
    finally:
        _drop_role(pg_url, role)


def test_an_upgrade_from_before_migration_22_makes_the_commit_counter(pg_url):
    """A database from before migration 21 without the counter: `db upgrade` applies 21,
    which makes it, and writes go on (their numbers start from the counter's first)."""
    import psycopg

    owner = Cli(pg_url)
    assert owner("shop", "create", "s", "--name", "店").exit_code == 0
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP SEQUENCE cstool_commits")
        conn.execute("DELETE FROM schema_migrations WHERE version = 21")
    assert owner.json("db", "upgrade") == {"applied": [21], "schema_version": LATEST}
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('cstool_commits') IS NOT NULL").fetchone()[0]
    assert owner("shop", "create", "t", "--name", "二店").exit_code == 0
    assert [s["key"] for s in owner.json("shop", "list")] == ["s", "t"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT last_value FROM cstool_commits").fetchone()[0] >= 1


def test_the_url_shown_never_carries_the_password(pg_cluster, pg_url):
    url = pg_url.replace("cstool@", "cstool:s3cret@")
    info = Cli(url).json("db", "info")
    assert "s3cret" not in json.dumps(info) and "cstool:***@" in info["path"]


def test_backup_on_postgresql_is_refused_with_pg_dump_named(pg, tmp_path):
    pg("shop", "create", "s", "--name", "店")
    r = pg("db", "backup", str(tmp_path / "copy.db"))
    assert r.exit_code == 1
    assert "pg_dump" in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "copy.db").exists()


def test_demo_mall_on_postgresql_exports_equal_to_sqlite(pg, cli):
    for target in (pg, cli):
        r = target("demo", "--summary")
        assert r.exit_code == 0, r.output
        assert "翎衣女装旗舰店" in r.stdout
    assert pg("export").stdout == cli("export").stdout
    assert pg.json("shop", "list") == cli.json("shop", "list")
    assert pg.json("agent", "list") == cli.json("agent", "list")


def test_apply_and_export_round_trip_on_postgresql(pg, cli, tmp_path):
    cli("fixtures", "load", "demo")
    exported = tmp_path / "mall.yaml"
    assert cli("export", "-o", str(exported)).exit_code == 0
    applied = pg.json("apply", "-f", str(exported))
    assert applied["created"] >= 1000 and applied["updated"] == 0
    assert pg("export").stdout == exported.read_text(encoding="utf-8")
    # applying the same file again changes nothing
    again = pg.json("apply", "-f", str(exported))
    assert again["created"] == 0 and again["updated"] == 0
    assert again["unchanged"] == applied["created"]
    assert pg("export").stdout == exported.read_text(encoding="utf-8")


def test_cstool_db_env_var_takes_a_postgresql_url(pg_url, monkeypatch):
    monkeypatch.setenv("CSTOOL_DB", pg_url)
    r = CliRunner().invoke(app, ["shop", "create", "s", "--name", "店"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["--json", "shop", "list"])
    assert [s["key"] for s in json.loads(r.stdout)] == ["s"]


def test_an_unreachable_database_is_one_line_exit_1():
    r = CliRunner().invoke(app, ["--db", "postgresql://nobody@/nodb?host=/nonexistent-dir",
                                 "shop", "list"])
    assert r.exit_code == 1
    assert "Traceback" not in r.output and len(r.stderr.strip().splitlines()) == 1


def test_constraint_errors_are_the_storages_error_types(pg_url):
    backend = LocalBackend(pg_url)
    try:
        with pytest.raises(IntegrityError) as raised:
            with backend.database.write() as conn:
                conn.execute("INSERT INTO shops (key, name, created_at, updated_at) "
                             "VALUES ('a', 'A', 1, 1)")
                conn.execute("INSERT INTO shops (key, name, created_at, updated_at) "
                             "VALUES ('a', 'B', 1, 1)")
        assert isinstance(raised.value, DatabaseError)
        # the failed transaction rolled back whole; the connection goes on
        assert backend.list("shops") == []
    finally:
        backend.close()


def test_a_failed_write_of_a_group_rolls_back_alone(pg_url):
    """The server's group commit: each write a savepoint; one failing leaves the others
    to commit (PostgreSQL aborts a transaction on an error; the savepoint restores it)."""
    backend = LocalBackend(pg_url)
    db = backend.database
    insert = "INSERT INTO shops (key, name, created_at, updated_at) VALUES (?, ?, 1, 1)"
    try:
        with db.group():
            with db.write() as conn:
                conn.execute(insert, ("a", "A"))
            with pytest.raises(IntegrityError), db.write() as conn:
                conn.execute(insert, ("a", "again"))
            with db.write() as conn:
                conn.execute(insert, ("b", "B"))
        assert sorted(s["key"] for s in backend.list("shops")) == ["a", "b"]
    finally:
        backend.close()


def test_a_write_sent_later_commits_with_its_transaction_and_fails_it(pg_url):
    """``execute_later``: a write nobody reads back goes with the next statement or the
    COMMIT; its error fails the transaction it belongs to, which rolls back whole."""
    backend = LocalBackend(pg_url)
    db = backend.database
    insert = "INSERT INTO shops (key, name, created_at, updated_at) VALUES (?, ?, 1, 1)"
    try:
        with db.write() as conn:
            execute_later(conn, insert, ("a", "A"))
            # the next statement carries it: it sees the row
            assert conn.execute("SELECT COUNT(*) FROM shops").fetchone()[0] == 1
            execute_later(conn, insert, ("b", "B"))  # goes with the COMMIT
        with pytest.raises(IntegrityError), db.write() as conn:
            conn.execute(insert, ("c", "C"))
            execute_later(conn, insert, ("a", "again"))  # fails at the COMMIT
        assert sorted(s["key"] for s in backend.list("shops")) == ["a", "b"]
    finally:
        backend.close()


def test_statements_sent_together_keep_every_value(pg_url):
    """Writes sent later go in one message with the statement that carries them, their
    values bound on the client: quotes, backslashes, percent signs, CJK, NULL, truth
    values and numbers come back as given; a JSON list (sent typed) also carries them."""
    backend = LocalBackend(pg_url)
    db = backend.database
    names = ["翎衣女装", "it's", "back\\slash\n", "50% off", "%s and %(x)s", "a;b--c", "'; DROP"]
    try:
        with db.write() as conn:
            for i, name in enumerate(names):
                execute_later(conn, "INSERT INTO shops (key, name, created_at, updated_at) "
                              "VALUES (?, ?, ?, ?)", (f"s{i}", name, 10**12 + i, True))
            # carried by a plain statement: one message, values bound on the client
            assert conn.execute("SELECT name FROM shops WHERE key = ?",
                                ("s0",)).fetchone() == (names[0],)
            execute_later(conn, "INSERT INTO shops (key, name, created_at, updated_at) "
                          "VALUES (?, ?, ?, ?)", ("none", "无", 1, 0))
            # carried by a statement with a JSON list: sent typed (pipeline mode)
            got = conn.execute("SELECT key, name, created_at, updated_at FROM shops WHERE key "
                               "IN (SELECT value FROM json_each(?)) ORDER BY key",
                               (json.dumps([f"s{i}" for i in range(len(names))]),)).fetchall()
        assert got == [(f"s{i}", n, 10**12 + i, 1) for i, n in enumerate(names)]
        with db.read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM shops").fetchone()[0] == len(names) + 1
    finally:
        backend.close()


def test_a_group_whose_ended_write_fails_later_commits_nothing(pg_url):
    """In a group, a write's deferred statements go with the group's next statement; if
    they fail there, the write they belong to had ended (and its caller been answered
    as part of the group): the group fails whole, nothing of it is committed."""
    from cstool.errors import StorageError

    backend = LocalBackend(pg_url)
    db = backend.database
    insert = "INSERT INTO shops (key, name, created_at, updated_at) VALUES (?, ?, 1, 1)"
    try:
        with db.write() as conn:
            conn.execute(insert, ("a", "A"))
        with pytest.raises(StorageError), db.group():
            with db.write() as conn:
                conn.execute(insert, ("b", "B"))
                execute_later(conn, insert, ("a", "again"))  # will break the key
            with contextlib.suppress(IntegrityError), db.write() as conn:
                conn.execute(insert, ("c", "C"))  # carries the broken write
            with db.write() as conn:
                conn.execute(insert, ("d", "D"))
        assert sorted(s["key"] for s in backend.list("shops")) == ["a"]
        # and the failed write's own deferred statements stay its own in a group
        with db.group():
            with pytest.raises(IntegrityError), db.write() as conn:
                execute_later(conn, insert, ("e", "E"))
                conn.execute(insert, ("a", "again"))
            with db.write() as conn:
                conn.execute(insert, ("f", "F"))
        assert sorted(s["key"] for s in backend.list("shops")) == ["a", "f"]
    finally:
        backend.close()


def test_lastrowid_and_explicit_ids_keep_the_identity_going(pg_url):
    backend = LocalBackend(pg_url)
    try:
        with backend.database.write() as conn:
            first = conn.execute("INSERT INTO shops (key, name, created_at, updated_at) "
                                 "VALUES (?, ?, ?, ?)", ("a", "A", 1, 1)).lastrowid
            conn.execute("INSERT INTO shops (id, key, name, created_at, updated_at) "
                         "VALUES (?, ?, ?, ?, ?)", (first + 10, "b", "B", 1, 1))
            after = conn.execute("INSERT INTO shops (key, name, created_at, updated_at) "
                                 "VALUES (?, ?, ?, ?)", ("c", "C", 1, 1)).lastrowid
        assert first >= 1 and after == first + 11
    finally:
        backend.close()


# -- the dialect (storage/dialect.py) -----------------------------------------------------------
@pytest.mark.parametrize("sqlite, postgres", [
    ("SELECT a FROM t WHERE b = ? AND c = :name",
     "SELECT a FROM t WHERE b = %s AND c = %(name)s"),
    ("SELECT a FROM t WHERE b IS ? AND c IS NOT ? AND d IS NULL AND e IS NOT NULL",
     "SELECT a FROM t WHERE b IS NOT DISTINCT FROM %s AND c IS DISTINCT FROM %s "
     "AND d IS NULL AND e IS NOT NULL"),
    ("SELECT MAX(a, MIN(b, c)), MAX(d) FROM t",
     "SELECT cstool_max(a, cstool_min(b, c)), MAX(d) FROM t"),
    ("SELECT id FROM t INDEXED BY t_hot WHERE x LIKE ? ESCAPE '\\'",
     "SELECT id FROM t  WHERE x COLLATE \"C\" ILIKE %s ESCAPE '\\'"),
    ("SELECT 1 FROM t WHERE a = '50%' AND 1", "SELECT 1 FROM t WHERE a = '50%%' AND true"),
    ("SELECT COUNT(*) FROM (SELECT 1 FROM t LIMIT ?)",
     "SELECT COUNT(*) FROM (SELECT 1 FROM t LIMIT NULLIF(GREATEST(%s, -1), -1)) AS cstool_sub1"),
    ("SELECT k.similar FROM knowledge k", 'SELECT k."similar" FROM knowledge k'),
    ("SELECT m.a FROM m CROSS JOIN c ON c.id = m.c", "SELECT m.a FROM m JOIN c ON c.id = m.c"),
])
def test_statements_translate(sqlite, postgres):
    assert translate(sqlite).sql == postgres


def test_insert_or_ignore_and_json_lists_translate():
    t = translate("INSERT OR IGNORE INTO x (id, a) VALUES (?, ?)")
    assert t.sql == "INSERT INTO x (id, a) VALUES (%s, %s) ON CONFLICT DO NOTHING"
    assert t.insert_table == "x" and t.insert_columns == ("id", "a")
    t = translate("SELECT a FROM t WHERE b = ? AND c IN (SELECT value FROM json_each(?))",
                  ("text",))
    assert t.sql == "SELECT a FROM t WHERE b = %s AND c IN (SELECT unnest(%s::text[]))"
    assert t.json_lists == (1,)


def test_a_sqlite_trigger_becomes_a_plpgsql_function_and_trigger():
    out = translate_ddl("CREATE TRIGGER bump AFTER UPDATE OF status ON agents "
                        "WHEN NEW.status <> OLD.status "
                        "BEGIN UPDATE desk_version SET v = random(); END")
    assert len(out) == 2
    assert out[0].startswith("CREATE OR REPLACE FUNCTION bump_fn() RETURNS trigger")
    assert "UPDATE desk_version SET v = cstool_random();" in out[0]
    assert out[1] == ('CREATE TRIGGER bump AFTER UPDATE OF status ON "agents" FOR EACH ROW '
                      "WHEN (NEW.status <> OLD.status) EXECUTE FUNCTION bump_fn()")


# -- cstool db copy ----------------------------------------------------------------------------
def test_db_copy_moves_a_mall_to_postgresql_and_back(cli, pg_url, tmp_path):
    cli("demo", "--summary")
    # a chat waiting in the queue, so the trigger-kept counts come along too
    r = cli("conv", "post", "--shop", "lingyi-fashion", "--customer", "copy-test-customer",
            "在吗？这件有M码吗")
    assert r.exit_code == 0, r.output
    runner = CliRunner()
    r = runner.invoke(app, ["--json", "db", "copy", cli.db, pg_url])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["verified"] is True and out["rows"] > 1000
    assert out["tables"]["messages"] == cli.json("db", "info")["tables"]["messages"]
    pg = Cli(pg_url)
    assert pg("export").stdout == cli("export").stdout
    assert pg.json("conv", "queue", "--shop", "lingyi-fashion") == \
        cli.json("conv", "queue", "--shop", "lingyi-fashion")
    # the identity goes on above the copied ids: a new chat on PostgreSQL gets a new id
    r = pg("conv", "post", "--shop", "lingyi-fashion", "--customer", "after-copy", "你好")
    assert r.exit_code == 0, r.output
    back = tmp_path / "back.db"
    r = runner.invoke(app, ["--json", "db", "copy", pg_url, str(back)])
    assert r.exit_code == 0, r.output
    assert Cli(str(back))("export").stdout == pg("export").stdout


def test_db_copy_into_a_store_that_holds_a_mall_is_refused(cli, pg_url):
    cli("shop", "create", "s", "--name", "店")
    pg = Cli(pg_url)
    pg("shop", "create", "other", "--name", "别的店")
    r = CliRunner().invoke(app, ["db", "copy", cli.db, pg_url])
    assert r.exit_code == 1
    assert "not empty" in r.stderr and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1, r.output  # no progress bar before it
    assert [s["key"] for s in pg.json("shop", "list")] == ["other"]


def test_db_copy_from_a_missing_file_is_refused(tmp_path, pg_url):
    r = CliRunner().invoke(app, ["db", "copy", str(tmp_path / "nope.db"), pg_url])
    assert r.exit_code == 1 and "Traceback" not in r.output
