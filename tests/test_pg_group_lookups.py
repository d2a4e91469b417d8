"""PostgreSQL's concurrent posts, their look-ups read together (issue 19): the server's
posts' thread reads the look-ups of a group's posts in one round trip from hints (who
posts, as their tokens were seen), and each post takes its own answer. These tests fail
when reading them together breaks what a post guarantees:

* a group with two posts of one customer, and one client id twice: each message stored
  once, the retry answered as a duplicate with the first's message, in order;
* a retry of a client id stored by an earlier commit: answered as the duplicate;
* a chat closed after its customer's hint was seen: the post opens a new chat (under
  the write lock), nothing goes into the closed one;
* a hint naming another customer (a wrong hint) changes nothing of what the post does;
* the answers are those of a post that looked up alone, the event log holds one
  ``message.created`` per stored message, in the order of the posts;
* through a real server with customers' tokens: posts and retries at once, every
  message stored once, every event seen by a subscriber once, in order.

Storage-level tests drive ``Database.group(shared=True)`` and the desk's
``prefetch_posts`` directly (as the server's posts' thread does); the last test runs a
real uvicorn on loopback over the throwaway cluster (tests/pg_support.py)."""

from __future__ import annotations

import httpx
import pytest

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.storage.errors import NeedsWriteLock

from .conftest import NOW
from .multiserver_support import EventReader, event_ids, query
from .server_support import serve
from .test_pg_concurrent_posts import SHOP, _desk, _in_threads, _worker


@pytest.fixture
def be(pg_url):
    """The desk (one agent online, human first) on the throwaway cluster, its backend."""
    _desk(pg_url, status="online", capacity=50, mode="human_first")
    backend = LocalBackend(pg_url)
    yield backend
    backend.close()


def _open_chats(be: LocalBackend, *customers: str) -> dict[str, int]:
    """Each customer's chat opened (an agent is online: it is served at once)."""
    return {c: be.post_message(SHOP, c, "你好")["conversation"]["id"] for c in customers}


def _group(be: LocalBackend, hints: list[tuple], posts: list[tuple]) -> tuple[int, list]:
    """One group of concurrent posts as the server runs it: the hints' look-ups read
    together, then each post (customer, text, client id); (look-ups kept, answers or
    the NeedsWriteLock raised)."""
    out: list = []
    with be.database.group(shared=True):
        kept = be.ctx.desk.prefetch_posts(hints)
        for customer, text, client_id in posts:
            try:
                out.append(be.post_message(SHOP, customer, text, client_id=client_id))
            except NeedsWriteLock as e:
                out.append(e)
    return kept, out


def _customer_messages(url: str) -> list[tuple]:
    return query(url, "SELECT c.key, m.client_id, m.body FROM messages m JOIN conversations "
                 "v ON v.id = m.conversation_id JOIN customers c ON c.id = v.customer_id "
                 "WHERE m.sender = 'customer' AND m.body <> '你好' ORDER BY m.id")


def test_one_customer_twice_and_a_client_id_twice_in_one_group(pg_url, be):
    chats = _open_chats(be, "k1", "k2")
    start = query(pg_url, "SELECT COALESCE(MAX(id), 0) FROM events")[0][0]
    posts = [("k1", "一", "a"), ("k2", "二", "b"), ("k1", "一", "a"), ("k1", "三", "c")]
    kept, out = _group(be, [(SHOP, c, i) for c, _, i in posts], posts)
    assert kept == 2  # the first post of each customer
    assert not any(isinstance(r, BaseException) for r in out), out
    assert [r["duplicate"] for r in out] == [False, False, True, False]
    assert out[2]["message"]["id"] == out[0]["message"]["id"]
    assert [r["conversation"]["id"] for r in out] == [chats[c] for c, _, _ in posts]
    assert _customer_messages(pg_url) == [("k1", "a", "一"), ("k2", "b", "二"),
                                          ("k1", "c", "三")]
    created = query(pg_url, "SELECT payload FROM events WHERE type = 'message.created' "
                    f"AND id > {start} ORDER BY id")
    stored = [r["message"]["id"] for r in out if not r["duplicate"]]
    assert [_message_of(p[0]) for p in created] == stored  # one each, in post order


def _message_of(payload) -> int:
    import json

    return (json.loads(payload) if isinstance(payload, str) else payload)["message"]


def test_a_retry_of_a_committed_client_id_is_answered_as_the_duplicate(pg_url, be):
    _open_chats(be, "k1", "k2")
    first = be.post_message(SHOP, "k1", "有M码吗", client_id="x")
    kept, out = _group(be, [(SHOP, "k1", "x"), (SHOP, "k2", "y")],
                       [("k1", "有M码吗", "x"), ("k2", "发货了吗", "y")])
    assert kept == 2
    assert out[0]["duplicate"] and out[0]["message"]["id"] == first["message"]["id"]
    assert not out[1]["duplicate"]
    assert query(pg_url, "SELECT COUNT(*) FROM messages WHERE client_id = 'x'") == [(1,)]


def test_a_chat_closed_after_the_hint_gets_no_message_the_post_opens_a_new_one(pg_url, be):
    chats = _open_chats(be, "k1", "k2")
    be.close_conversation(chats["k1"], by="a0")
    kept, out = _group(be, [(SHOP, "k1", "p"), (SHOP, "k2", "q")],
                       [("k1", "还在吗", "p"), ("k2", "在吗", "q")])
    assert kept == 2
    # no open chat: the post does not fit beside others and goes to the write lock
    assert isinstance(out[0], NeedsWriteLock) and not out[1]["duplicate"]
    again = be.post_message(SHOP, "k1", "还在吗", client_id="p")  # under the lock
    assert again["conversation"]["id"] != chats["k1"] and not again["duplicate"]
    assert query(pg_url, "SELECT conversation_id FROM messages WHERE client_id = 'p'") \
        == [(again["conversation"]["id"],)]
    assert query(pg_url, f"SELECT state FROM conversations WHERE id = {chats['k1']}") \
        == [("closed",)]


