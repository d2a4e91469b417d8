"""PostgreSQL's concurrent posts (issue 19): customers' messages into chats agents serve
run on several storage threads of one server, side by side, each group holding the write
lock in shared mode and its chats' rows; everything else still runs under the exclusive
write lock. These tests fail when a lock of that design is missing:

* the event log: ids taken in the order of the commits (the event lock at commit), so a
  subscriber reading ``id > last`` never skips an event committed after it read;
* a post into a chat whose row another post holds (FOR UPDATE SKIP LOCKED) neither
  waits nor writes beside it: it goes to the write lock;
* a write beside others that nobody claimed (a new customer, a new chat, a token's use)
  is rolled back and run again under the write lock: one customer and one chat for a
  new customer's concurrent posts; one stored message for concurrent retries of a
  client id;
* accept-next pressed by many requests at once on one server never takes an agent above
  capacity;
* an event stream subscriber sees every event of concurrent posts, once, in order.

Real uvicorn on a loopback port over a database of the throwaway cluster
(tests/pg_support.py); the storage-level tests drive ``Database.group(shared=True)``
on two threads, step by step (no timing)."""

from __future__ import annotations

import threading

import httpx
import pytest

from cstool.auth import TokenStore
from cstool.backend.local import LocalBackend
from cstool.storage import open_database
from cstool.storage.errors import NeedsWriteLock
from cstool.storage.events import read_events
from cstool.storage.unit_of_work import Storage

from .conftest import NOW
from .multiserver_support import EventReader, event_ids, query
from .server_support import serve

WAIT_S = 60  # a guard against a hang, never a measure
SHOP = "s"


class _Clock:
    def now_ms(self) -> int:
        return NOW


def _shop_id(db) -> int:
    with db.write() as conn:
        conn.execute("INSERT INTO shops (key, name, created_at, updated_at) "
                     "VALUES ('s', '店', 0, 0)")
    with db.read() as conn:
        return conn.execute("SELECT id FROM shops WHERE key = 's'").fetchone()[0]


def _shared_write(db, shop_id: int, label: str, *, before_commit: threading.Event | None
                  = None, wrote: threading.Event | None = None, claim: bool = True,
                  errors: list | None = None) -> None:
    """One shared group with one claimed write recording an event ``label``; it waits for
    ``before_commit`` (set by the test) before committing, after setting ``wrote``."""
    storage = Storage(db, _Clock())
    try:
        with db.group(shared=True):
            try:
                with storage.write() as uow:
                    uow.event("test.step", "test", label, shop_id)
                    # a statement after the event (as the group's next post's look-up):
                    # whatever waited to be sent goes now, before the commit
                    uow.conn.execute("SELECT 1").fetchone()
                    if claim:
                        uow.claim_shared()
            except NeedsWriteLock as e:
                if errors is not None:
                    errors.append(e)
            if wrote is not None:
                wrote.set()
            if before_commit is not None and not before_commit.wait(WAIT_S):
                raise AssertionError("the test never let the group commit")
    except BaseException as e:  # noqa: BLE001 (reported to the test's thread)
        if errors is not None:
            errors.append(e)
        raise


def test_event_ids_follow_the_commits_of_concurrent_groups(pg_url):
    db = open_database(pg_url, NOW)
    try:
        shop_id = _shop_id(db)
        with db.read() as conn:
            start = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        first_wrote, first_commit = threading.Event(), threading.Event()
        errors: list = []
        first = threading.Thread(target=_shared_write, args=(db, shop_id, "first"),
                                 kwargs={"before_commit": first_commit,
                                         "wrote": first_wrote, "errors": errors})
        first.start()
        assert first_wrote.wait(WAIT_S)
        # the second group writes after the first and commits before it
        _shared_write(db, shop_id, "second", errors=errors)

        def seen(after: int) -> list[tuple]:
            with db.read() as conn:
                return [(r[0], r[5]) for r in read_events(conn, after=after, limit=100)]

        got = seen(start)
        assert [key for _, key in got] == ["second"]
        first_commit.set()
        first.join(WAIT_S)
        assert not errors
        # a reader that went on from the id it saw last sees the first group's event:
        # its id was taken as it committed, after the second's
        later = seen(got[-1][0])
        assert [key for _, key in later] == ["first"]
        assert later[0][0] > got[-1][0]
    finally:
        db.close()


def test_an_unclaimed_write_beside_others_is_rolled_back_for_the_write_lock(pg_url):
    db = open_database(pg_url, NOW)
    try:
        shop_id = _shop_id(db)
        storage = Storage(db, _Clock())
        with db.group(shared=True):
            with storage.write() as uow:
                uow.event("test.step", "test", "kept", shop_id)
                uow.claim_shared()
            with pytest.raises(NeedsWriteLock):
                with storage.write() as uow:  # nobody vouched for this one
                    uow.conn.execute("INSERT INTO shops (key, name, created_at, updated_at)"
                                     " VALUES ('x', '店', 0, 0)")
                    uow.event("test.step", "test", "dropped", shop_id)
        with db.read() as conn:
            keys = [r[0] for r in conn.execute(
                "SELECT entity_key FROM events WHERE type = 'test.step' ORDER BY id")]
            shops = [r[0] for r in conn.execute("SELECT key FROM shops ORDER BY key")]
        assert keys == ["kept"] and shops == ["s"]
    finally:
        db.close()


