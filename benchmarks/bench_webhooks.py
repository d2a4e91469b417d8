"""Webhook deliveries to a receiver on loopback: one worker's job (events made into
deliveries, each claimed in a write transaction, signed, POSTed, its outcome recorded)
beside plain POSTs of the same bodies to the same receiver in the same run.

The file holds one shop with a webhook on every event and N customers who each wrote
once (N conversations: about four events each). The baseline POSTs the same bodies
with the same HTTP client and nothing else: the floor of any sender. The ratio says
what the bookkeeping (claims, leases, attempt log, order per conversation) costs.

    python benchmarks/bench_webhooks.py [--quick]
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
    n = 100 if ap.parse_args().quick else 1500
    server, url = loopback_receiver.start("/hook")
    with tempfile.TemporaryDirectory() as tmp:
        b = LocalBackend(str(Path(tmp) / "hooks.db"))
        b.apply({"shops": [{"key": "s", "name": "店", "settings": {"quiet_hours": None}}]})
        b.create("webhooks", {"key": "h", "shop": "s", "url": url, "events": ["*"],
                              "secret": "bench-secret-0123456789"})
        for i in range(n):
            b.post_message("s", f"c{i:05d}", "你好，在吗")
        with httpx.Client() as client:
            t0 = time.perf_counter()
            counts = send_due(b, client=client, rounds=10_000)
            job_s = time.perf_counter() - t0
            rows = b.webhook_deliveries("h", limit=10_000)
            bodies = [(b.webhook_delivery(r["id"])["body"], r["id"]) for r in rows]
            t0 = time.perf_counter()
            for body, uid in bodies:
                client.post(url, content=body.encode(), timeout=10,
                            headers={"Content-Type": "application/json",
                                     "X-Cstool-Delivery": uid})
            plain_s = time.perf_counter() - t0
        b.close()
    server.shutdown()
    assert counts["done"] == len(rows) == counts["attempted"], counts
    assert all(r["status"] == "done" for r in rows)
    print(f"conversations: {n:,}; deliveries: {len(rows):,}")
    print(f"worker job (fan-out, claim, sign, POST, record): {job_s:.2f} s, "
          f"{len(rows) / job_s:,.0f} deliveries/s")
    print(f"plain POSTs of the same bodies: {plain_s:.2f} s, {len(rows) / plain_s:,.0f}/s")
    print(f"ratio (plain POSTs / worker job): {plain_s / job_s:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
