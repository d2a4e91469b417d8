"""Tickets with SLA through the Local backend and the CLI, with a frozen clock: deadlines
in business hours, pauses, reminders and escalation exactly once (also with two worker
processes), the customer kept in the loop, attainment figures."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.errors import Conflict, InvalidInput
from cstool.values import parse_time

HOURS = {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")}


def t(text: str) -> int:
    return parse_time(text)


@pytest.fixture
def desk(tmp_path):
    clock = FrozenClock(t("2026-11-20T16:00:00+08:00"))  # Friday 16:00
    b = LocalBackend(tmp_path / "tickets.db", clock=clock)
    b.apply({
        "shops": [{"key": "s", "name": "萌宝母婴", "business_hours": HOURS,
                   "settings": {"holidays": ["2026-11-23"]}}],  # a Monday off
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online"},
                   {"handle": "boss", "name": "主管", "role": "supervisor", "shops": ["s"]}],
        "customers": [{"key": "c1", "name": "王丽", "profiles": [{"shop": "s", "level": 2}]}],
        "sla_policies": [
            {"key": "complaint", "shop": "s", "conditions": {"types": ["complaint"]},
             "first_response_min": 60, "resolution_min": 480, "on_breach": "raise_priority"},
            {"key": "wall", "shop": "s", "conditions": {"types": ["delivery_delay"]},
             "first_response_min": 30, "resolution_min": 120, "clock": "wall"},
        ],
    })
    conv = b.post_message("s", "c1", "收到的奶瓶是破的！")["conversation"]["id"]
    yield b, clock, conv
    b.close()


def test_created_from_a_chat_with_business_hour_deadlines(desk):
    b, clock, conv = desk
    tk = b.create_ticket(type="complaint", title="奶瓶破损", conversation=conv, priority="P2",
                         by="a")
    assert tk["sla_policy"] == "complaint" and tk["customer"] == "c1"
    # Friday 16:00 + 60 open minutes = 17:00; + 480 = 2 h Friday, Monday off, 6 h Tuesday
    assert tk["first_response_due"] == "2026-11-20T17:00:00+08:00"
    assert tk["resolution_due"] == "2026-11-24T15:00:00+08:00"
    msg = b.get_conversation(conv)["messages"][-1]
    assert msg["sender"] == "system" and f"工单 #{tk['id']}" in msg["body"]


def test_wall_clock_policy_and_defaults(desk):
    b, clock, conv = desk
    late = b.create_ticket(type="delivery_delay", title="快递三天没动", shop="s")
    assert late["resolution_due"] == "2026-11-20T18:00:00+08:00"
    other = b.create_ticket(type="invoice", title="补开发票", shop="s", priority="P4")
    assert other["sla_policy"] is None  # default P4 targets: 480 / 2880 business minutes
    assert other["first_response_due"] == "2026-11-24T15:00:00+08:00"


def test_waiting_on_the_customer_pauses_the_clock(desk):
    b, clock, conv = desk
    tk = b.create_ticket(type="complaint", title="奶瓶破损", conversation=conv, priority="P2")
    clock.advance(30 * 60)  # 16:30
    b.update_ticket(tk["id"], status="waiting_customer", by="a")
    clock.set(t("2026-11-24T10:00:00+08:00"))  # Tuesday 10:00
    back = b.update_ticket(tk["id"], status="open", by="a")
    # 30 min used before the pause; the rest runs from Tuesday 10:00
    assert back["first_response_due"] == "2026-11-24T10:30:00+08:00"
    assert back["resolution_due"] == "2026-11-24T17:30:00+08:00"


def test_reply_meets_first_response_and_resolve_asks_for_a_rating(desk):
    b, clock, conv = desk
    tk = b.create_ticket(type="complaint", title="奶瓶破损", conversation=conv, priority="P2")
    clock.advance(20 * 60)
    tk = b.reply_ticket(tk["id"], "非常抱歉，我们马上为您补发", by="a")
    assert tk["sla"]["first_response"] == {"state": "met", "used_min": 20.0, "target_min": 60}
    assert tk["status"] == "open"
    tk = b.resolve_ticket(tk["id"], by="a", note="已补发")
    assert tk["status"] == "resolved" and tk["sla"]["resolution"]["state"] == "met"
    last = b.get_conversation(conv)["messages"][-1]
    assert last["kind"] == "survey" and "已处理完成" in last["body"]
    with pytest.raises(Conflict):
        b.resolve_ticket(tk["id"])
    assert b.reopen_ticket(tk["id"], reason="还没收到")["status"] == "open"
    timeline = [e["kind"] for e in b.get_ticket(tk["id"])["timeline"]]
    assert timeline == ["created", "reply", "resolved", "reopened"]


def test_warning_then_escalation_each_exactly_once(desk):
    b, clock, conv = desk
    tk = b.create_ticket(type="complaint", title="奶瓶破损", conversation=conv, priority="P2",
                         assignee="a")
    clock.advance(47 * 60)  # 47 of 60 minutes: below 80 %
    assert b.sla_scan() == []
    clock.advance(60)  # 48 minutes = 80 %
    assert b.sla_scan() == [{"ticket": tk["id"], "kind": "sla_warning",
                             "deadline": "first_response"}]
    assert b.sla_scan() == []
    clock.advance(12 * 60)  # 60 minutes: breached
    assert b.sla_scan() == [{"ticket": tk["id"], "kind": "sla_breached",
                             "deadline": "first_response"}]
    assert b.sla_scan() == []
    assert b.get_ticket(tk["id"])["priority"] == "P1"  # the policy raises the priority
    assert [x["id"] for x in b.list_tickets(breaching=True)] == [tk["id"]]


def test_notify_escalation_names_the_supervisors(desk):
    b, clock, conv = desk
    tk = b.create_ticket(type="invoice", title="补开发票", shop="s", priority="P1")
    clock.advance(2 * 3600)  # Friday 18:00: P1 first response (30 min) long breached
    kinds = [d["kind"] for d in b.sla_scan()]
    assert kinds == ["sla_warning", "sla_breached"]
    escalated = [e for e in b.get_ticket(tk["id"])["timeline"] if e["kind"] == "escalated"]
    assert escalated[0]["payload"]["notified"] == ["boss"]


def test_two_worker_processes_escalate_once(desk, tmp_path):
    b, clock, conv = desk
    ids = [b.create_ticket(type="complaint", title=f"投诉{i}", shop="s", priority="P2")["id"]
           for i in range(20)]
    path = b.path
    worker = textwrap.dedent(f"""
        import sys, time
        from cstool.backend.local import LocalBackend
        from cstool.clock import FrozenClock
        b = LocalBackend({str(path)!r}, clock=FrozenClock({t("2026-11-25T12:00:00+08:00")}))
        start = float(sys.argv[1])
        while time.time() < start:
            time.sleep(0.001)
        done = []
        for _ in range(5):
            done += b.sla_scan()
        print(len(done))
    """)
    import time

    start = time.time() + 1.5
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(start)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    counts = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        counts.append(int(out))
    # 20 tickets x (warning + breach) x (first response + resolution) = 80, shared out once
    assert sum(counts) == 80
    for tid in ids:
        kinds = [e["kind"] for e in b.get_ticket(tid)["timeline"]]
        assert kinds.count("sla_warning") == 2 and kinds.count("sla_breached") == 2


def test_due_within_and_attainment_report(desk):
    b, clock, conv = desk
    a = b.create_ticket(type="complaint", title="一", shop="s", priority="P2", assignee="a")
    c = b.create_ticket(type="delivery_delay", title="二", shop="s", priority="P3")
    soon = b.list_tickets(due_within_s=3600)
    # both first responses are due by 17:00; listed by resolution deadline (c: 18:00 Friday)
    assert [x["id"] for x in soon] == [c["id"], a["id"]]
    clock.advance(10 * 60)
    b.reply_ticket(a["id"], "处理中", by="a")  # met after 10 min
    clock.advance(50 * 60)  # 17:00: c's 30-minute wall-clock response is breached
    b.reply_ticket(c["id"], "抱歉久等", by="a")
    b.resolve_ticket(a["id"])  # resolved after 60 min: met
    report = {r["type"]: r for r in b.ticket_report(by="type")}
    assert report["complaint"] == {"type": "complaint", "tickets": 1, "first_response_met": 1.0,
                                   "resolution_met": 1.0, "first_response_avg_min": 10.0,
                                   "resolution_avg_min": 60.0}
    assert report["delivery_delay"]["first_response_met"] == 0.0
    assert report["delivery_delay"]["first_response_avg_min"] == 60.0
    assert report["delivery_delay"]["resolution_met"] is None  # not decided yet
    overall = b.ticket_report()[0]
    assert overall["tickets"] == 2 and overall["first_response_met"] == 0.5


def test_bad_input(desk):
    b, clock, conv = desk
    with pytest.raises(InvalidInput, match="type must be one of"):
        b.create_ticket(type="angry", title="x", shop="s")
    with pytest.raises(InvalidInput, match="title"):
        b.create_ticket(type="other", title="  ", shop="s")
    # another shop's agent neither gets nor works the shop's tickets
    b.apply({"shops": [{"key": "t", "name": "极客派"}],
             "agents": [{"handle": "x", "name": "别家", "shops": ["t"]}]})
    with pytest.raises(Conflict, match="agent 'x' does not work for shop 's'"):
        b.create_ticket(type="other", title="问题", shop="s", assignee="x")
    tid = b.create_ticket(type="other", title="问题", shop="s")["id"]
    with pytest.raises(Conflict, match="does not work for shop 's'"):
        b.assign_ticket(tid, "x")
    with pytest.raises(Conflict, match="does not work for shop 's'"):
        b.reply_ticket(tid, "你好", by="x")
    with pytest.raises(InvalidInput, match="reply too long"):
        b.reply_ticket(tid, "长" * 2001, by="a")


def test_ticket_cli(cli, tmp_path):
    for args in (["shop", "create", "s", "--name", "店", "--hours", "mon=09:00-18:00"],
                 ["agent", "create", "a", "--name", "小美", "--shop", "s"]):
        assert cli(*args).exit_code == 0
    created = cli.json("ticket", "create", "--type", "invoice", "--title", "补开发票",
                       "--shop", "s", "--priority", "P2")
    assert created["status"] == "new" and created["type"] == "invoice"
    shown = cli.json("ticket", "show", str(created["id"]))
    assert shown["timeline"][0]["kind"] == "created"
    assert [x["id"] for x in cli.json("ticket", "list", "--status", "open")] == [created["id"]]
    r = cli("ticket", "create", "--type", "angry", "--title", "x", "--shop", "s")
    assert r.exit_code == 1 and r.stderr.startswith("Error: type must be one of")
    r = cli("ticket", "list", "--due-within", "soon")
    assert r.exit_code == 2 and "--due-within" in r.stderr
    r = cli("ticket", "show", "999")
    assert r.exit_code == 1 and r.stderr.strip() == "Error: no ticket 999"
    assert json.loads(cli("ticket", "scan", "--json").stdout) == []


def test_bench_tickets_quick_runs():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_tickets.py"),
                          "--quick"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "sla scan (select + act on" in out.stdout and "ratio (plain selection" in out.stdout


def test_a_customer_reply_within_days_reopens(desk):
    b, clock, conv = desk
    tk = b.create_ticket(type="complaint", title="奶瓶破损", conversation=conv, priority="P2")
    b.resolve_ticket(tk["id"], by="a")
    b.close_conversation(conv)
    clock.advance(2 * 86400)
    b.post_message("s", "c1", "还是没收到补发的奶瓶")
    again = b.get_ticket(tk["id"])
    assert again["status"] == "open" and again["timeline"][-1]["kind"] == "reopened"
    b.resolve_ticket(tk["id"])
    clock.advance(8 * 86400)
    b.post_message("s", "c1", "谢谢，收到了")
    assert b.get_ticket(tk["id"])["status"] == "resolved"  # past 7 days: stays resolved


def test_sla_attainment_in_the_metrics_report(cli):
    for args in (["shop", "create", "s", "--name", "店"],
                 ["agent", "create", "a", "--name", "小美", "--shop", "s"]):
        assert cli(*args).exit_code == 0
    t = cli.json("ticket", "create", "--type", "invoice", "--title", "发票", "--shop", "s")
    cli("ticket", "reply", str(t["id"]), "马上开", "--by", "a")
    report = cli.json("metrics", "report", "--sla", "--by", "type")
    assert report["sla"] == [{"type": "invoice", "tickets": 1, "first_response_met": 1.0,
                              "resolution_met": None, "first_response_avg_min": 0.0,
                              "resolution_avg_min": None}]
    r = cli("metrics", "report", "--sla")
    assert r.exit_code == 0 and "1st response met" in r.stdout


def test_sla_policies_and_calendars_travel_through_apply_and_export(desk, tmp_path):
    b, clock, conv = desk
    exported = b.export()
    assert [p["key"] for p in exported["sla_policies"]] == ["complaint", "wall"]
    assert exported["shops"][0]["settings"]["holidays"] == ["2026-11-23"]
    other = LocalBackend(tmp_path / "other.db", clock=clock)
    try:
        other.apply(exported)
        assert other.export() == exported
    finally:
        other.close()