# -- through a real server ---------------------------------------------------------------
def _desk(url: str, *, status: str, capacity: int, mode: str, agents: int = 1) -> None:
    b = LocalBackend(url)
    try:
        b.apply({
            "shops": [{"key": SHOP, "name": "翎衣女装", "service_mode": mode}],
            "agents": [{"handle": f"a{i}", "name": f"客服{i}", "shops": [SHOP],
                        "status": status, "max_chats": capacity} for i in range(agents)],
        })
    finally:
        b.close()


def _in_threads(fn, n: int) -> list:
    """``fn(i)`` for i in 0..n-1 in threads started together; their results in order
    (the first failure is raised)."""
    results: list = [None] * n
    failures: list[BaseException] = []
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        try:
            barrier.wait(WAIT_S)
            results[i] = fn(i)
        except BaseException as e:  # noqa: BLE001 (raised in the test's thread)
            failures.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    if failures:
        raise failures[0]
    return results


def _post(url: str, token: str, customer: str, text: str, client_id: str | None = None
          ) -> httpx.Response:
    body = {"customer": customer, "text": text}
    if client_id is not None:
        body["client_id"] = client_id
    return httpx.post(f"{url}/v1/shops/{SHOP}/messages", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}"})


def _worker(served):
    return served.server.server.cstool_app.state.cstool.worker


def test_a_new_customers_concurrent_posts_make_one_customer_and_one_chat(pg_url):
    _desk(pg_url, status="online", capacity=50, mode="human_first")
    served = serve(pg_url)
    try:
        assert _worker(served).beside >= 2  # posts run on several threads here
        assert _worker(served).exclusive_group == 4  # and the first thread's groups capped
        answers = _in_threads(
            lambda i: _post(served.url, served.admin, "newbie", f"第{i}条：在吗", f"n{i}"), 12)
        assert all(r.status_code in (200, 201) for r in answers), [r.text for r in answers]
        chats = {r.json()["conversation"]["id"] for r in answers}
        assert len(chats) == 1
        assert query(pg_url, "SELECT COUNT(*) FROM customers WHERE key = 'newbie'") == [(1,)]
        assert query(pg_url, "SELECT COUNT(*) FROM conversations") == [(1,)]
        assert query(pg_url, "SELECT COUNT(*) FROM messages WHERE sender = 'customer'") \
            == [(12,)]
        assert query(pg_url, "SELECT COUNT(*) FROM events WHERE type = 'customer.created'") \
            == [(1,)]
        # the same client id sent again and again at once: stored once
        again = _in_threads(
            lambda i: _post(served.url, served.admin, "newbie", "重发的消息", "same"), 10)
        assert all(r.status_code in (200, 201) for r in again), [r.text for r in again]
        assert sum(not r.json()["duplicate"] for r in again) == 1
        assert len({r.json()["message"]["id"] for r in again}) == 1
        assert query(pg_url, "SELECT COUNT(*) FROM messages WHERE client_id = 'same'") \
            == [(1,)]
    finally:
        served.close()


def test_many_requests_pressing_accept_next_never_pass_the_agents_capacity(pg_url):
    _desk(pg_url, status="busy", capacity=3, mode="human_only")
    served = serve(pg_url)
    try:
        for i in range(20):  # twenty chats queue (the agent is busy: routing gives none)
            assert _post(served.url, served.admin, f"c{i}", "在吗").status_code in (200, 201)
        agent = TokenStore(served.backend).create_token("a0", "agent")["token"]

        def press(_: int) -> httpx.Response:
            return httpx.post(f"{served.url}/v1/agents/a0/accept", timeout=30,
                              headers={"Authorization": f"Bearer {agent}"})

        answers = _in_threads(press, 16)
        taken = [r for r in answers if r.status_code == 200 and r.json()]
        refused = [r for r in answers if r.status_code == 409]
        assert len(taken) == 3 and len(refused) == 13, [r.text for r in answers]
        assert {r.json()["error"]["key"] for r in refused} == {"agent_at_capacity"}
        assert len({r.json()["id"] for r in taken}) == 3
        assert query(pg_url, "SELECT COUNT(*) FROM conversations c JOIN agents a ON "
                     "a.id = c.assignee_id WHERE a.handle = 'a0' AND c.state = 'active'") \
            == [(3,)]
    finally:
        served.close()


