"""Several real `cstool worker` processes on one database, one of them killed with SIGKILL
while they work (issue 19, item 3): every due campaign trigger is decided exactly once
(one send, one coupon, one message), every SLA warning and breach happens exactly once
per ticket and deadline. On a SQLite file and on a PostgreSQL database (the throwaway
cluster of tests/pg_support.py)."""

from __future__ import annotations

import json
import signal
import time

import pytest

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.resources import KINDS
from cstool.validation import to_internal
from cstool.values import parse_time

from .multiserver_support import cli_process, query

N = 400  # customers with a due payment reminder (and every tenth a shipped order too)
TICKETS = 30
NOW = "2026-11-20T10:00:00+08:00"
WORKERS = 3


def _mall(db: str) -> None:
    """A shop, N customers each with an unpaid order due for a reminder (a campaign with
    a coupon and a 20 % holdout, one send a day at most), and TICKETS complaints whose
    first response and resolution deadlines (wall clock) have both passed at NOW."""
    b = LocalBackend(db, clock=FrozenClock(parse_time("2026-11-20T09:00:00+08:00")))
    try:
        b.apply({
            "shops": [{"key": "s", "name": "大促店", "service_mode": "human_only",
                       "settings": {"quiet_hours": None}}],
            "agents": [{"handle": "boss", "name": "主管", "role": "supervisor",
                        "shops": ["s"]}],
            "products": [{"key": "p", "shop": "s", "title": "羽绒服", "price": 599}],
            "coupons": [{"key": "c", "shop": "s", "name": "满500减50", "kind": "amount",
                         "amount": 50, "threshold": 500}],
            "campaigns": [
                {"key": "pay", "shop": "s", "name": "催付", "trigger": "payment_reminder",
                 "template": "{name}，订单{order}待付款，送您{coupon}", "coupon": "c",
                 "holdout": 0.2},
                {"key": "ship", "shop": "s", "name": "发货", "trigger": "order_shipped",
                 "template": "订单{order}已发货"}],
            "sla_policies": [
                {"key": "wall", "shop": "s", "conditions": {"types": ["complaint"]},
                 "first_response_min": 20, "resolution_min": 40, "clock": "wall",
                 "on_breach": "raise_priority"}],
        })
        b.bulk_load("customers", [to_internal(KINDS["customers"], {
            "key": f"k{i:05d}", "name": f"顾客{i}", "profiles": [{"shop": "s"}]})
            for i in range(N)])
        orders = [to_internal(KINDS["orders"], {
            "key": f"o{i:05d}", "shop": "s", "customer": f"k{i:05d}", "status": "created",
            "created_at": "2026-11-20T09:00:00+08:00",
            "items": [{"product": "p", "price": 599}]}) for i in range(N)]
        orders += [to_internal(KINDS["orders"], {
            "key": f"s{i:05d}", "shop": "s", "customer": f"k{i:05d}", "status": "shipped",
            "created_at": "2026-11-19T09:00:00+08:00",
            "paid_at": "2026-11-19T09:01:00+08:00",
            "shipped_at": "2026-11-20T09:20:00+08:00",
            "items": [{"product": "p", "price": 599}]}) for i in range(0, N, 10)]
        b.bulk_load("orders", orders)
        for i in range(TICKETS):
            b.create_ticket(type="complaint", title=f"投诉{i}", shop="s", priority="P2")
        # every customer chatted with the shop a week before (a closed chat): a campaign
        # message has a chat to go to
        week_before = parse_time(NOW) - 7 * 86_400_000
        with b.database.write() as conn:
            conn.execute(
                "INSERT INTO conversations (shop_id, customer_id, state, created_at, "
                "last_message_at, closed_at) SELECT p.shop_id, p.customer_id, 'closed', ?, "
                "?, ? FROM customer_profiles p", (week_before, week_before, week_before))
    finally:
        b.close()


def _sends(db: str) -> int:
    return query(db, "SELECT COUNT(*) FROM campaign_sends")[0][0]


def _sla_events(db: str) -> int:
    return query(db, "SELECT COUNT(*) FROM ticket_timeline WHERE kind IN "
                 "('sla_warning', 'sla_breached')")[0][0]


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_workers_one_killed_midway_act_exactly_once(engine, tmp_path, request):
    db = str(tmp_path / "mall.db") if engine == "sqlite" else request.getfixturevalue("pg_url")
    _mall(db)
    due = N + N // 10
    env = {"CSTOOL_NOW": NOW, "CSTOOL_CAMPAIGN_BATCH": "10", "CSTOOL_LANG": "en"}
    workers = [cli_process("--db", db, "worker", "--interval", "0.2", "--json", env=env)
               for _ in range(WORKERS)]
    try:
        deadline = time.monotonic() + 240
        while _sends(db) < 60:  # the workers are at it: one of them dies
            assert time.monotonic() < deadline and all(w.poll() is None for w in workers)
            time.sleep(0.01)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(30)
        killed_at = _sends(db)
        while _sends(db) < due or _sla_events(db) < 4 * TICKETS:
            assert time.monotonic() < deadline, (_sends(db), _sla_events(db))
            assert all(w.poll() is None for w in workers[1:])
            time.sleep(0.05)
        time.sleep(0.5)  # a pass more of each survivor: nothing left to do twice
    finally:
        for w in workers[1:]:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        outs = [w.communicate(timeout=60) for w in workers]
    assert killed_at < due, "the pass was not cut midway"
    for w, (_, err) in zip(workers[1:], outs[1:], strict=True):
        assert w.returncode == 0, err
    # the survivors' passes: no job failed
    for out, _ in outs[1:]:
        for line in out.splitlines():
            assert not any(isinstance(v, dict) and "error" in v
                           for v in json.loads(line).values()), line
    # campaigns: one decision per trigger, one message and one coupon per send
    assert query(db, "SELECT campaign_id, trigger_key FROM campaign_sends GROUP BY 1, 2 "
                 "HAVING COUNT(*) > 1") == []
    outcomes = dict(query(db, "SELECT outcome, COUNT(*) FROM campaign_sends GROUP BY 1"))
    assert sum(outcomes.values()) == due
    sent = outcomes["sent"]
    assert query(db, "SELECT COUNT(*) FROM events WHERE type = 'campaign.sent'") == [(sent,)]
    assert query(db, "SELECT COUNT(*) FROM customer_coupons WHERE source = 'campaign:pay'"
                 ) == query(db, "SELECT COUNT(*) FROM campaign_sends s JOIN campaigns c ON "
                            "c.id = s.campaign_id WHERE c.key = 'pay' AND outcome = 'sent'")
    assert query(db, "SELECT customer_id FROM campaign_sends WHERE outcome = 'sent' "
                 "GROUP BY customer_id HAVING COUNT(*) > 1") == []  # the daily cap
    assert outcomes["suppressed"] == N // 10
    # SLA: per ticket, one warning and one breach of each deadline, one escalation each
    per_ticket = query(db, "SELECT ticket_id, kind, COUNT(*) FROM ticket_timeline WHERE kind IN "
                       "('sla_warning', 'sla_breached') GROUP BY 1, 2")
    assert len(per_ticket) == 2 * TICKETS and all(n == 2 for _, _, n in per_ticket)
    assert query(db, "SELECT COUNT(*) FROM tickets WHERE priority = 'P1'") == [(TICKETS,)]
    assert query(db, "SELECT COUNT(*) FROM ticket_timeline WHERE kind = 'priority'") == \
        [(TICKETS,)]  # raised once (P2 to P1), not once per worker
