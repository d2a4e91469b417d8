"""API benchmark: `cstool serve` on loopback beside a bare ASGI handler, and live events.

(a) Customer messages per second with 50 concurrent clients (each a customer with its
    own widget token, keep-alive connections, ``POST /v1/shops/{shop}/messages``), and
    p50/p99 latency, against a real uvicorn serving a fresh file. Beside it, in the same
    run and under the same uvicorn settings, a bare ASGI handler that returns the same
    JSON bytes for every request: the ratio is what the API (auth, validation, rights,
    the SQLite transaction with its fsync, the event) costs over HTTP itself.
    Goal: >= 1,000 messages/s, p99 <= 50 ms, ratio >= 0.3. A third server, the real one
    with the desk's write replaced by the sample answer, splits the gap: what the API's
    own path costs (HTTP, the message lane, the token, the rights, the storage thread)
    and what the SQLite transaction costs.
(b) 500 concurrent subscribers of ``GET /v1/events`` (admin tokens): messages are posted
    through the API while they listen; every subscriber must receive every event.
    Prints deliveries, how long after the last post the last subscriber had everything,
    and the missed count (goal: 0).

Each server runs in its own process (the clients do not share its interpreter); the
clients are plain asyncio sockets so that they cost little next to the server.

Usage: python benchmarks/bench_api.py [--quick] [--clients 50] [--requests 200]
       [--subscribers 500] [--posts 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHOP = "bench"


# -- the two servers (each run as `bench_api.py --serve KIND PORT [DB]` in a child) ----------
def serve_real(port: int, db: str) -> None:
    """`cstool serve` itself."""
    from cstool.server.run import serve

    serve(db, port=port, log_level="warning")


def serve_stub(port: int, db: str, body_file: str) -> None:
    """`cstool serve` with the desk's write replaced by the sample answer: every request
    still goes through HTTP, the message lane, the token check, the rights and the
    storage thread, but no SQLite transaction runs. It splits the gap between the real
    server and the bare handler into the API's own cost and the write's."""
    from cstool.backend.local import LocalBackend
    from cstool.server.run import serve

    answer = json.loads(Path(body_file).read_bytes())
    LocalBackend.post_message = lambda self, *a, **kw: answer  # a stand-in: this run only
    serve(db, port=port, log_level="warning")


def serve_bare(port: int, body_file: str) -> None:
    """A bare ASGI app that answers every request with the same JSON bytes."""
    import uvicorn

    body = Path(body_file).read_bytes()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:  # read the request body like the real one does
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                server_header=False)


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind: str, *args: str) -> tuple[subprocess.Popen, int]:
    """Start a server child process and wait until it answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", kind, str(port), *args],
                            cwd=ROOT, env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))})
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, port
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit(f"the {kind} server did not start") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM and wait (the real server stops gracefully)."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- a lean HTTP/1.1 client over asyncio streams --------------------------------------------
class Conn:
    """One keep-alive connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Conn:
        """Connect to the loopback port."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, token: str, body: bytes = b"",
                      extra: str = "") -> tuple[int, bytes]:
        """Send one request, read one response: (status, body)."""
        head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}"
                f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                f"{extra}\r\n")
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        """Close the socket."""
        self.writer.close()


async def load(port: int, tokens: list[str], requests: int) -> tuple[float, list[float], int]:
    """Every client posts ``requests`` messages in turn; returns (seconds, latencies, errors)."""
    latencies: list[float] = []
    errors = 0

    async def client(n: int, token: str) -> None:
        nonlocal errors
        conn = await Conn.open(port)
        try:
            for i in range(requests):
                body = json.dumps({"text": f"亲，第{i}个问题：这件有M码吗？",
                                   "client_id": f"b{n}-{i}"}, ensure_ascii=False).encode()
                t0 = time.perf_counter()
                status, _ = await conn.request("POST", f"/v1/shops/{SHOP}/messages", token, body)
                latencies.append(time.perf_counter() - t0)
                if status not in (200, 201):
                    errors += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client(n, t) for n, t in enumerate(tokens)))
    return time.perf_counter() - started, latencies, errors


def pct(values: list[float], p: float) -> float:
    """The p-th percentile, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


# -- (b) event subscribers ----------------------------------------------------------------------
async def subscribers(port: int, token: str, count: int, after: int, post) -> dict:
    """``count`` subscribers from event ``after`` while ``post()`` writes; every one must
    see every event. Returns deliveries, wait for the last one, missed events."""
    got: list[set[int]] = [set() for _ in range(count)]
    conns: list[Conn] = []

    async def listen(i: int) -> None:
        conn = await Conn.open(port)
        conns.append(conn)
        conn.writer.write((f"GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                           f"Bearer {token}\r\nLast-Event-ID: {after}\r\n\r\n").encode())
        while True:
            line = await conn.reader.readline()
            if not line:
                return
            if line.startswith(b"id: "):
                got[i].add(int(line[4:]))

    tasks = [asyncio.create_task(listen(i)) for i in range(count)]
    await asyncio.sleep(0.5)  # let them connect
    last_id = await post()
    posted = time.perf_counter()
    expected = set(range(after + 1, last_id + 1))
    deadline = posted + 60
    while time.perf_counter() < deadline:
        if all(expected <= g for g in got):
            break
        await asyncio.sleep(0.02)
    waited = time.perf_counter() - posted
    for t in tasks:
        t.cancel()
    for c in conns:
        c.close()
    missed = sum(len(expected - g) for g in got)
    return {"events": len(expected), "deliveries": sum(len(g & expected) for g in got),
            "wait_s": waited, "missed": missed}


# -- the run ------------------------------------------------------------------------------------
def prepare(db: str, clients: int, admins: int) -> tuple[list[str], list[str]]:
    """A shop with enough online agents for every chat; a widget token per client."""
    from cstool.auth import TokenStore
    from cstool.backend.local import LocalBackend

    be = LocalBackend(db)
    try:
        agents = max(1, clients // 10)
        be.apply({
            "shops": [{"key": SHOP, "name": "压测旗舰店", "service_mode": "human_first"}],
            "agents": [{"handle": f"a{i}", "name": f"客服{i}", "shops": [SHOP],
                        "status": "online", "max_chats": 50} for i in range(agents)],
        })
        store = TokenStore(be)
        customers = [store.create_customer_token(SHOP, f"c{i}")["token"] for i in range(clients)]
        admin = [store.create_token(None, "admin")["token"] for _ in range(admins)]
    finally:
        be.close()
    return customers, admin


def head_of(db: str) -> int:
    """The newest event id in the file."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]


