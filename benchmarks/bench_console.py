"""The agent console on a big file: 10,000 conversations and 200,000 messages.

Measures, in one process:
* first paint: from starting the app to the agent's desk and open chat drawn, beside a
  bare Textual app drawing one Static (the same framework start-up) — ratio;
* send: from the send key to the message stored and drawn in the transcript, beside a raw
  sqlite3 insert-and-commit of the same message with the same durability — ratio;
* memory: peak resident size of the process.
Goals: first paint <= 1.5 s, send <= 100 ms, memory <= 200 MB.

    python benchmarks/bench_console.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual.app import App  # noqa: E402
from textual.widgets import Static  # noqa: E402

from cstool.backend.local import LocalBackend  # noqa: E402
from tui.console import ConsoleApp  # noqa: E402

TEXTS = ["亲，这条裙子有M码吗？", "什么时候发货", "能便宜点吗", "好的谢谢", "我的快递到哪了",
         "有的亲，M码现货", "今天下单明天发", "可以给您申请一张券"]


def build(path: Path, conversations: int, messages: int) -> int:
    """A shop with 20 agents, ``conversations`` closed chats holding ``messages`` messages,
    and agent a0 serving 5 open chats. Returns the id of one of a0's open chats."""
    b = LocalBackend(path)
    b.apply({
        "shops": [{"key": "s", "name": "压测店"}],
        "agents": [{"handle": f"a{i}", "name": f"客服{i}", "shops": ["s"], "max_chats": 10,
                    "status": "offline"} for i in range(20)],
    })
    b.bulk_load("customers", [{"key": f"c{i}", "name": f"客户{i}",
                               "profiles": [{"shop": "s", "level": i % 6}]}
                              for i in range(conversations)])
    b.close()
    rnd = random.Random(3)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    t0 = 1_763_000_000_000
    per = max(1, messages // conversations)
    conv_rows, msg_rows = [], []
    for i in range(conversations):
        start = t0 + i * 60_000
        conv_rows.append((i + 1, 1, i + 1, "closed", rnd.randrange(1, 21), start,
                          start + per * 20_000, start + per * 20_000))
        for j in range(per):
            sender = "customer" if j % 2 == 0 else "agent"
            msg_rows.append((i + 1, sender, rnd.choice(TEXTS), start + j * 20_000))
    conn.executemany("INSERT INTO conversations (id, shop_id, customer_id, state, assignee_id, "
                     "created_at, last_message_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     conv_rows)
    conn.executemany("INSERT INTO messages (conversation_id, sender, body, created_at) "
                     "VALUES (?, ?, ?, ?)", msg_rows)
    conn.execute("COMMIT")
    conn.close()
    b = LocalBackend(path)
    b.set_agent_status("a0", "online")
    for i in range(5):
        b.post_message("s", f"c{i}", "亲，在吗？这条裙子还有货吗")
    open_id = b.list_conversations(agent="a0", state="active")[0]["id"]
    b.close()
    return open_id


async def first_paint(path: Path) -> float:
    """Seconds from creating the console to its desk and transcript drawn."""
    t0 = time.perf_counter()
    backend = LocalBackend(path)
    app = ConsoleApp(backend, "a0", poll_s=3600)
    async with app.run_test(size=(160, 48)) as pilot:
        while app.conv is None:
            await pilot.pause(0.005)
        await pilot.pause(0)
        elapsed = time.perf_counter() - t0
    backend.close()
    return elapsed


async def bare_paint() -> float:
    """Seconds for a bare Textual app to draw one Static (the framework's own cost)."""

    class Bare(App):
        def compose(self):
            yield Static("hello")

    t0 = time.perf_counter()
    app = Bare()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause(0)
        elapsed = time.perf_counter() - t0
    return elapsed


async def sends(path: Path, n: int) -> list[float]:
    """Seconds from the send key to the reply stored and in the transcript, ``n`` times."""
    backend = LocalBackend(path)
    app = ConsoleApp(backend, "a0", poll_s=3600)
    out = []
    async with app.run_test(size=(160, 48)) as pilot:
        while app.conv is None:
            await pilot.pause(0.005)
        for i in range(n):
            text = f"回复{i}：有的亲"
            app.query_one("#composer").insert(text)
            await pilot.pause(0.05)
            # The key goes in as the terminal would send it (App.simulate_key posts the
            # Key event); Pilot.press would add its own wait-for-idle of 60-150 ms.
            t0 = time.perf_counter()
            app.simulate_key("enter")
            while not app.conv or app.conv["messages"][-1]["body"] != text:
                await asyncio.sleep(0.0005)
            await asyncio.sleep(0)
            out.append(time.perf_counter() - t0)
            stored = backend.get_conversation(app.current)["messages"][-1]["body"]
            assert stored == text, stored
    backend.close()
    return out


def raw_insert(path: Path, n: int) -> list[float]:
    """Seconds for a raw sqlite3 insert-and-commit of one message, ``n`` times."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO messages (conversation_id, sender, body, created_at) "
                     "VALUES (1, 'agent', ?, ?)", (f"raw {i}", i))
        conn.execute("COMMIT")
        out.append(time.perf_counter() - t0)
    conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny size for the test suite")
    args = parser.parse_args(argv)
    conversations, messages, n = (300, 3000, 5) if args.quick else (10_000, 200_000, 30)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "console.db"
        t0 = time.perf_counter()
        build(path, conversations, messages)
        print(f"file: {conversations:,} conversations, {messages:,} messages "
              f"(built in {time.perf_counter() - t0:.1f} s)")
        bare = asyncio.run(bare_paint())
        paint = asyncio.run(first_paint(path))
        send = asyncio.run(sends(path, n))
        raw = raw_insert(path, n)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    send_ms, raw_ms = statistics.median(send) * 1000, statistics.median(raw) * 1000
    print(f"first paint: {paint:.2f} s (goal <= 1.5 s); bare Textual app: {bare:.2f} s; "
          f"ratio bare/ours: {bare / paint:.2f}")
    print(f"send to stored and drawn: median {send_ms:.1f} ms, max {max(send) * 1000:.1f} ms "
          f"(goal <= 100 ms); raw sqlite3 insert+commit: {raw_ms:.2f} ms; "
          f"ratio raw/ours: {raw_ms / send_ms:.3f}")
    print(f"peak memory: {rss_mb:.0f} MB (goal <= 200 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
