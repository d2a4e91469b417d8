"""The worker: one pass closes idle chats, hands waiting chats to freed capacity and runs
the SLA scan; the real process stops cleanly on SIGTERM after the pass in progress."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from cstool.backend.local import LocalBackend
from cstool.clock import FrozenClock
from cstool.values import parse_time
from cstool.worker import Worker


def test_one_pass_does_every_job(tmp_path):
    clock = FrozenClock(parse_time("2026-11-20T10:00:00+08:00"))
    b = LocalBackend(tmp_path / "w.db", clock=clock)
    b.apply({"shops": [{"key": "s", "name": "店", "settings": {"idle_close_min": 10}}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "status": "online",
                         "max_chats": 1}]})
    first = b.post_message("s", "c1", "在吗")["conversation"]["id"]
    clock.advance(5 * 60)
    waiting = b.post_message("s", "c2", "你好")["conversation"]["id"]
    b.update("agents", "a", {"max_chats": 2})  # a free slot, but no desk operation
    worker = Worker(b, interval_s=1)
    result = worker.run_once()
    assert result["queue_assigned"] == [[waiting, "a"]]
    assert result["idle_closed"] == []
    clock.advance(6 * 60)  # c1 idle for 11 minutes, c2 for 6
    result = worker.run_once()
    assert result["idle_closed"] == [first]
    assert "sla" in result and worker.passes == 2 and worker.errors == []
    b.close()


def test_worker_once_cli(cli):
    cli("shop", "create", "s", "--name", "店")
    r = cli("worker", "--once", "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["idle_closed"] == [] and result["queue_assigned"] == []


def test_worker_process_stops_on_sigterm(tmp_path):
    db = tmp_path / "w.db"
    LocalBackend(db).close()
    cstool = Path(sys.executable).with_name("cstool")
    p = subprocess.Popen([str(cstool), "--db", str(db), "worker", "--interval", "0.3"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # SIGTERM once the worker says it runs (its handlers are in place by then), however
    # long a loaded machine takes to start it
    first = p.stderr.readline()
    assert "worker running every 0.3s" in first, first
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "worker stopped after" in err