def main() -> None:
    """Run (a) and (b) and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (the test suite's)")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=None, help="messages per client")
    ap.add_argument("--subscribers", type=int, default=None)
    ap.add_argument("--posts", type=int, default=None, help="messages posted in (b)")
    ap.add_argument("--serve", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        kind, port, *rest = args.serve
        {"real": serve_real, "stub": serve_stub, "bare": serve_bare}[kind](int(port), *rest)
        return
    requests = args.requests or (10 if args.quick else 200)
    subs = args.subscribers or (100 if args.quick else 500)
    posts = args.posts or (20 if args.quick else 100)
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "bench.db")
        tokens, (admin,) = prepare(db, args.clients, 1)
        proc, port = start("real", db)
        try:
            # one message first, for the JSON the bare handler will send back
            sample = asyncio.run(_one(port, tokens[0]))
            seconds, lat, errors = asyncio.run(load(port, tokens, requests))
            before = head_of(db)
            sub = asyncio.run(subscribers(port, admin, subs, before,
                                          lambda: _posts(port, tokens[:10], posts, db)))
        finally:
            stop(proc)
        body_file = Path(tmp) / "body.json"
        body_file.write_bytes(sample)
        bare_proc, bare_port = start("bare", str(body_file))
        try:
            b_seconds, b_lat, _ = asyncio.run(load(bare_port, tokens, requests))
        finally:
            stop(bare_proc)
        stub_proc, stub_port = start("stub", db, str(body_file))
        try:
            s_seconds, s_lat, s_errors = asyncio.run(load(stub_port, tokens, requests))
        finally:
            stop(stub_proc)
    n = len(lat)
    rate, b_rate = n / seconds, len(b_lat) / b_seconds
    print(f"(a) {args.clients} clients x {requests} customer messages over HTTP "
          f"({n:,} messages, {errors} errors)")
    print(f"    cstool serve: {rate:,.0f} messages/s; p50 {pct(lat, 50):.1f} ms, "
          f"p99 {pct(lat, 99):.1f} ms (mean {statistics.mean(lat) * 1000:.1f} ms)")
    print(f"    bare ASGI handler, same JSON: {b_rate:,.0f} responses/s; "
          f"p50 {pct(b_lat, 50):.1f} ms, p99 {pct(b_lat, 99):.1f} ms")
    print(f"    ratio {rate / b_rate:.2f} (goal >= 0.3; >= 1,000 messages/s, p99 <= 50 ms)")
    s_rate = len(s_lat) / s_seconds
    print(f"    the same server with the desk's write stubbed (HTTP, lane, token, rights, "
          f"storage thread; no SQLite): {s_rate:,.0f} responses/s, p99 {pct(s_lat, 99):.1f} ms;"
          f" ratio {s_rate / b_rate:.2f} against the bare handler ({s_errors} errors)")
    print(f"(b) {subs} event-stream subscribers, {posts} messages posted: {sub['events']} "
          f"events, {sub['deliveries']:,} deliveries; the last subscriber had every event "
          f"{sub['wait_s'] * 1000:.0f} ms after the last post; missed {sub['missed']}")
    if errors or s_errors or sub["missed"]:
        raise SystemExit(1)


async def _one(port: int, token: str) -> bytes:
    conn = await Conn.open(port)
    try:
        body = json.dumps({"text": "你好，在吗？", "client_id": "sample"},
                          ensure_ascii=False).encode()
        status, data = await conn.request("POST", f"/v1/shops/{SHOP}/messages", token, body)
        assert status in (200, 201), data
        return data
    finally:
        conn.close()


async def _posts(port: int, tokens: list[str], count: int, db: str) -> int:
    """Post ``count`` messages from a few customers; returns the newest event id then."""
    conns = [await Conn.open(port) for _ in tokens]
    try:
        async def one(k: int) -> None:
            for i in range(k, count, len(tokens)):
                body = json.dumps({"text": f"订阅测试{i}", "client_id": f"s{i}"},
                                  ensure_ascii=False).encode()
                status, data = await conns[k].request(
                    "POST", f"/v1/shops/{SHOP}/messages", tokens[k], body)
                assert status in (200, 201), data

        await asyncio.gather(*(one(k) for k in range(len(tokens))))
    finally:
        for c in conns:
            c.close()
    return head_of(db)


if __name__ == "__main__":
    main()