def test_a_subscriber_sees_every_event_of_concurrent_posts_once_in_order(pg_url):
    _desk(pg_url, status="online", capacity=50, mode="human_first", agents=2)
    served = serve(pg_url)
    try:
        for n in range(16):  # each customer's chat opened (and given to an agent) first
            assert _post(served.url, served.admin, f"k{n}", "你好").status_code in (200, 201)
        start = query(pg_url, "SELECT COALESCE(MAX(id), 0) FROM events")[0][0]
        reader = EventReader(served.url, served.admin, last_id=start).start()
        before = _worker(served).shared_groups

        def client(n: int) -> list[int]:
            ids = []
            with httpx.Client(base_url=served.url, timeout=30, headers={
                    "Authorization": f"Bearer {served.admin}"}) as c:
                for i in range(20):
                    r = c.post(f"/v1/shops/{SHOP}/messages",
                               json={"customer": f"k{n}", "text": f"第{i}条：有M码吗"})
                    assert r.status_code in (200, 201), r.text
                    ids.append(r.json()["message"]["id"])
            return ids

        posted = [m for ids in _in_threads(client, 16) for m in ids]
        assert _worker(served).shared_groups > before  # the posts ran beside each other
        table = event_ids(pg_url, start)
        assert reader.wait_for(table[-1]), reader.error
        reader.stop()
        assert reader.ids[:len(table)] == table  # every event, once, in the table's order
        created = [e["payload"]["message"] for e in reader.events
                   if e["type"] == "message.created"]
        assert sorted(created) == sorted(posted) and len(posted) == 16 * 20
    finally:
        served.close()


def test_no_post_threads_keeps_every_call_on_the_one_thread(pg_url, monkeypatch):
    monkeypatch.setenv("CSTOOL_PG_POST_THREADS", "0")
    _desk(pg_url, status="online", capacity=50, mode="human_first")
    served = serve(pg_url)
    try:
        worker = _worker(served)
        assert worker.beside == 0 and not worker.post_threads
        answers = _in_threads(lambda i: _post(served.url, served.admin, f"k{i % 2}",
                                              f"第{i}条", f"o{i}"), 6)
        assert all(r.status_code in (200, 201) for r in answers), [r.text for r in answers]
        assert worker.shared_groups == 0 and worker.escalated == 0
        assert query(pg_url, "SELECT COUNT(*) FROM messages WHERE sender = 'customer'") \
            == [(6,)]
    finally:
        served.close()


def test_a_tokens_first_use_runs_beside_other_posts_and_is_recorded(pg_url):
    _desk(pg_url, status="online", capacity=50, mode="human_first")
    served = serve(pg_url)
    try:
        assert _post(served.url, served.admin, "k", "你好").status_code in (200, 201)
        created = served.customer_token(SHOP, "k")
        worker = _worker(served)
        before = (worker.escalated, worker.shared_groups)
        r = httpx.post(f"{served.url}/v1/shops/{SHOP}/messages", timeout=30,
                       json={"text": "这件有M码吗"},
                       headers={"Authorization": f"Bearer {created}"})
        assert r.status_code in (200, 201), r.text
        assert r.json()["conversation"]["customer"] == "k"
        # the token's last use is written beside the other posts, not under the lock
        assert worker.escalated == before[0] and worker.shared_groups > before[1]
        assert query(pg_url, "SELECT COUNT(*) FROM tokens WHERE role = 'customer' AND "
                     "last_used_at IS NOT NULL") == [(1,)]
    finally:
        served.close()


def test_a_post_into_a_chat_another_post_holds_goes_to_the_write_lock(pg_url):
    _desk(pg_url, status="online", capacity=50, mode="human_first")
    be = LocalBackend(pg_url)
    try:
        chat = be.post_message(SHOP, "k", "你好")["conversation"]["id"]
        wrote, commit = threading.Event(), threading.Event()
        errors: list = []

        def first() -> None:
            try:
                with be.database.group(shared=True):
                    be.post_message(SHOP, "k", "第一条", client_id="a")
                    wrote.set()
                    if not commit.wait(WAIT_S):
                        raise AssertionError("never let commit")
            except BaseException as e:  # noqa: BLE001 (reported to the test's thread)
                errors.append(e)
                wrote.set()

        holder = threading.Thread(target=first)
        holder.start()
        assert wrote.wait(WAIT_S) and not errors
        # the chat's row is held by the first post: the second neither waits for it nor
        # writes beside it; it is sent to the write lock (and stores nothing here)
        with be.database.group(shared=True):
            with pytest.raises(NeedsWriteLock):
                be.post_message(SHOP, "k", "第二条", client_id="b")
        commit.set()
        holder.join(WAIT_S)
        assert not errors
        again = be.post_message(SHOP, "k", "第二条", client_id="b")  # under the lock
        assert again["conversation"]["id"] == chat and not again["duplicate"]
        assert query(pg_url, "SELECT client_id FROM messages WHERE sender = 'customer' "
                     "ORDER BY id") == [(None,), ("a",), ("b",)]
    finally:
        be.close()