def test_a_wrong_hint_changes_nothing_of_what_a_post_does(pg_url, be):
    chats = _open_chats(be, "k1", "k2", "k3")
    # the hints name k2 and k3 (k3 with another client id); the posts are k1's and k3's
    kept, out = _group(be, [(SHOP, "k2", "a"), (SHOP, "k3", "other")],
                       [("k1", "一", "a"), ("k3", "三", "c")])
    assert kept == 2
    assert [r["conversation"]["id"] for r in out] == [chats["k1"], chats["k3"]]
    assert [r["duplicate"] for r in out] == [False, False]
    assert _customer_messages(pg_url) == [("k1", "a", "一"), ("k3", "c", "三")]


def test_the_answers_are_those_of_posts_that_looked_up_alone(pg_url):
    _desk(pg_url, status="online", capacity=50, mode="human_first")
    be = LocalBackend(pg_url, clock=FrozenClock(NOW))  # both groups' posts at one time
    try:
        _open_chats(be, "k1", "k2")
        kept, together = _group(be, [(SHOP, "k1", "a"), (SHOP, "k2", "b")],
                                [("k1", "一", "a"), ("k2", "二", "b")])
        assert kept == 2
        _, alone = _group(be, [], [("k1", "一", "a2"), ("k2", "二", "b2")])
        for t, a in zip(together, alone, strict=True):
            assert t.keys() == a.keys()
            assert t["conversation"] == a["conversation"]  # the same chat, as it stands
            assert {k: v for k, v in t["message"].items() if k not in ("id", "client_id")} \
                == {k: v for k, v in a["message"].items() if k not in ("id", "client_id")}
            assert t["replies"] == a["replies"] == []
            # and the chat as read afterwards
            assert t["conversation"]["id"] == a["conversation"]["id"]
        for r in alone:
            stored = be.get_conversation(r["conversation"]["id"], messages=False)
            assert {k: stored[k] for k in r["conversation"]} == r["conversation"]
    finally:
        be.close()


def test_customers_posting_and_retrying_at_once_through_a_server(pg_url):
    _desk(pg_url, status="online", capacity=50, mode="human_first", agents=2)
    served = serve(pg_url)
    try:
        tokens = {}
        for n in range(12):
            key = f"k{n}"
            tokens[key] = served.customer_token(SHOP, key)
            r = httpx.post(f"{served.url}/v1/shops/{SHOP}/messages", json={"text": "你好"},
                           headers={"Authorization": f"Bearer {tokens[key]}"}, timeout=30)
            assert r.status_code in (200, 201), r.text
        start = query(pg_url, "SELECT COALESCE(MAX(id), 0) FROM events")[0][0]
        reader = EventReader(served.url, served.admin, last_id=start).start()
        worker = _worker(served)

        def client(n: int) -> list[tuple[int, bool]]:
            key = f"k{n % 12}"  # two clients of each customer, sending the same client ids
            out = []
            with httpx.Client(base_url=served.url, timeout=30, headers={
                    "Authorization": f"Bearer {tokens[key]}"}) as c:
                for i in range(15):
                    r = c.post(f"/v1/shops/{SHOP}/messages",
                               json={"text": f"第{i}条：有M码吗", "client_id": f"{key}-{i}"})
                    assert r.status_code in (200, 201), r.text
                    out.append((r.json()["message"]["id"], r.json()["duplicate"]))
            return out

        answers = [a for got in _in_threads(client, 24) for a in got]
        assert worker.prefetched > 0  # look-ups were read together
        stored = query(pg_url, "SELECT id FROM messages WHERE sender = 'customer' AND "
                       "client_id IS NOT NULL ORDER BY id")
        assert len(stored) == 12 * 15  # each client id once
        assert sorted({m for m, _ in answers}) == [r[0] for r in stored]
        assert sum(not dup for _, dup in answers) == 12 * 15
        table = event_ids(pg_url, start)
        assert reader.wait_for(table[-1]), reader.error
        reader.stop()
        assert reader.ids[:len(table)] == table  # every event, once, in the table's order
        created = sorted(e["payload"]["message"] for e in reader.events
                         if e["type"] == "message.created")
        assert created == [r[0] for r in stored]
    finally:
        served.close()


def test_a_post_sent_to_the_lock_between_two_others_takes_only_its_own_writes(pg_url, be):
    chats = _open_chats(be, "k1", "k2", "k3")
    be.close_conversation(chats["k2"], by="a0")
    posts = [("k1", "一", "a"), ("k2", "二", "b"), ("k3", "三", "c")]
    kept, out = _group(be, [(SHOP, c, i) for c, _, i in posts], posts)
    assert kept == 3
    # the first post's writes wait for the commit (no savepoint sent): the second's
    # rollback must not take them, nor the third's
    assert isinstance(out[1], NeedsWriteLock)
    assert [r["conversation"]["id"] for r in (out[0], out[2])] == [chats["k1"],
                                                                  chats["k3"]]
    assert _customer_messages(pg_url) == [("k1", "a", "一"), ("k3", "c", "三")]
    # each chat's customer time is its message's (the chats' times sent as one)
    assert query(pg_url, "SELECT m.client_id, c.last_customer_at = m.created_at, "
                 "c.last_message_at = m.created_at FROM messages m JOIN conversations c "
                 "ON c.id = m.conversation_id WHERE m.client_id IN ('a', 'c') "
                 "ORDER BY m.id") == [("a", True, True), ("c", True, True)]
