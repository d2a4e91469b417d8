"""Channel deliveries to a fake gateway on loopback: one worker's job (the messages to
customers of chats on an http connector made into deliveries, each claimed in a write
transaction, signed, POSTed, its outcome recorded, the message's state moved) beside
plain POSTs of the same bodies to the same gateway in the same run; then every message
acknowledged with a receipt (``channel_receipt``).

The file holds one shop with an http connector and N customers who each wrote once
through it and got an agent's answer, then the chat closed (N chats, a few messages to
the customer each).
The baseline POSTs the same bodies with the same HTTP client and nothing else: the floor
of any sender. The ratio says what the bookkeeping (claims, leases, attempt log, order
per chat, message states) costs.

    python benchmarks/bench_channels.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import loopback_receiver  # noqa: E402

from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.webhook_sender import send_due  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a small run (for the tests)")
    n = 60 if ap.parse_args().quick else 1000
    server, url = loopback_receiver.start("/gateway")
    with tempfile.TemporaryDirectory() as tmp:
        b = LocalBackend(str(Path(tmp) / "channels.db"))
        b.apply({"shops": [{"key": "s", "name": "店", "service_mode": "human_first",
                            "settings": {"quiet_hours": None}}],
                 "agents": [{"handle": "a", "name": "小美", "shops": ["s"],
                             "status": "online", "max_chats": 50}]})
        b.create("channels", {"key": "s-app", "shop": "s", "kind": "http", "url": url,
                              "secret": "bench-secret-0123456789"})
        for i in range(n):
            conv = b.post_message("s", f"c{i:05d}", "你好，在吗", channel="s-app")
            b.reply("a", conv["conversation"]["id"], "在的，您请说")
            b.close_conversation(conv["conversation"]["id"])  # the agent's room again
        with httpx.Client() as client:
            t0 = time.perf_counter()
            counts = send_due(b, client=client, rounds=10_000)
            job_s = time.perf_counter() - t0
            rows = b.channel_deliveries("s-app", limit=10_000)
            bodies = [(b.webhook_delivery(r["id"])["body"], r["id"]) for r in rows]
            t0 = time.perf_counter()
            for body, uid in bodies:
                client.post(url, content=body.encode(), timeout=10,
                            headers={"Content-Type": "application/json",
                                     "X-Cstool-Delivery": uid})
            plain_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for r in rows:
            b.channel_receipt(r["id"], "read")
        receipt_s = time.perf_counter() - t0
        b.close()
    server.shutdown()
    assert counts["done"] == len(rows) == counts["attempted"], counts
    assert all(r["status"] == "done" for r in rows)
    print(f"chats: {n:,}; deliveries (messages to customers): {len(rows):,}")
    print(f"worker job (fan-out, claim, sign, POST, record, message state): {job_s:.2f} s, "
          f"{len(rows) / job_s:,.0f} deliveries/s")
    print(f"plain POSTs of the same bodies: {plain_s:.2f} s, {len(rows) / plain_s:,.0f}/s")
    print(f"ratio (plain POSTs / worker job): {plain_s / job_s:.2f}")
    print(f"receipts (one write each): {receipt_s:.2f} s, {len(rows) / receipt_s:,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
