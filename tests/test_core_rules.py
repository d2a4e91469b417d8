"""Rules the front ends used to hold, now in the core, obeyed by every path: the CLI on a
file, ``apply`` of a document (on a file and through ``--api``), and the REST API (a real
server on loopback).

* knowledge keys are one namespace across shops: a document never moves another scope's
  entry (``cstool.knowledge_rules.check_owner``);
* what a shop's bot sees: its own entries, then the platform-wide ones
  (``cstool.knowledge_rules.visible_entries``)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from commands.main import app
from cstool.backend.local import LocalBackend
from cstool.knowledge_rules import visible_entries
from cstool.validation import FieldError
from tests.server_support import cli_app, serve

SETUP = {
    "shops": [{"key": "s", "name": "翎衣女装"}, {"key": "t", "name": "极客派"}],
    "knowledge_entries": [
        {"key": "q1", "shop": "s", "question": "怎么开发票？", "answer": "订单里申请"},
        {"key": "ship", "question": "包邮吗", "answer": "全场包邮"}],
}
# the same keys, each in another scope than the one that owns it
MOVE_TO_T = {"knowledge_entries": [
    {"key": "q1", "shop": "t", "question": "怎么开发票？", "answer": "找客服"}]}
MOVE_TO_PLATFORM = {"knowledge_entries": [
    {"key": "q1", "question": "怎么开发票？", "answer": "订单里申请"}]}
PLATFORM_TO_SHOP = {"knowledge_entries": [
    {"key": "ship", "shop": "t", "question": "包邮吗", "answer": "满99包邮"}]}
CASES = [(MOVE_TO_T, "entry 'q1' belongs to shop 's'"),
         (MOVE_TO_PLATFORM, "entry 'q1' belongs to shop 's'"),
         (PLATFORM_TO_SHOP, "entry 'ship' belongs to the platform")]


def _entries(backend) -> list[dict]:
    return backend.list("knowledge_entries")


@pytest.fixture
def file(tmp_path):
    path = tmp_path / "kb.db"
    be = LocalBackend(path)
    be.apply(SETUP)
    be.close()
    return path


@pytest.mark.parametrize("document,message", CASES)
def test_apply_on_a_file_never_moves_an_entry_to_another_scope(file, tmp_path, document,
                                                                message):
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(document), encoding="utf-8")
    before = CliRunner().invoke(app, ["--db", str(file), "kb", "list", "--json"]).stdout
    r = CliRunner().invoke(app, ["--db", str(file), "apply", "-f", str(doc), "--json"])
    assert r.exit_code == 1, r.output
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr, r.stderr
    assert "knowledge_entries[0].key" in r.stderr
    assert CliRunner().invoke(app, ["--db", str(file), "kb", "list", "--json"]).stdout == before
    # the same entry in the scope that owns it is applied (an update, not a move)
    ok = {"knowledge_entries": [{**SETUP["knowledge_entries"][0], "answer": "在订单页申请"}]}
    doc.write_text(json.dumps(ok), encoding="utf-8")
    r = CliRunner().invoke(app, ["--db", str(file), "apply", "-f", str(doc), "--json"])
    assert r.exit_code == 0, r.output
    assert [c["action"] for c in json.loads(r.stdout)["changes"]] == ["update"]


def test_the_backend_refuses_a_move_and_an_explicit_update_moves(file):
    be = LocalBackend(file)
    try:
        with pytest.raises(FieldError, match=r"knowledge_entries\[0\]\.key: entry 'q1'") as e:
            be.apply(MOVE_TO_T)
        assert e.value.key == "kb_key_owned" and e.value.params["owner"] == "s"
        with pytest.raises(FieldError) as e:
            be.apply(PLATFORM_TO_SHOP, dry_run=True)
        assert e.value.key == "kb_key_platform"
        assert be.get("knowledge_entries", "q1")["shop"] == "s"
        # moving is a change of the entry's shop, by itself
        assert be.update("knowledge_entries", "q1", {"shop": "t"})["shop"] == "t"
    finally:
        be.close()


def test_kb_import_obeys_the_rule_in_chinese_too(file, tmp_path):
    text = "key,question,answer\nq1,怎么开发票？,订单里申请\n"
    r = CliRunner().invoke(app, ["--db", str(file), "kb", "import", "-", "--format", "csv",
                                 "--shop", "t"], input=text, env={"CSTOOL_LANG": "zh"})
    assert r.exit_code == 1, r.output
    assert "条目 “q1” 属于店铺 “s”" in r.stderr and len(r.stderr.splitlines()) == 1


@pytest.fixture
def served(tmp_path):
    s = serve(tmp_path / "served.db")
    s.backend.apply(SETUP)
    yield s
    s.close()


@pytest.mark.parametrize("document,message", CASES)
def test_the_api_and_apply_through_it_obey_the_rule(served, tmp_path, document, message):
    before = _entries(served.backend)
    r = served.http("POST", "/v1/apply", json={"document": document})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert (error["code"], error["path"]) == ("invalid", "knowledge_entries[0].key")
    assert error["reason"].startswith(message)
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps(document), encoding="utf-8")
    env = {"CSTOOL_API": served.url, "CSTOOL_TOKEN": served.admin}
    r = CliRunner().invoke(cli_app(), ["apply", "-f", str(doc), "--json"], env=env)
    assert r.exit_code == 1, r.output
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr, r.stderr
    assert _entries(served.backend) == before
    # kb list --shop through the server: the shop's own entries, then the platform's
    r = CliRunner().invoke(cli_app(), ["kb", "list", "--shop", "s", "--json"], env=env)
    assert r.exit_code == 0, r.output
    assert [e["key"] for e in json.loads(r.stdout)] == ["q1", "ship"]


def test_a_shop_sees_its_own_entries_then_the_platforms():
    entries = [{"key": "a", "shop": None}, {"key": "b", "shop": "s"}, {"key": "c", "shop": "t"},
               {"key": "a", "shop": "s"}, {"key": "d", "shop": None}]
    assert [(e["key"], e["shop"]) for e in visible_entries(entries, "s")] == [
        ("b", "s"), ("a", "s"), ("d", None)]
    assert [(e["key"], e["shop"]) for e in visible_entries(entries, "t")] == [
        ("c", "t"), ("a", None), ("d", None)]
    assert [e["key"] for e in visible_entries(entries, None)] == ["a", "b", "c", "d"]


# -- the dashboard: its clock and zone are parameters ------------------------------------------

def test_a_replay_backend_is_built_with_the_files_clock(tmp_path):
    """`dashboard --replay`: the backend is opened with the clock of the newest event (no
    clock swapped afterwards); a missing file is refused as any read is."""
    from cstool.clock import FrozenClock
    from cstool.errors import NoDataFile
    from cstool.storage.event_clock import LatestEventClock
    from cstool.values import parse_time

    path = tmp_path / "replay.db"
    writer_clock = FrozenClock(parse_time("2026-11-11T00:05:00+08:00"))
    writer = LocalBackend(path, clock=writer_clock)
    writer.apply({"shops": [{"key": "s", "name": "翎衣女装", "timezone": "Asia/Shanghai"}]})
    for i in range(3):
        writer.post_message("s", f"c{i}", "什么时候发货")
        writer_clock.advance(60)
    clock = LatestEventClock.of_file(path)
    watcher = LocalBackend(path, clock=clock)
    try:
        assert watcher.clock.now_ms() == parse_time("2026-11-11T00:07:00+08:00")
        assert watcher.dashboard("s")["today"]["conversations"] == 3
    finally:
        watcher.close()
        clock.close()
        writer.close()
    with pytest.raises(NoDataFile):
        LatestEventClock.of_file(tmp_path / "missing.db")


async def test_the_dashboard_shows_its_times_in_the_zone_it_is_given(tmp_path):
    from cstool.clock import FrozenClock
    from cstool.values import parse_time
    from tui.dashboard import DashboardApp

    clock = FrozenClock(parse_time("2026-11-20T10:00:00+08:00"))
    b = LocalBackend(tmp_path / "zone.db", clock=clock)
    try:
        b.apply({"shops": [{"key": "s", "name": "翎衣女装"}]})
        for zone, shown in (("Asia/Kolkata", "07:30"), (None, "10:00")):  # None: $CSTOOL_TZ
            app = DashboardApp(b, "s", poll_s=3600, now_ms=clock.now_ms, zone=zone)
            async with app.run_test(size=(140, 40)) as pilot:
                for _ in range(3):
                    await app.workers.wait_for_complete()
                    await pilot.pause(0.05)
                assert app.sub_title == f"翎衣女装 · {shown}"
    finally:
        b.close()


# -- the console asks the core: the queue's order, a coupon's window ----------------------------

def test_the_agents_queue_is_in_serving_order_over_every_shop():
    from cstool.routing.desk_queue import agent_queue

    queue = [{"id": 7, "shop": "s", "priority": 0, "waiting_since_ms": 100, "mine": True},
             {"id": 3, "shop": "s", "priority": 0, "waiting_since_ms": 100},  # older server
             {"id": 9, "shop": "t", "priority": 2, "waiting_since_ms": 900, "mine": True},
             {"id": 5, "shop": "t", "priority": 0, "waiting_since_ms": 50, "mine": False},
             {"id": 4, "shop": "t", "priority": 0, "waiting_since_ms": 80, "mine": True}]
    mine, others = agent_queue(queue)
    assert [q["id"] for q in mine] == [9, 4, 3, 7] and others == 1


def test_the_desk_of_an_agent_of_two_shops_lists_one_queue_in_serving_order(tmp_path):
    """The desk lists each shop's waiting chats; the agent's queue is one, by arrival."""
    from cstool.clock import FrozenClock
    from cstool.routing.desk_queue import agent_queue

    clock = FrozenClock(1_800_000_000_000)
    be = LocalBackend(tmp_path / "q.db", clock=clock)
    try:
        be.apply({"shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_only"},
                            {"key": "t", "name": "极客派", "service_mode": "human_only"}],
                  "agents": [{"handle": "a", "name": "小美", "shops": ["s", "t"],
                              "status": "online", "max_chats": 1}]})
        ids = []
        for shop, customer in (("t", "c1"), ("s", "c2"), ("t", "c3"), ("s", "c4")):
            ids.append(be.post_message(shop, customer, "在吗")["conversation"]["id"])
            clock.advance(10)
        desk = be.agent_desk("a")
        assert sorted(q["id"] for q in desk["queue"]) == sorted(ids[1:])  # c1 is a's
        mine, others = agent_queue(desk["queue"])
        assert [q["id"] for q in mine] == ids[1:] and others == 0
    finally:
        be.close()


@pytest.mark.parametrize("window,valid", [
    ({}, True),
    ({"valid_from": "2026-11-20T00:00:00+08:00", "valid_to": "2026-11-20T23:59:59+08:00"}, True),
    ({"valid_from": "2026-11-21T00:00:00+08:00"}, False),
    ({"valid_to": "2026-11-20T09:59:59+08:00"}, False),
    ({"valid_to": "2026-11-20T10:00:00+08:00"}, True),  # the last second counts
])
def test_a_coupons_window_is_one_rule(window, valid):
    from cstool.pricing import coupon_valid_at, coupon_window
    from cstool.values import parse_time

    now = parse_time("2026-11-20T10:00:00+08:00")
    assert coupon_valid_at({"key": "c", **window}, now) is valid
    internal = {k: parse_time(v) for k, v in window.items()}  # as the pricing engine reads
    assert coupon_window(internal, now) == coupon_window(window, now)


# -- the forecast and the plan: the core's, the same through a file and a server ---------------

def test_forecast_and_plan_are_the_same_on_a_file_and_through_the_api(tmp_path, clock):
    from datetime import date

    from tests.test_staffing import _exact_history, _seed

    served = serve(tmp_path / "fc.db", clock)
    try:
        _seed(served.backend, "lf", _exact_history(date(2026, 9, 19), date(2026, 11, 19)))
        env = {"CSTOOL_API": served.url, "CSTOOL_TOKEN": served.admin}
        for args in (["staffing", "forecast", "--shop", "lf", "--date", "2026-11-21"],
                     ["staffing", "plan", "--shop", "lf", "--date", "2026-11-21",
                      "--target", "80/30"]):
            local = CliRunner().invoke(app, ["--db", str(tmp_path / "fc.db"), *args, "--json"])
            remote = CliRunner().invoke(cli_app(), [*args, "--json"], env=env)
            assert local.exit_code == remote.exit_code == 0, (local.output, remote.output)
            assert json.loads(local.stdout) == json.loads(remote.stdout)
        missing = CliRunner().invoke(cli_app(), ["staffing", "forecast", "--shop", "nope"],
                                     env=env)
        assert missing.exit_code == 1 and len(missing.stderr.splitlines()) == 1
    finally:
        served.close()


def test_one_serving_order_for_the_engine_the_storage_and_the_desk(tmp_path):
    """The engine's ``serving_key`` is the order: the storage's pages and its
    ``QueueKey.order``, the desk's queue (``desk_queue``) and the head ``accept_next``
    takes all follow it, with ties of priority and arrival broken by id."""
    import random

    from cstool.clock import FrozenClock
    from cstool.routing.desk_queue import agent_queue
    from cstool.routing.queueing import queue_order, serving_key
    from cstool.storage.repos.queue import QueueKey

    clock = FrozenClock(1_800_000_000_000)
    be = LocalBackend(tmp_path / "order.db", clock=clock)
    try:
        be.apply({
            "shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_only"}],
            "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "busy",
                        "max_chats": 5}],
            "routing_rules": [
                {"key": f"p{p}", "shop": "s", "priority": p, "target": {"shop": True},
                 "conditions": {"all": [{"field": "message.text", "op": "contains",
                                         "value": f"优先{p}"}]}} for p in (3, 7)]})
        rng = random.Random(18)
        for i in range(40):
            clock.advance(rng.choice((0, 0, 1, 250)))  # many share their arrival instant
            text = f"在吗 优先{rng.choice((0, 3, 7))}"
            be.post_message("s", f"c{i}", text)
        queued = be.queue("s")
        assert len(queued) == 40 and len({q["priority"] for q in queued}) == 3
        waiting = {q["id"]: q for q in queued}
        desk = be.agent_desk("a")["queue"]
        since = {q["id"]: q["waiting_since_ms"] for q in desk}
        want = sorted(waiting, key=lambda c: serving_key(waiting[c]["priority"], since[c], c))
        assert [q["id"] for q in queued] == want  # the storage's pages
        paged, after = [], None
        while True:
            page = be.queue("s", limit=7, after=after)
            if not page:
                break
            paged += [q["id"] for q in page]
            after = page[-1]["id"]
        assert paged == want
        mine, _ = agent_queue(reversed(desk))  # the desk's order, whatever it is given
        assert [q["id"] for q in mine] == want
        keys = [QueueKey(waiting[c]["priority"], since[c], c) for c in want]
        assert sorted(reversed(keys), key=QueueKey.order) == keys
        items = [{"id": c, "priority": waiting[c]["priority"], "arrival_ms": since[c]}
                 for c in want]
        assert [i["id"] for i in queue_order(items)] == want  # ties keep the given order
        be.set_agent_status("a", "online")  # takes the head of the queue, up to capacity
        assert [q["id"] for q in be.queue("s")] == want[5:]
        assert all(be.get_conversation(c, messages=False)["assignee"] == "a" for c in want[:5])
    finally:
        be.close()
