"""The queue read through its indexes: serving order, queue places (the chats ahead that
the same agents could take), accept-next, hand-out when agents free up, and the paged
listing, checked against a plain reference walk of the whole queue on mixed queues
(priorities, groups, a dedicated agent, hand-backs that rejoin at their old place,
transfers that leave the transferring agent out); the migration on an old file; and the
tenancy benchmark's quick run."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from cstool.backend.local import LocalBackend
from cstool.errors import NotFound, UsageError
from cstool.routing import AgentState, agent_in_pool, target_key
from cstool.values import parse_time

ROOT = Path(__file__).resolve().parent.parent

# agent -> groups; all start offline so that chats wait
AGENTS = {"a": ("pre",), "b": ("pre", "log"), "l": ("log",), "v": ("vip",), "r": ("after",)}
RULES = [
    {"key": "vip", "target": {"group": "vip"}, "priority": 5,
     "conditions": {"field": "message.text", "op": "contains", "value": "会员"}},
    {"key": "mine", "target": {"agent": "$dedicated_agent"}, "priority": 2,
     "conditions": {"field": "customer.dedicated_agent", "op": "eq", "value": "b"}},
    {"key": "ship", "target": {"group": "log"}, "priority": 1,
     "conditions": {"field": "message.text", "op": "contains", "value": "快递"}},
    {"key": "refund", "target": {"group": "after"},
     "conditions": {"field": "message.text", "op": "contains", "value": "退款"}},
    {"key": "rest", "target": {"group": "pre"}},
]
TEXTS = ["你好", "我的快递呢", "要退款", "会员价多少", "快递到哪了", "在吗"]


def shop(be):
    be.apply({
        "shops": [{"key": "s", "name": "翎衣女装"}, {"key": "t", "name": "萌宝母婴"}],
        "groups": [{"key": g, "shop": "s", "name": g} for g in ("pre", "log", "after", "vip")],
        "agents": [{"handle": h, "name": h.upper(), "shops": ["s"], "groups": list(g),
                    "status": "offline", "max_chats": 2} for h, g in AGENTS.items()],
        "routing_rules": [{"shop": "s", **r} for r in RULES],
        "customers": [{"key": f"d{i}", "name": f"专属{i}",
                       "profiles": [{"shop": "s", "dedicated_agent": "b"}]} for i in range(6)],
    })


def reference(be, statuses):
    """Serving order and places by walking every waiting chat (the rule as specified)."""
    agents = [AgentState(handle=h, status=statuses[h], max_chats=2, groups=frozenset(g))
              for h, g in AGENTS.items()]
    items = []
    for c in be.list_conversations(shop="s", state="queued", limit=100_000):
        arrival = parse_time(c["queued_at"] or c["created_at"])
        items.append((-c["priority"], arrival, c["id"], c["pool"] or {"shop": True}))
    items.sort(key=lambda q: q[:3])
    places = {}
    for i, (_p, _a, cid, pool) in enumerate(items):
        mine = [a for a in agents if agent_in_pool(a, pool)]
        competes: dict[str, bool] = {}
        place = 1
        for q in items[:i]:
            key = target_key(q[3])
            if key not in competes:
                competes[key] = any(agent_in_pool(a, q[3]) for a in mine)
            place += competes[key]
        places[cid] = place
    return [q[2] for q in items], places, {q[2]: q[3] for q in items}


def check(be, statuses):
    order, places, _ = reference(be, statuses)
    listed = be.queue("s")
    assert [c["id"] for c in listed] == order
    assert {c["id"]: c["queue_position"] for c in listed} == places
    for c in listed:  # one chat's place, read alone, is the same
        assert be.get_conversation(c["id"], messages=False)["queue_position"] == places[c["id"]]
    # pages of 3 (and of 1 from the middle) give the same chats and places
    paged, after = [], None
    while True:
        page = be.queue("s", limit=3, after=after)
        paged += page
        if len(page) < 3:
            break
        after = page[-1]["id"]
    assert [(c["id"], c["queue_position"], c["estimated_wait_s"]) for c in paged] == [
        (c["id"], c["queue_position"], c["estimated_wait_s"]) for c in listed]
    return order


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_queue_places_order_and_hand_outs_match_a_walk_of_the_whole_queue(tmp_path, clock,
                                                                          seed):
    rnd = random.Random(seed)
    clock.set(clock.now_ms() // 65_536 * 65_536)  # on a bucket edge of every count level
    be = LocalBackend(tmp_path / "q.db", clock=clock)
    shop(be)
    statuses = dict.fromkeys(AGENTS, "offline")
    for round_ in range(4):
        for i in range(12):
            # chats may share an instant, a count bucket (16 ms, 256 ms ...) or its edges
            clock.advance(rnd.choice([0, 0, 0.001, 0.015, 0.016, 0.255, 0.256, 1, 7, 65.536]))
            who = f"d{rnd.randrange(6)}" if rnd.random() < 0.2 else f"c{round_}-{i}"
            be.post_message("s", who, rnd.choice(TEXTS))
        order = check(be, statuses)
        _, _, pools = reference(be, statuses)
        # an agent coming online takes, up to capacity, the first chats they may serve
        handle = rnd.choice(sorted(AGENTS))
        me = AgentState(handle=handle, status="online", max_chats=2,
                        groups=frozenset(AGENTS[handle]))
        may = [cid for cid in order if agent_in_pool(me, pools[cid])]
        free = 2 - len(be.list_conversations(agent=handle, state="active"))
        statuses[handle] = "online"
        got = be.set_agent_status(handle, "online")["assigned"]
        assert got == may[:free]
        order = check(be, statuses)
        # accept-next with a slot free: the first chat in serving order they may serve
        # (the one who handed a chat over may take it back when pulling)
        mine = be.list_conversations(agent=handle, state="active")
        if mine:
            if rnd.random() < 0.5:
                # handed to a group: waits there without the one who handed it over
                target = rnd.choice(["pre", "log", "after"])
                be.transfer(mine[0]["id"], by=handle, to_group=target, note="请跟进")
            else:
                be.close_conversation(mine[0]["id"], by=handle)
            _, _, pools = reference(be, statuses)
            order = check(be, statuses)
            pullable = [cid for cid in order if agent_in_pool(
                me, {k: v for k, v in pools[cid].items() if k != "except"})]
            if len(be.list_conversations(agent=handle, state="active")) < 2:
                taken = be.accept_next(handle)
                assert (taken and taken["id"]) == (pullable[0] if pullable else None)
            check(be, statuses)
        # going offline hands the chats back: they rejoin at their first arrival
        if rnd.random() < 0.6:
            statuses[handle] = "offline"
            be.set_agent_status(handle, "offline")
            check(be, statuses)
    be.close()


def test_queue_paging_refuses_a_cursor_of_another_shop_and_a_bad_limit(backend):
    shop(backend)
    backend.apply({"agents": [{"handle": "t1", "name": "T", "shops": ["t"],
                               "status": "offline"}]})
    mine = backend.post_message("s", "c1", "你好")["conversation"]["id"]
    theirs = backend.post_message("t", "c2", "你好")["conversation"]["id"]
    assert [c["id"] for c in backend.queue("s", after=None, limit=5)] == [mine]
    assert backend.queue("s", after=mine) == []
    with pytest.raises(NotFound):
        backend.queue("s", after=theirs)
    with pytest.raises(NotFound):
        backend.queue("s", after=999_999)
    for bad in (0, -1, True):
        with pytest.raises(UsageError):
            backend.queue("s", limit=bad)


def test_a_served_chat_still_marks_its_page(backend):
    shop(backend)
    ids = [backend.post_message("s", f"c{i}", "你好")["conversation"]["id"] for i in range(5)]
    first = backend.queue("s", limit=2)
    assert [c["id"] for c in first] == ids[:2]
    backend.set_agent_status("a", "online")  # takes ids[0] and ids[1]
    assert [c["id"] for c in backend.queue("s", after=first[-1]["id"])] == ids[2:]
    assert [c["queue_position"] for c in backend.queue("s")] == [1, 2, 3]


def test_a_version_10_file_gains_the_queue_index_and_keeps_its_queue(tmp_path, clock):
    """A file from before migration 11, with chats waiting, is upgraded in place: the
    counts start from the chats already waiting, and places, order and hand-out go on."""
    from cstool.storage.database import Database
    from cstool.storage.migrations import LATEST, MIGRATIONS

    path = tmp_path / "old.db"
    db = Database(path)
    with db.write() as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                     "name TEXT NOT NULL, applied_at INTEGER NOT NULL)")
        for version, _name, sql in MIGRATIONS:
            if version > 10:
                break
            for statement in sql.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations VALUES (?, 'old', 0)", (version,))
        conn.execute("INSERT INTO shops (id, key, name, created_at, updated_at) "
                     "VALUES (1, 's', '老店', 0, 0)")
        conn.execute('INSERT INTO "groups" (id, key, shop_id, name, created_at, updated_at) '
                     "VALUES (1, 'log', 1, '物流', 0, 0)")
        conn.execute("INSERT INTO agents (id, handle, name, status, max_chats, created_at, "
                     "updated_at) VALUES (1, 'x', 'X', 'offline', 5, 0, 0)")
        conn.execute("INSERT INTO agent_shops (agent_id, shop_id) VALUES (1, 1)")
        conn.execute("INSERT INTO group_members (group_id, agent_id) VALUES (1, 1)")
        for i in range(1, 7):
            conn.execute("INSERT INTO customers (id, key, name, created_at, updated_at) "
                         "VALUES (?, ?, '客', 0, 0)", (i, f"old{i}"))
        # two pools, two priorities; one chat queued before queued_at was kept (NULL)
        waiting = [(1, None, 0, 1000, 1000), (2, '{"group": "log"}', 1, 2000, 2000),
                   (3, None, 0, 500, None), (4, '{"group": "log"}', 0, 3000, 3000),
                   (5, '{"group": "nobody"}', 0, 100, 100)]
        for cid, pool, priority, created, queued in waiting:
            conn.execute(
                "INSERT INTO conversations (id, shop_id, customer_id, state, pool, priority, "
                "created_at, queued_at, last_message_at) VALUES (?, 1, ?, 'queued', ?, ?, ?, "
                "?, ?)", (cid, cid, pool, priority, created, queued, created))
        conn.execute("INSERT INTO conversations (id, shop_id, customer_id, state, created_at, "
                     "last_message_at) VALUES (6, 1, 6, 'closed', 0, 0)")
    db.close()
    be = LocalBackend(path, clock=clock)
    assert be.info()["schema_version"] == LATEST >= 11
    listed = be.queue("s")
    assert [c["id"] for c in listed] == [2, 5, 3, 1, 4]
    # chat 5 waits for a group nobody is in: no agent serves it, nothing is ahead of it
    # for its agents, and it is in nobody's way
    assert [c["queue_position"] for c in listed] == [1, 1, 2, 3, 4]
    assert be.queue("s", limit=2, after=5)[0]["id"] == 3
    clock.set(parse_time("2026-11-20T10:00:00+08:00"))
    new = be.post_message("s", "old6", "在吗")["conversation"]
    assert new["state"] == "queued" and new["queue_position"] == 5
    assert be.set_agent_status("x", "online")["assigned"] == [2, 3, 1, 4, new["id"]]
    assert be.queue("s") == [be.get_conversation(5, messages=False)]
    be.close()


def test_bench_tenancy_quick_runs_and_prints_its_figures():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_tenancy.py"),
                          "--quick", "--json"], capture_output=True, text=True, timeout=600,
                         cwd=ROOT)
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(figures) >= {"post_ms", "post_ratio", "accept_ms", "accept_ratio",
                            "other_shop_alone_per_s", "other_shop_busy_per_s",
                            "other_shop_ratio", "other_shop_p99_ms"}
    sizes = [row["queued"] for row in figures["post_ms"]]
    assert sizes[0] == 0 and sizes == sorted(sizes) and len(sizes) >= 3
    assert all(v > 0 for v in (figures["other_shop_alone_per_s"],
                               figures["other_shop_busy_per_s"]))


def test_places_count_chats_on_the_edges_of_the_arrival_buckets(backend, clock):
    """Chats on a count bucket's first millisecond, in the same millisecond and in the
    bucket's last one: each is counted once ahead of those after it."""
    shop(backend)
    clock.set(clock.now_ms() // 65_536 * 65_536)
    ids = []
    for step in (0, 0, 0.001, 0.254, 0.001, 0.001, 65.280, 0, 1):
        clock.advance(step)
        ids.append(backend.post_message("s", f"e{len(ids)}", "你好")["conversation"]["id"])
    assert [backend.get_conversation(i, messages=False)["queue_position"] for i in ids] == \
        list(range(1, len(ids) + 1))
    assert [c["queue_position"] for c in backend.queue("s", after=ids[3], limit=3)] == [5, 6, 7]


def test_the_queue_is_paged_over_http(db_path, clock):
    from tests.server_support import serve

    s = serve(db_path, clock)
    try:
        shop(s.backend)
        ids = [s.backend.post_message("s", f"c{i}", "你好")["conversation"]["id"]
               for i in range(7)]
        first = s.http("GET", "/v1/shops/s/queue", params={"limit": 3}).json()
        assert [c["id"] for c in first["items"]] == ids[:3] and first["next"] == ids[2]
        rest = s.http("GET", "/v1/shops/s/queue",
                      params={"limit": 10, "after": first["next"]}).json()
        assert [(c["id"], c["queue_position"]) for c in rest["items"]] == [
            (cid, place) for place, cid in enumerate(ids[3:], start=4)]
        assert rest["next"] is None
        whole = s.http("GET", "/v1/shops/s/queue").json()  # no limit: one page of 100
        assert [c["id"] for c in whole["items"]] == ids and whole["next"] is None
        remote = s.remote()
        assert [c["id"] for c in remote.queue("s")] == ids
        assert [c["id"] for c in remote.queue("s", limit=2, after=ids[1])] == ids[2:4]
        bad = s.http("GET", "/v1/shops/s/queue", params={"limit": 0})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "usage"
        other = s.backend.post_message("t", "x", "你好")["conversation"]["id"]
        missing = s.http("GET", "/v1/shops/s/queue", params={"after": other})
        assert missing.status_code == 404
    finally:
        s.close()


def test_a_place_follows_the_agents_as_they_change(backend):
    """The agents a place reads are kept between calls only while no agent, shop
    membership or group changes: joining and leaving groups count at once."""
    shop(backend)
    backend.update("agents", "b", {"groups": ["after"]})
    ship = backend.post_message("s", "c1", "我的快递呢")["conversation"]["id"]  # group log
    hello = backend.post_message("s", "c2", "你好")["conversation"]["id"]  # group pre
    again = backend.post_message("s", "c3", "快递到哪了")["conversation"]["id"]  # log

    def place(cid):
        return backend.get_conversation(cid, messages=False)["queue_position"]

    assert (place(ship), place(hello), place(again)) == (1, 1, 2)
    backend.update("agents", "a", {"groups": ["pre", "log"]})
    # a serves both now: the logistics chats (priority 1) are in the pre-sale one's way
    assert (place(ship), place(hello), place(again)) == (1, 3, 2)
    backend.update("agents", "a", {"groups": ["pre"]})
    backend.update("agents", "l", {"groups": ["after"]})
    # nobody serves logistics: nothing is ahead of its chats for their (no) agents
    assert (place(ship), place(hello), place(again)) == (1, 1, 1)
    backend.apply({"agents": [{"handle": "n", "name": "N", "shops": ["s"],
                               "groups": ["log", "pre"], "status": "offline"}]})
    assert (place(ship), place(hello), place(again)) == (1, 3, 2)
