"""Several real `cstool serve` processes on one database (issue 19, item 3): the event
stream complete and in order across servers, atomic accept-next across servers, a server
killed with SIGKILL while 50 clients post, token revocation and rights changes seen by
every server, and `serve --workers N`.

Real uvicorn processes on free loopback ports, on a database of the throwaway PostgreSQL
cluster (tests/pg_support.py), and on a SQLite file where several serves sharing one file
is a supported set-up too. The clients are threads with httpx (the servers are the
processes under test)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict

import httpx
import pytest

from cstool.auth import PRINCIPAL_TTL_S
from cstool.backend.local import LocalBackend
from cstool.services.tokens import TokenStore

from .multiserver_support import EventReader, ServeProcess, event_ids, query, servers

SHOP = "s"


def _database(engine: str, tmp_path, request) -> str:
    if engine == "sqlite":
        return str(tmp_path / "mall.db")
    return request.getfixturevalue("pg_url")


def _mall(db: str, agents: list[str], capacity: int = 5) -> str:
    """A human-only shop with busy agents (routing hands them nothing by itself); the
    admin token."""
    b = LocalBackend(db)
    try:
        b.apply({
            "shops": [{"key": SHOP, "name": "大促店", "service_mode": "human_only"},
                      {"key": "t", "name": "旗舰店", "service_mode": "human_only"}],
            "agents": [{"handle": h, "name": h, "shops": [SHOP, "t"], "status": "busy",
                        "max_chats": capacity} for h in agents],
        })
        return TokenStore(b).create_token(None, "admin", label="tests")["token"]
    finally:
        b.close()


def _head(db: str) -> int:
    ids = query(db, "SELECT COALESCE(MAX(id), 0) FROM events")
    return ids[0][0]


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_a_subscriber_of_one_server_sees_every_event_of_the_other_in_order(
        engine, tmp_path, request):
    db = _database(engine, tmp_path, request)
    admin = _mall(db, ["a1"])
    start = _head(db)
    with servers(db, 2) as (a, b):
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

        threads = [threading.Thread(target=post, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
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
AGENTS = 8
CAPACITY = 25


def test_eight_agents_pressing_accept_next_across_two_servers(pg_url):
    handles = [f"a{i}" for i in range(AGENTS)]
    admin = _mall(pg_url, handles, CAPACITY)
    b = LocalBackend(pg_url)
    try:
        for i in range(CHATS):
            b.post_message(SHOP, f"c{i:04d}", "双十一的优惠还有吗")
    finally:
        b.close()
    start = _head(pg_url)
    refused = Counter()
    with servers(pg_url, 2) as procs:

        def agent(n: int) -> None:
            # an agent takes chats until full, then closes them and takes more, until
            # the queue is empty; agents 0-3 on one server, 4-7 on the other
            h = handles[n]
            with _client(procs[n % 2].url, admin) as c:
                mine: list[int] = []
                while True:
                    r = c.post(f"/v1/agents/{h}/accept")
                    if r.status_code == 204:
                        break
                    if r.status_code == 409:
                        refused[h] += 1
                        assert len(mine) == CAPACITY, r.text
                        for cid in mine:
                            closed = c.post(f"/v1/conversations/{cid}/close",
                                            json={"by": h})
                            assert closed.status_code == 200, closed.text
                        mine = []
                        continue
                    assert r.status_code == 200, r.text
                    mine.append(r.json()["id"])

        threads = [threading.Thread(target=agent, args=(n,)) for n in range(AGENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    rows = query(pg_url, "SELECT id, type, entity_key, payload FROM events WHERE id > ? "
                 "AND type IN ('conversation.assigned', 'conversation.closed') ORDER BY id",
                 (start,))
    assigned = [key for _, kind, key, _ in rows if kind == "conversation.assigned"]
    assert len(assigned) == CHATS and len(set(assigned)) == CHATS  # every chat, once
    assert query(pg_url, "SELECT COUNT(*) FROM conversations WHERE state = 'queued'") == \
        [(0,)]
    # replaying the log in commit order: nobody ever held more than their capacity
    holder: dict[str, str] = {}
    load: dict[str, int] = defaultdict(int)
    peak: dict[str, int] = defaultdict(int)
    for _, kind, key, payload in rows:
        if kind == "conversation.assigned":
            h = json.loads(payload)["agent"]
            holder[key] = h
            load[h] += 1
            peak[h] = max(peak[h], load[h])
        else:
            load[holder.pop(key)] -= 1
    assert max(peak.values()) == CAPACITY
    assert sum(refused.values()) > 0  # the capacity check was met, on both servers


CLIENTS = 50
EACH = 8


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

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        while len(acked) < CLIENTS * EACH // 4:
            time.sleep(0.01)
        b.kill()
        killed.set()
        for t in threads:
            t.join()
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


def test_a_revocation_or_rights_change_through_one_server_holds_on_the_other(pg_url):
    admin = _mall(pg_url, ["a1", "a2"])
    b0 = LocalBackend(pg_url)
    try:
        store = TokenStore(b0)
        doomed = store.create_token(None, "admin", label="doomed")
        agent = store.create_token("a2")["token"]
    finally:
        b0.close()
    with servers(pg_url, 2) as (a, b):
        with _client(a.url, doomed["token"]) as c:  # server A caches the principal
            assert c.get("/v1/me").status_code == 200
        with _client(a.url, agent) as c:
            assert c.get(f"/v1/shops/{SHOP}").status_code == 200
        with _client(b.url, admin) as c:
            assert c.delete(f"/v1/tokens/{doomed['id']}").status_code == 200
            revoked_at = time.monotonic()
            moved = c.patch("/v1/agents/a2", json={"shops": ["t"]})
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
    from .multiserver_support import cli_process

    proc = cli_process("serve", "--db", str(tmp_path / "mall.db"), "--workers", "2",
                       env={"CSTOOL_LANG": "en"})
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip().splitlines()[-1].endswith(
        "--workers above 1 needs a postgresql:// database (a SQLite file has one writer: "
        "serve it from one process)")
    assert not (tmp_path / "mall.db").exists()
