"""Exactly one decision per trigger with real processes: two run-due passes at once on
one file, and a pass killed mid-way then run again."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

from cstool.backend.local import LocalBackend
from cstool.resources import KINDS
from cstool.validation import to_internal
from cstool.values import parse_time

N = 3000
NOW = "2026-11-20T10:00:00+08:00"

PASS = textwrap.dedent("""
    import json, sys, time
    from cstool.backend.local import LocalBackend
    path, start, now = sys.argv[1], sys.argv[2], sys.argv[3]
    b = LocalBackend(path)
    if start == "go":  # say ready, then wait for the word
        print("ready", flush=True)
        sys.stdin.readline()
    else:
        while time.time() < float(start):
            time.sleep(0.001)
    print(json.dumps(b.run_due_campaigns(now)))
""")


def make_file(path, n: int = N) -> None:
    """A shop, n customers each with an unpaid order due for a reminder, a campaign
    with a coupon and a 20 % holdout, and a cap of one send a day."""
    b = LocalBackend(path)
    b.apply({
        "shops": [{"key": "s", "name": "大促店", "settings": {"quiet_hours": None}}],
        "products": [{"key": "p", "shop": "s", "title": "羽绒服", "price": 599}],
        "coupons": [{"key": "c", "shop": "s", "name": "满500减50", "kind": "amount",
                     "amount": 50, "threshold": 500}],
        "campaigns": [{"key": "pay", "shop": "s", "name": "催付", "trigger": "payment_reminder",
                       "template": "{name}，订单{order}待付款，送您{coupon}", "coupon": "c",
                       "holdout": 0.2},
                      {"key": "ship", "shop": "s", "name": "发货", "trigger": "order_shipped",
                       "template": "订单{order}已发货"}],
    })
    customers = [to_internal(KINDS["customers"], {
        "key": f"k{i:05d}", "name": f"顾客{i}", "profiles": [{"shop": "s"}]}) for i in range(n)]
    orders = [to_internal(KINDS["orders"], {
        "key": f"o{i:05d}", "shop": "s", "customer": f"k{i:05d}", "status": "created",
        "created_at": "2026-11-20T09:00:00+08:00",
        "items": [{"product": "p", "price": 599}]}) for i in range(n)]
    # every tenth customer also has a shipped order: the cap lets one of the two through
    orders += [to_internal(KINDS["orders"], {
        "key": f"s{i:05d}", "shop": "s", "customer": f"k{i:05d}", "status": "shipped",
        "created_at": "2026-11-19T09:00:00+08:00", "paid_at": "2026-11-19T09:01:00+08:00",
        "shipped_at": "2026-11-20T09:20:00+08:00",
        "items": [{"product": "p", "price": 599}]}) for i in range(0, n, 10)]
    b.bulk_load("customers", customers)
    b.bulk_load("orders", orders)
    b.close()
    # every customer chatted with the shop a week before (a closed chat): a campaign
    # message has a chat to go to, so it is sent, not undeliverable
    week_before = parse_time(NOW) - 7 * 86_400_000
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO conversations (shop_id, customer_id, state, created_at, "
            "last_message_at, closed_at) SELECT p.shop_id, p.customer_id, 'closed', ?, ?, ? "
            "FROM customer_profiles p", (week_before, week_before, week_before))
    conn.close()


def check_file(path, n: int = N) -> dict:
    """Everything the decisions wrote agrees: one row per trigger, one message event and
    one coupon per send, no customer over the cap."""
    conn = sqlite3.connect(path)
    q = lambda sql: conn.execute(sql).fetchall()  # noqa: E731
    per_trigger = q("SELECT campaign_id, trigger_key, COUNT(*) FROM campaign_sends "
                    "GROUP BY 1, 2 HAVING COUNT(*) > 1")
    assert per_trigger == []
    outcomes = dict(q("SELECT outcome, COUNT(*) FROM campaign_sends GROUP BY outcome"))
    assert sum(outcomes.values()) == n + n // 10
    sent = outcomes["sent"]
    assert q("SELECT COUNT(*) FROM events WHERE type = 'campaign.sent'")[0][0] == sent
    issued = q("SELECT COUNT(*) FROM customer_coupons WHERE source = 'campaign:pay'")[0][0]
    assert issued == q("SELECT COUNT(*) FROM campaign_sends s JOIN campaigns c ON "
                       "c.id = s.campaign_id WHERE c.key = 'pay' AND outcome = 'sent'")[0][0]
    assert q("SELECT customer_id, COUNT(*) FROM customer_coupons GROUP BY customer_id "
             "HAVING COUNT(*) > 1") == []
    over_cap = q("SELECT customer_id FROM campaign_sends WHERE outcome = 'sent' "
                 "GROUP BY customer_id HAVING COUNT(*) > 1")
    assert over_cap == []
    conn.close()
    return outcomes


def test_two_passes_at_once_decide_each_trigger_once(tmp_path):
    path = tmp_path / "camp.db"
    make_file(path)
    env = {**os.environ, "CSTOOL_CAMPAIGN_BATCH": "100"}
    # both passes open the file, say so, and start together when told (a start time on
    # the wall clock let one pass start late on a loaded machine)
    procs = [subprocess.Popen([sys.executable, "-c", PASS, str(path), "go", NOW],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready", p.stderr.read()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        outs.append(json.loads(out))
    outcomes = check_file(path)
    # between them the two passes decided every trigger once
    decided = [o["sent"] + o["holdout"] + o["undeliverable"] + sum(o["suppressed"].values())
               for o in outs]
    assert sum(decided) == N + N // 10
    # each pass decided, or found decided by the other, every trigger it read as due; a
    # pass that reads after the other committed some batches does not read those as
    # due at all (they are decided), so already_done is not "the other's count"
    for o, d in zip(outs, decided, strict=True):
        assert o["due"] == d + o["already_done"]
        assert o["deferred"] == 0
    assert max(o["due"] for o in outs) == N + N // 10  # the first to read saw them all
    assert outcomes["suppressed"] == N // 10  # the cap: one of each pair
    assert 0.15 * N < outcomes["holdout"] < 0.25 * N


def test_a_pass_killed_midway_loses_nothing_and_repeats_nothing(tmp_path):
    path = tmp_path / "camp.db"
    make_file(path)
    env = {**os.environ, "CSTOOL_CAMPAIGN_BATCH": "50"}
    p = subprocess.Popen([sys.executable, "-c", PASS, str(path), "0", NOW],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    conn = sqlite3.connect(path, timeout=30)
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and p.poll() is None:
        done = conn.execute("SELECT COUNT(*) FROM campaign_sends").fetchone()[0]
        if done >= 200:
            break
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait(timeout=30)
    done = conn.execute("SELECT COUNT(*) FROM campaign_sends").fetchone()[0]
    conn.close()
    assert 0 < done < N + N // 10, "the pass was not killed midway"
    assert done % 50 == 0  # whole batches or nothing
    b = LocalBackend(path)
    again = b.run_due_campaigns(parse_time(NOW))
    b.close()
    assert again["already_done"] == 0  # committed triggers are not even read again
    outcomes = check_file(path)
    assert sum(outcomes.values()) == done + again["sent"] + again["holdout"] + \
        again["undeliverable"] + sum(again["suppressed"].values())
    assert "undeliverable" not in outcomes  # every customer has a chat


def test_bench_campaigns_quick_runs_and_prints_its_figures():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_campaigns.py"),
                          "--quick"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "run-due pass:" in out.stdout and "ratio (plain selection / pass):" in out.stdout
