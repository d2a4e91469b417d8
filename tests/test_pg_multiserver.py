"""Several real `cstool serve` processes on one database (issue 19, item 3): the event
stream complete and in order across servers, atomic accept-next across servers, a server
killed with SIGKILL while 50 clients post, token revocation and rights changes seen by
every server, and `serve --workers N`.

Real uvicorn processes on free loopback ports, on a database of the throwaway PostgreSQL
cluster (tests/pg_support.py), and on a SQLite file where several serves sharing one file
is a supported set-up too. The clients are threads with httpx (the servers are the
processes under test), except accept-next's eight pressers: OS processes of their own
(tests/accept_presser.py, the remote client with each agent's token)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from cstool.auth import PRINCIPAL_TTL_S
from cstool.backend.local import LocalBackend
from cstool.services.tokens import TokenStore

from .multiserver_support import EventReader, ServeProcess, event_ids, query, servers

SHOP = "s"


def _mall(db: str, agents: list[str], capacity: int = 5, shops=(SHOP, "t")) -> str:
    """Human-only shops with busy agents (routing hands them nothing by itself); an
    admin token."""
    b = LocalBackend(db)
    try:
        b.apply({
            "shops": [{"key": k, "name": f"{k}店", "service_mode": "human_only"}
                      for k in shops],
            "agents": [{"handle": h, "name": h, "shops": list(shops), "status": "busy",
                        "max_chats": capacity} for h in agents],
        })
        return TokenStore(b).create_token(None, "admin", label="tests")["token"]
    finally:
        b.close()


@pytest.fixture(scope="module")
def pg_pair(pg_cluster):
    """Two serve processes on one PostgreSQL database (shared by the tests of this module
    that do not kill a server; each works in its own shop or with its own agents)."""
    url = pg_cluster.database(migrated=True)
    admin = _mall(url, [])
    try:
        with servers(url, 2) as procs:
            yield url, admin, procs
    finally:
        pg_cluster.drop(url)


def _head(db: str) -> int:
    ids = query(db, "SELECT COALESCE(MAX(id), 0) FROM events")
    return ids[0][0]


def _in_threads(fn, n: int) -> None:
    """``fn(0) ... fn(n - 1)`` in threads at once; the first failure of any is raised."""
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            fn(i)
        except BaseException as e:  # noqa: BLE001 (raised in the test's thread)
            failures.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_subscriber_of_one_server_sees_every_event_of_the_other_in_order(
        engine, tmp_path, request):
    if engine == "sqlite":
        db = str(tmp_path / "mall.db")
        admin = _mall(db, [])
        pair = servers(db, 2)
    else:
        db, admin, procs = request.getfixturevalue("pg_pair")
        pair = contextlib.nullcontext(procs)
    start = _head(db)
    with pair as (a, b):
        reader = EventReader(a.url, admin).start()
        posted: list[int] = []
        lock = threading.Lock()

        def post(n: int) -> None:
            # alternately through both servers; each client its own customer
            with _client(a.url, admin) as ca, _client(b.url, admin) as cb:
                for i in range(15):
                    c = (cb, ca)[i % 2]
                    r = c.post(f"/v1/shops/{SHOP}/messages",
                               json={"customer": f"k{n}", "text": f"第{i}条：在吗"})
                    assert r.status_code in (200, 201), r.text
                    with lock:
                        posted.append(r.json()["message"]["id"])

        _in_threads(post, 8)
        table = event_ids(db, start)
        assert reader.wait_for(table[-1]), reader.error
        reader.stop()
        # every event of the table, each once, in the table's order
        assert reader.ids[:len(table)] == table
        created = [e["payload"]["message"] for e in reader.events
                   if e["type"] == "message.created"]
        assert len(posted) == 8 * 15 and set(posted) <= set(created)
        # resumable by id on the other server: from the middle, exactly the rest
        middle = table[len(table) // 2]
        again = EventReader(b.url, admin, last_id=middle).start()
        assert again.wait_for(table[-1]), again.error
        again.stop()
        assert again.ids[:len(table) - len(table) // 2 - 1] == \
            table[len(table) // 2 + 1:]


CHATS = 1000
PRESSERS = 8  # processes, two for each agent (one through each server)
AGENTS = 4
CAPACITY = 50  # the most an agent may have (the most allowed); 200 slots for 1,000 chats
PRESSER = Path(__file__).with_name("accept_presser.py")


def _replay(rows: list[tuple]) -> tuple[dict[str, int], dict[str, int]]:
    """Each agent's open chats after every assignment and close of ``rows`` (events in
    id order: an accept that counted a close's freed slot took its number after the
    close's): the most any agent had
    at once, and what each has at the end."""
    owner: dict[str, str] = {}
    now: Counter = Counter()
    most: Counter = Counter()
    for _, kind, key, payload in rows:
        if kind == "conversation.assigned":
            owner[key] = json.loads(payload)["agent"]
            now[owner[key]] += 1
            most[owner[key]] = max(most[owner[key]], now[owner[key]])
        else:
            now[owner[key]] -= 1
    return dict(most), dict(now)


def test_eight_processes_pressing_accept_next_across_two_servers(pg_pair):
    """Eight OS processes (tests/accept_presser.py), each with its agent's token through
    the remote client, four through each server, started at one signal, press accept-next
    over 1,000 waiting chats; each agent is pressed for by two processes on different
    servers, which close chats when the agent is full."""
    pg_url, _, procs = pg_pair
    handles = [f"p{i}" for i in range(AGENTS)]
    _mall(pg_url, handles, CAPACITY, shops=("p",))
    b = LocalBackend(pg_url)
    try:
        tokens = {h: TokenStore(b).create_token(h)["token"] for h in handles}
        for first in range(0, CHATS, 250):
            with b.database.group():  # one commit per 250 (a quicker set-up)
                for i in range(first, first + 250):
                    b.post_message("p", f"c{i:04d}", "双十一的优惠还有吗")
    finally:
        b.close()
    waiting = {r[0] for r in query(pg_url, "SELECT c.id FROM conversations c JOIN shops s "
                                   "ON s.id = c.shop_id WHERE s.key = 'p' AND "
                                   "c.state = 'queued'")}
    assert len(waiting) == CHATS
    start = _head(pg_url)
    desks = [(handles[n % AGENTS], procs[(n // AGENTS + n) % 2]) for n in range(PRESSERS)]
    assert {(h, s.url) for h, s in desks} == {(h, s.url) for h in handles for s in procs}
    pressers = [subprocess.Popen(
        [sys.executable, str(PRESSER), server.url, tokens[h], h, "p"], cwd=PRESSER.parent.parent,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for h, server in desks]
    try:
        for p in pressers:  # the barrier: every one reached its server and waits
            assert p.stdout.readline().strip() == "ready", p.communicate(timeout=30)
        for p in pressers:
            p.stdin.write("go\n")
            p.stdin.flush()
        outcomes = []
        for p in pressers:
            out, err = p.communicate(timeout=180)
            assert p.returncode == 0, err
            outcomes.append(json.loads(out))
    finally:
        for p in pressers:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(o["finished"] for o in outcomes), outcomes
    accepted = [c for o in outcomes for c in o["accepted"]]
    assert len(accepted) == CHATS and set(accepted) == waiting  # every chat, once
    rows = query(pg_url, "SELECT e.id, e.type, e.entity_key, e.payload FROM events e JOIN "
                 "shops s ON s.id = e.shop_id WHERE e.id > ? AND s.key = 'p' AND e.type IN "
                 "('conversation.assigned', 'conversation.closed') ORDER BY e.id", (start,))
    assigned = Counter((int(key), json.loads(payload)["agent"])
                       for _, kind, key, payload in rows if kind == "conversation.assigned")
    # each chat assigned once, to the agent of the process that got it
    assert assigned == Counter((c, o["agent"]) for o in outcomes for c in o["accepted"])
    closed = sorted(int(key) for _, kind, key, _ in rows if kind == "conversation.closed")
    assert closed == sorted(c for o in outcomes for c in o["closed"])
    most, left = _replay(rows)
    assert most == {h: CAPACITY for h in handles}  # every agent full, none above
    assert sum(o["full"] for o in outcomes) >= AGENTS  # the capacity check was met
    assert sum(o["empty"] for o in outcomes) > 0
    # the queue is empty, and what each agent holds is what the events leave it
    assert query(pg_url, "SELECT COUNT(*) FROM conversations c JOIN shops s ON "
                 "s.id = c.shop_id WHERE s.key = 'p' AND c.state = 'queued'") == [(0,)]
    active = query(pg_url, "SELECT a.handle, COUNT(*) FROM conversations c JOIN agents a "
                   "ON a.id = c.assignee_id WHERE c.state = 'active' GROUP BY a.handle")
    assert dict(active) == {h: n for h, n in left.items() if n}
    assert all(n <= CAPACITY for n in left.values())


CLIENTS = 50
EACH = 6


def test_a_server_killed_while_fifty_clients_post_loses_nothing(pg_url):
    admin = _mall(pg_url, ["a1"])
    acked: dict[str, int] = {}
    after_kill: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    a, b = ServeProcess(pg_url), ServeProcess(pg_url)
    try:
        a.wait()
        b.wait()

        def client(n: int) -> None:
            urls = (a.url, b.url) if n % 2 else (b.url, a.url)
            with _client(urls[0], admin) as first, _client(urls[1], admin) as second:
                for i in range(EACH):
                    client_id = f"m{n}-{i}"
                    body = {"customer": f"k{n:02d}", "text": f"客户{n}第{i}条",
                            "client_id": client_id}
                    order = (first, second) if i % 2 == 0 else (second, first)
                    for attempt in range(20):  # a refused or cut request: the other one
                        c = order[attempt % 2]
                        try:
                            r = c.post(f"/v1/shops/{SHOP}/messages", json=body)
                        except httpx.TransportError:
                            continue
                        if r.status_code in (200, 201):
                            with lock:
                                acked[client_id] = r.json()["message"]["id"]
                                if killed.is_set() and str(c.base_url).rstrip("/") == a.url:
                                    after_kill.append(client_id)
                            break
                    else:
                        raise AssertionError(f"{client_id} never acknowledged")

        def kill_b() -> None:  # a quarter of the messages in, server B dies
            while len(acked) < CLIENTS * EACH // 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            b.kill()
            killed.set()

        deadline = time.monotonic() + 120
        killer = threading.Thread(target=kill_b)
        killer.start()
        try:
            _in_threads(client, CLIENTS)
        finally:
            killer.join()
        assert httpx.get(a.url + "/v1/health", timeout=10).status_code == 200
    finally:
        a.stop()
        b.stop()
    assert len(acked) == CLIENTS * EACH and after_kill  # the other server kept serving
    stored = query(pg_url, "SELECT client_id, COUNT(*), MIN(id) FROM messages "
                   "WHERE client_id IS NOT NULL GROUP BY client_id")
    counts = {cid: (n, mid) for cid, n, mid in stored}
    assert all(counts[cid] == (1, mid) for cid, mid in acked.items())  # none lost
    assert all(n == 1 for n, _ in counts.values())  # none stored twice


def _refused_after(url: str, token: str, path: str, since: float) -> tuple[int, int]:
    """Ask ``path`` until an answer to a request sent more than PRINCIPAL_TTL_S after
    ``since`` came; returns (refusals among the requests sent after that bound, and
    among all of them)."""
    late = late_refused = 0
    with _client(url, token) as c:
        while True:
            sent = time.monotonic()
            r = c.get(path)
            assert r.status_code in (200, 401, 403), r.text
            if sent - since > PRINCIPAL_TTL_S:
                late += 1
                late_refused += r.status_code in (401, 403)
                if late >= 3:
                    return late_refused, late
            elif r.status_code in (401, 403):
                return 3, 3  # refused before the bound: every later one is too
            time.sleep(0.05)


def test_a_revocation_or_rights_change_through_one_server_holds_on_the_other(pg_pair):
    pg_url, _, (a, b) = pg_pair
    admin = _mall(pg_url, ["r1", "r2"])
    b0 = LocalBackend(pg_url)
    try:
        store = TokenStore(b0)
        doomed = store.create_token(None, "admin", label="doomed")
        agent = store.create_token("r2")["token"]
    finally:
        b0.close()
    with _client(a.url, doomed["token"]) as c:  # server A caches the principal
        assert c.get("/v1/me").status_code == 200
    with _client(a.url, agent) as c:
        assert c.get(f"/v1/shops/{SHOP}").status_code == 200
    with _client(b.url, admin) as c:
        assert c.delete(f"/v1/tokens/{doomed['id']}").status_code == 200
        revoked_at = time.monotonic()
        moved = c.patch("/v1/agents/r2", json={"shops": ["t"]})
        assert moved.status_code == 200, moved.text
        moved_at = time.monotonic()
    assert _refused_after(a.url, doomed["token"], "/v1/me", revoked_at) == (3, 3)
    assert _refused_after(a.url, agent, f"/v1/shops/{SHOP}", moved_at) == (3, 3)
    with _client(a.url, agent) as c:  # the shop it still has
        assert c.get("/v1/shops/t").status_code == 200


def test_serve_workers_runs_several_processes_and_replaces_a_killed_one(pg_url, tmp_path):
    import os
    import signal

    admin = _mall(pg_url, ["a1"])
    serve = ServeProcess(pg_url, "--workers", "2").wait()
    try:
        def children() -> list[int]:
            out = []
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    try:
                        stat = open(f"/proc/{entry}/stat").read()
                    except OSError:
                        continue
                    if int(stat.rsplit(")", 1)[1].split()[1]) == serve.proc.pid:
                        out.append(int(entry))
            return out

        def served() -> set[int]:
            ids = set()
            with _client(serve.url, admin) as c:
                for i in range(40):
                    r = c.post(f"/v1/shops/{SHOP}/messages",
                               json={"customer": "k1", "text": f"第{i}条"},
                               headers={"Connection": "close"})
                    assert r.status_code in (200, 201), r.text
                    ids.add(r.json()["message"]["id"])
            return ids

        # two server processes (and the spawn's resource tracker) under the supervisor
        deadline = time.monotonic() + 60
        while len(servers_now := [p for p in children() if _is_server(p)]) < 2:
            assert time.monotonic() < deadline, children()
            time.sleep(0.1)
        assert len(served()) == 40
        os.kill(servers_now[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while servers_now[0] in children() or \
                len([p for p in children() if _is_server(p)]) < 2:
            assert serve.proc.poll() is None, serve.proc.stderr.read()  # the supervisor quit
            assert time.monotonic() < deadline, children()
            time.sleep(0.1)
        assert len(served()) == 40
    finally:
        code = serve.stop()
    assert code == 0, serve.proc.stderr.read()


def _is_server(pid: int) -> bool:
    try:
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read()
    except OSError:
        return False
    return b"multiprocessing.spawn" in cmdline and b"resource_tracker" not in cmdline


def test_serve_workers_on_a_sqlite_file_is_refused_in_one_line(tmp_path):
    from typer.testing import CliRunner

    from commands.main import app

    db = tmp_path / "mall.db"
    result = CliRunner().invoke(app, ["--lang", "en", "serve", "--db", str(db),
                                      "--workers", "2"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        "--workers above 1 needs a postgresql:// database (a SQLite file has one writer: "
        "serve it from one process)")
    assert "Traceback" not in result.output
    assert not db.exists()  # nothing made


def test_serve_workers_on_a_port_in_use_is_refused_in_one_line(pg_url):
    import socket

    from typer.testing import CliRunner

    from commands.main import app

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["--lang", "en", "serve", "--db", pg_url,
                                          "--port", str(port), "--workers", "2"])
    assert result.exit_code == 1, result.output
    assert result.stderr.strip().splitlines()[-1].endswith(
        f"cannot listen on 127.0.0.1:{port}: Address already in use")
    assert "Traceback" not in result.output
