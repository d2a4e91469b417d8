"""Real processes on one store: eight of them pressing accept-next over a 1,000-chat
queue, on a SQLite file and on a PostgreSQL database (the throwaway cluster of
tests/pg_support.py). Every chat is assigned exactly once and no agent ever goes above
capacity."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest

from cstool.backend.local import LocalBackend
from cstool.storage import Database

CHATS = 1000
PROCS = 8
AGENTS_PER_PROC = 2
CAPACITY = 50  # 16 agents x 50 = 800 slots: 200 chats must stay queued

WORKER = textwrap.dedent("""
    import sys, time
    from cstool.backend.local import LocalBackend
    from cstool.errors import Conflict
    path, start, handles = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
    b = LocalBackend(path)
    while time.time() < start:
        time.sleep(0.001)
    full = set()
    taken = 0
    while len(full) < len(handles):
        progressed = False
        for h in handles:
            if h in full:
                continue
            try:
                conv = b.accept_next(h)
            except Conflict:
                full.add(h)
                continue
            if conv is None:
                full.add(h)
                continue
            taken += 1
            progressed = True
        if not progressed:
            break
    print(taken)
""")


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_eight_processes_accepting_never_double_assign(engine, tmp_path, request):
    path = tmp_path / "queue.db" if engine == "sqlite" else request.getfixturevalue("pg_url")
    handles = [f"a{i:02d}" for i in range(PROCS * AGENTS_PER_PROC)]
    b = LocalBackend(path)
    b.apply({
        "shops": [{"key": "s", "name": "大促店", "service_mode": "human_only"}],
        "agents": [{"handle": h, "name": h, "shops": ["s"], "status": "busy",
                    "max_chats": CAPACITY} for h in handles],
    })
    for i in range(CHATS):
        b.post_message("s", f"c{i:04d}", "在吗？双十一的优惠还有吗")
    assert len(b.queue("s")) == CHATS
    b.close()

    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(start),
             *handles[p * AGENTS_PER_PROC:(p + 1) * AGENTS_PER_PROC]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for p in range(PROCS)
    ]
    taken = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        taken.append(int(out.strip()))
    assert sum(taken) == len(handles) * CAPACITY

    db = Database(path, create=False)
    conn = db.conn
    per_agent = dict(conn.execute(
        "SELECT a.handle, COUNT(*) FROM conversations c JOIN agents a ON a.id = c.assignee_id "
        "WHERE c.state = 'active' GROUP BY a.handle"))
    assert per_agent == {h: CAPACITY for h in handles}
    assigned = [json.loads(p)["agent"] for (p,) in conn.execute(
        "SELECT payload FROM events WHERE type = 'conversation.assigned'")]
    assert len(assigned) == len(handles) * CAPACITY
    per_conv = conn.execute(
        "SELECT entity_key, COUNT(*) FROM events WHERE type = 'conversation.assigned' "
        "GROUP BY entity_key HAVING COUNT(*) > 1").fetchall()
    assert per_conv == []  # no chat was given out twice
    queued = conn.execute("SELECT COUNT(*) FROM conversations WHERE state = 'queued'")\
        .fetchone()[0]
    assert queued == CHATS - len(handles) * CAPACITY
    db.close()
