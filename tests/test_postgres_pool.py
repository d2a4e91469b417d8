"""The PostgreSQL engine's pool of connections, its commit counter (what the in-process
caches check) and its COPY loads, on a real throwaway cluster (tests/pg_support.py)."""

from __future__ import annotations

import threading

from cstool.backend.local import LocalBackend
from cstool.errors import Conflict
from cstool.storage import open_database

from .conftest import NOW, Cli

WAIT_S = 60  # a guard against a hang, never a measure


def _mall(url: str, agents: int = 1, max_chats: int = 5,
          status: str = "online") -> LocalBackend:
    be = LocalBackend(url)
    be.apply({
        "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
        "agents": [{"handle": f"a{i}", "name": f"客服{i}", "shops": ["s"], "status": status,
                    "max_chats": max_chats} for i in range(agents)],
    })
    return be


def test_a_read_runs_while_another_thread_holds_a_write_open(pg_url):
    db = open_database(pg_url, NOW)
    inside, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with db.write() as conn:
                conn.execute("INSERT INTO shops (key, name, created_at, updated_at) "
                             "VALUES ('w', '写', 0, 0)")
                inside.set()
                if not done.wait(WAIT_S):
                    raise AssertionError("the read never finished beside the open write")
        except BaseException as e:  # reported below
            errors.append(e)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert inside.wait(WAIT_S)
        # on one shared connection this read would wait for the write to end
        with db.read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM shops WHERE key = 'w'").fetchone()[0] == 0
        done.set()
    finally:
        done.set()
        thread.join(WAIT_S)
        db.close()
    assert not errors
    db = open_database(pg_url, NOW)
    try:
        with db.read() as conn:
            assert conn.execute("SELECT COUNT(*) FROM shops WHERE key = 'w'").fetchone()[0] == 1
    finally:
        db.close()


def test_writes_of_many_threads_stay_one_at_a_time(pg_url):
    """Read-then-write in many threads on the pool: the write lock keeps every one."""
    db = open_database(pg_url, NOW)
    with db.write() as conn:
        conn.execute("INSERT INTO shops (key, name, created_at, updated_at) "
                     "VALUES ('n', '0', 0, 0)")

    def bump() -> None:
        for _ in range(15):
            with db.write() as conn:
                n = int(conn.execute("SELECT name FROM shops WHERE key = 'n'").fetchone()[0])
                conn.execute("UPDATE shops SET name = ? WHERE key = 'n'", (str(n + 1),))

    threads = [threading.Thread(target=bump) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    try:
        with db.read() as conn:
            assert conn.execute("SELECT name FROM shops WHERE key = 'n'").fetchone()[0] == "90"
    finally:
        db.close()


def test_accept_next_from_many_threads_assigns_each_chat_once_within_capacity(pg_url):
    sep = "&" if "?" in pg_url else "?"
    # busy: routing gives them nothing, they pull (as 千牛's 忙碌)
    be = _mall(f"{pg_url}{sep}pool_size=6", agents=3, max_chats=3, status="busy")
    try:
        for i in range(20):
            be.post_message("s", f"c{i}", f"第{i}个问题")
        taken: list[int] = []
        refused: list[str] = []
        lock = threading.Lock()

        def press(agent: str) -> None:
            for _ in range(6):
                try:
                    got = be.accept_next(agent)
                except Conflict as e:
                    with lock:
                        refused.append(e.key)
                    continue
                if got is not None:
                    with lock:
                        taken.append(got["id"])

        threads = [threading.Thread(target=press, args=(f"a{i % 3}",)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(WAIT_S)
        assert len(taken) == len(set(taken)) == 9  # 3 agents x 3 chats, none twice
        assert set(refused) == {"agent_at_capacity"}
        waiting = be.queue("s")
        assert len(waiting) == 11 and not {w["id"] for w in waiting} & set(taken)
    finally:
        be.close()


def test_another_connections_change_reaches_this_processs_cached_posts(pg_url):
    """Posts cache the shop and routing's agents; another backend's change empties them
    (the commit counter moved), as another process's commit to a SQLite file does."""
    first = _mall(pg_url)
    other = LocalBackend(pg_url)
    try:
        r1 = first.post_message("s", "c1", "在吗")
        assert r1["conversation"]["assignee"] == "a0"
        other.set_agent_status("a0", "offline")
        r2 = first.post_message("s", "c2", "在吗")
        assert r2["conversation"]["assignee"] is None  # not the cached online agent
        other.set_agent_status("a0", "online")
        r3 = first.post_message("s", "c3", "在吗")
        assert r3["conversation"]["assignee"] == "a0"
    finally:
        first.close()
        other.close()


def test_pool_size_comes_from_the_url_and_a_bad_one_is_one_line_exit_1(pg_url):
    sep = "&" if "?" in pg_url else "?"
    ok = Cli(f"{pg_url}{sep}pool_size=2")
    assert ok("shop", "create", "s", "--name", "店").exit_code == 0
    assert ok.json("db", "info")["tables"]["shops"] == 1
    bad = Cli(f"{pg_url}{sep}pool_size=lots")
    r = bad("shop", "list")
    assert r.exit_code == 1
    assert "pool_size" in r.stderr and "Traceback" not in r.output
    assert len(r.stderr.strip().splitlines()) == 1


def test_generated_mall_loads_with_copy_equal_to_sqlite(pg_url, tmp_path):
    pg, lite = Cli(pg_url), Cli(str(tmp_path / "m.db"))
    for target in (pg, lite):
        r = target("fixtures", "generate", "--customers", "300", "--orders", "600",
                   "--seed", "3")
        assert r.exit_code == 0, r.output
    assert pg("export").stdout == lite("export").stdout
    # the identities continue above the loaded ids
    be = LocalBackend(pg_url)
    try:
        posted = be.post_message(be.list("shops", limit=1)[0]["key"], "new-customer", "你好")
        assert posted["conversation"]["customer"] == "new-customer"  # a new row: no key clash
    finally:
        be.close()
