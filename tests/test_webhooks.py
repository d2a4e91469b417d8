"""Webhooks with real receivers on loopback: signed POSTs, retries with the same delivery
id, dead letters and redelivery by hand, order per conversation, the secret never shown
again, tenancy, and two worker processes with one killed (SIGKILL)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cstool.backend.local import LocalBackend
from cstool.worker import Worker

from .server_support import serve

SECRET = "whsec_test_0123456789abcdef"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """The README's verification, word for word."""
    parts = dict(p.split("=", 1) for p in header.split(","))
    t = int(parts["t"])
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac, parts["v1"]) and abs(now - t) <= tolerance


class Receiver:
    """An HTTP receiver on 127.0.0.1: records every POST (headers, body) and answers
    with the next scripted status (then ``default``)."""

    def __init__(self, script=(), default: int = 200, port: int = 0, delay_s: float = 0,
                 answer=None):
        self.script = list(script)
        self.answer = answer  # (body) -> a status, or None for the script's
        self.default = default
        self.delay_s = delay_s
        self.got: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.got.append((dict(self.headers), body))
                    code = receiver.answer(body) if receiver.answer else None
                    if code is None:
                        code = receiver.script.pop(0) if receiver.script else \
                            receiver.default
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                if code in (302, 307):
                    self.send_response(code)
                    self.send_header("Location", receiver.location)
                    self.end_headers()
                    return
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.location = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def ids(self) -> list[str]:
        with self.lock:
            return [h["X-Cstool-Delivery"] for h, _ in self.got]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(*args, **kw) -> Receiver:
        r = Receiver(*args, **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def shop(b, key: str = "s1", **settings) -> None:
    b.apply({"shops": [{"key": key, "name": "翎衣女装", "service_mode": "human_first",
                        "settings": {"quiet_hours": None, **settings}}]})


def hook(b, url: str, events=("conversation.created",), key: str = "h1",
         shop_key: str = "s1") -> dict:
    return b.create("webhooks", {"key": key, "shop": shop_key, "url": url,
                                 "events": list(events), "secret": SECRET})


def test_a_500_twice_then_200_is_one_delivery_id_three_times_signed(backend, clock, cli,
                                                                    receivers):
    rx = receivers([500, 500, 200])
    shop(backend)
    hook(backend, rx.url)
    backend.post_message("s1", "c1", "你好，这件有M码吗")
    worker = Worker(backend)
    first = worker.run_once()["webhooks"]
    assert first == {"attempted": 1, "done": 0, "retrying": 1, "failed": 0}
    assert worker.run_once()["webhooks"]["attempted"] == 0  # not due yet (10 s base)
    clock.advance(10)  # the first wait is 5..10 s
    assert worker.run_once()["webhooks"] == {"attempted": 1, "done": 0, "retrying": 1,
                                             "failed": 0}
    clock.advance(20)
    assert worker.run_once()["webhooks"] == {"attempted": 1, "done": 1, "retrying": 0,
                                             "failed": 0}
    ids = rx.ids()
    assert len(ids) == 3 and len(set(ids)) == 1
    bodies = {body for _, body in rx.got}
    assert len(bodies) == 1  # the same body every time
    for headers, body in rx.got:
        assert headers["X-Cstool-Event"] == "conversation.created"
        assert headers["Content-Type"] == "application/json"
        t = int(headers["X-Cstool-Signature"].split(",")[0][2:])
        assert verify(SECRET, headers["X-Cstool-Signature"], body, now=t)
        assert not verify("another secret of the same size", headers["X-Cstool-Signature"],
                          body, now=t)
        assert not verify(SECRET, headers["X-Cstool-Signature"], body + b" ", now=t)
    event = json.loads(bodies.pop())
    assert (event["id"], event["type"], event["shop"]) == (ids[0], "conversation.created", "s1")
    # the attempts were signed at their own times: 0 s, then >= 5 s, then >= 15 s later
    times = [int(h["X-Cstool-Signature"].split(",")[0][2:]) for h, _ in rx.got]
    assert times[0] < times[1] < times[2]
    [d] = cli.json("webhook", "deliveries", "h1")
    assert (d["id"], d["status"], d["attempts"]) == (ids[0], "done", 3)
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 500, 200]
    assert "done" in cli("webhook", "deliveries", "h1").stdout


def test_a_receiver_down_for_the_window_is_dead_lettered_then_redelivered(backend, clock, cli,
                                                                         receivers):
    rx = receivers()
    port = rx.port
    rx.close()  # down: connections are refused
    shop(backend, webhook_retry_base_s=600, webhook_retry_window_h=1)
    hook(backend, f"http://127.0.0.1:{port}/hook")
    backend.post_message("s1", "c1", "在吗")
    worker = Worker(backend)
    attempts = 0
    for _ in range(20):
        attempts += worker.run_once()["webhooks"]["attempted"]
        clock.advance(1200)  # past the longest wait of the window
        if backend.webhook_deliveries("h1", status="failed"):
            break
    [dead] = backend.webhook_deliveries("h1", status="failed")
    # 0, then 5..10 min, then 10..20 min more, then 20..40 min: over the hour, no more
    assert 3 <= dead["attempts"] == attempts <= 4
    assert all("Connect" in a["error"] for a in dead["attempt_log"])
    assert worker.run_once()["webhooks"]["attempted"] == 0  # a dead letter waits
    shown = cli("webhook", "deliveries", "h1", "--status", "failed")
    assert dead["id"] in shown.stdout and "failed" in shown.stdout
    back = receivers(port=port)  # the receiver is up again at the same address
    out = cli("webhook", "redeliver", dead["id"])
    assert out.exit_code == 0, out.output
    assert back.ids() == [dead["id"]]
    again = backend.webhook_delivery(dead["id"])
    assert (again["status"], again["attempts"]) == ("done", attempts + 1)
    missing = cli("webhook", "redeliver", "whd_9_9")
    assert missing.exit_code == 1 and "whd_9_9" in missing.stderr


def test_deliveries_of_one_conversation_keep_their_order(backend, clock, receivers):
    failed = []

    def answer(body: bytes) -> int | None:  # c1's first delivery fails once
        event = json.loads(body)
        if event["key"] == str(first) and not failed:
            failed.append(event["id"])
            return 503
        return None

    rx = receivers(answer=answer)
    shop(backend)
    hook(backend, rx.url, events=["message.created"])
    first = backend.post_message("s1", "c1", "第一句")["conversation"]["id"]
    backend.post_message("s1", "c1", "第二句")
    backend.post_message("s1", "c1", "第三句")
    other = backend.post_message("s1", "c2", "别人的话")["conversation"]["id"]
    worker = Worker(backend)
    worker.run_once()
    # c1's later messages wait behind the failed first one; all of c2's went out, one
    # after the other, in the same pass
    sent = [json.loads(b) for _, b in rx.got]
    assert [e["id"] for e in sent if e["key"] == str(first)] == failed
    c2 = [e["event_id"] for e in sent if e["key"] == str(other)]
    assert len(c2) >= 2 and c2 == sorted(c2)
    seen = len(rx.got)
    for _ in range(5):
        clock.advance(60)
        worker.run_once()
    done = [json.loads(b) for h, b in rx.got[seen:]]  # c1's retried first one onwards
    texts = [e["data"]["message"] for e in done if e["key"] == str(first)]
    logged = [json.loads(e["payload"])["message"] if isinstance(e["payload"], str)
              else e["payload"]["message"] for e in backend.events(limit=1000, shop="s1")
              if e["type"] == "message.created" and e["key"] == str(first)]
    assert len(logged) >= 3  # the customer's three and the desk's notices
    assert texts == logged  # every one, once, in the order of the log
    assert all(d["status"] == "done" for d in backend.webhook_deliveries("h1"))


def test_a_webhook_switched_off_gets_nothing_of_meanwhile_and_deleted_takes_its_log(
        backend, clock, receivers):
    rx = receivers()
    shop(backend)
    hook(backend, rx.url)
    worker = Worker(backend)
    backend.update("webhooks", "h1", {"active": False})
    backend.post_message("s1", "c1", "关着的时候")
    worker.run_once()
    backend.update("webhooks", "h1", {"active": True})
    worker.run_once()
    assert rx.got == [] and backend.webhook_deliveries("h1") == []
    backend.post_message("s1", "c2", "开着的时候")
    worker.run_once()
    assert len(rx.got) == 1 and json.loads(rx.got[0][1])["type"] == "conversation.created"
    [d] = backend.webhook_deliveries("h1")
    backend.delete("webhooks", "h1")
    from cstool.errors import NotFound
    with pytest.raises(NotFound):
        backend.webhook_delivery(d["id"])
    assert backend.list("webhooks") == []
    backend.post_message("s1", "c3", "删了以后")
    assert worker.run_once()["webhooks"]["attempted"] == 0


def test_a_redirect_to_another_host_is_not_followed(backend, clock, receivers):
    target = receivers()
    rx = receivers([307, 302])
    rx.location = target.url.replace("127.0.0.1", "localhost")  # another host
    shop(backend)
    hook(backend, rx.url)
    backend.post_message("s1", "c1", "你好")
    worker = Worker(backend)
    worker.run_once()
    assert target.got == []
    [d] = backend.webhook_deliveries("h1")
    assert d["status"] == "pending" and "not followed" in d["last_error"]
    rx.location = rx.url + "/moved"  # the same host: a 307 is followed, a 302 is not
    rx.script = [307]
    clock.advance(30)
    worker.run_once()
    [d] = backend.webhook_deliveries("h1")
    assert d["status"] == "done" and len(rx.got) == 3


def test_the_secret_is_shown_once_and_export_round_trips(cli, receivers, tmp_path):
    rx = receivers()
    assert cli("shop", "create", "s1", "--name", "店").exit_code == 0
    out = cli("webhook", "add", "h1", "--shop", "s1", "--url", rx.url,
              "--event", "conversation.created", "--event", "ticket.sla_breached")
    assert out.exit_code == 0, out.output
    secret = out.stdout.strip()
    assert secret.startswith("whsec_") and len(secret) > 40
    assert "shown this once" in out.stderr
    for args in (["webhook", "list"], ["webhook", "show", "h1"], ["export"],
                 ["webhook", "list", "--json"], ["webhook", "show", "h1", "--json"]):
        shown = cli(*args)
        assert shown.exit_code == 0 and secret not in shown.stdout, args
    exported = json.loads(cli("export", "--format", "json").stdout)["webhooks"]
    assert exported == [{"key": "h1", "shop": "s1", "url": rx.url, "active": True,
                         "events": ["conversation.created", "ticket.sla_breached"]}]
    path = tmp_path / "back.json"
    path.write_text(json.dumps({"webhooks": exported}), encoding="utf-8")
    applied = cli.json("apply", "-f", str(path))
    assert applied["unchanged"] == 1  # the stored secret stays
    test = cli("webhook", "test", "h1")
    assert test.exit_code == 0, test.output
    headers, body = rx.got[-1]
    t = int(headers["X-Cstool-Signature"].split(",")[0][2:])
    assert verify(secret, headers["X-Cstool-Signature"], body, now=t)
    assert headers["X-Cstool-Event"] == "webhook.test"
    rotated = cli("webhook", "update", "h1", "--new-secret")
    new = rotated.stdout.strip()
    assert rotated.exit_code == 0 and new.startswith("whsec_") and new != secret
    cli("webhook", "test", "h1")
    headers, body = rx.got[-1]
    t = int(headers["X-Cstool-Signature"].split(",")[0][2:])
    assert verify(new, headers["X-Cstool-Signature"], body, now=t)
    assert not verify(secret, headers["X-Cstool-Signature"], body, now=t)
    # a new data file: apply makes the webhook with a new secret (set one by hand)
    other = tmp_path / "other.db"
    LocalBackend(str(other)).close()
    doc = tmp_path / "doc.json"
    doc.write_text(json.dumps({"shops": [{"key": "s1", "name": "店"}],
                               "webhooks": exported}), encoding="utf-8")
    from .conftest import Cli
    assert Cli(str(other)).json("apply", "-f", str(doc))["created"] == 2


@pytest.mark.parametrize(("args", "code", "message"), [
    (["--url", "ftp://example.com/x", "--event", "message.created"], 1, "http:// or https://"),
    (["--url", "https://user:pw@example.com/x", "--event", "message.created"], 1,
     "user name or password"),
    (["--url", "https://example.com/x", "--event", "no.such"], 1, "unknown event type"),
    (["--url", "https://example.com/x"], 2, "--event"),
    (["--url", "https://example.com/x", "--event", "*", "--secret", "short"], 1,
     "at least 16"),
    (["--url", "not a url", "--event", "*"], 1, "http:// or https://"),
])
def test_bad_webhooks_are_one_line_and_change_nothing(cli, args, code, message):
    cli("shop", "create", "s1", "--name", "店")
    out = cli("webhook", "add", "h1", "--shop", "s1", *args)
    assert out.exit_code == code, out.output
    assert message in out.stderr and "Traceback" not in out.output
    assert len(out.stderr.strip().splitlines()) == 1
    assert cli.json("webhook", "list") == []


def test_a_webhook_gets_only_its_shops_events_and_a_shop_token_sees_only_its_webhooks(
        tmp_path, receivers):
    rx_a, rx_b = receivers(), receivers()
    served = serve(tmp_path / "t.db")
    try:
        b = served.backend
        shop(b, "sa")
        shop(b, "sb")
        b.apply({"agents": [{"handle": "boss-a", "name": "甲", "role": "supervisor",
                             "shops": ["sa"]},
                            {"handle": "clerk-a", "name": "乙", "shops": ["sa"]}]})
        hook(b, rx_a.url, events=["*"], key="ha", shop_key="sa")
        hook(b, rx_b.url, events=["*"], key="hb", shop_key="sb")
        b.post_message("sa", "c1", "甲店的话")
        b.post_message("sb", "c2", "乙店的秘密")
        Worker(b).run_once()
        assert {json.loads(body)["shop"] for _, body in rx_a.got} == {"sa"}
        assert {json.loads(body)["shop"] for _, body in rx_b.got} == {"sb"}
        assert all("乙店" not in body.decode() for _, body in rx_a.got)
        boss = served.remote(served.token("boss-a"))
        assert [h["key"] for h in boss.list("webhooks")] == ["ha"]
        assert all("secret" not in h for h in boss.list("webhooks"))
        from cstool.auth import Forbidden
        for call in (lambda: boss.get("webhooks", "hb"),
                     lambda: boss.webhook_deliveries("hb"),
                     lambda: boss.webhook_test("hb"),
                     lambda: boss.update("webhooks", "hb", {"url": "https://x.example/"}),
                     lambda: boss.claim_webhook_deliveries("w"),
                     lambda: boss.webhook_redeliver(b.webhook_deliveries("hb")[0]["id"])):
            with pytest.raises(Forbidden):
                call()
        assert boss.webhook_deliveries("ha")
        clerk = served.remote(served.token("clerk-a"))
        with pytest.raises(Forbidden):
            clerk.list("webhooks", shop="sa")  # where the events go is the managers'
        # a worker with the supervisor's token sends its shop's deliveries only
        boss.webhook_test("ha")
        claimed = boss.claim_webhook_deliveries("w", shop="sa")
        assert claimed and {d["webhook"] for d in claimed} == {"ha"}
    finally:
        served.close()


WORKER = """
import sys
from commands.main import main
sys.argv = ["cstool", "--db", sys.argv[1], "worker", "--interval", "0.2"]
main()
"""


def _until(condition, bound_s: float, pause_s: float = 0.05) -> bool:
    """Wait until ``condition()`` holds (True), or ``bound_s`` passed (False): a bound
    for a loaded machine, never a timing the test relies on."""
    deadline = time.monotonic() + bound_s
    while not condition():
        if time.monotonic() > deadline:
            return bool(condition())
        time.sleep(pause_s)
    return True


def test_two_workers_one_killed_every_delivery_arrives_duplicates_share_the_id(
        tmp_path, receivers):
    """Two worker processes POST 60 deliveries to a slow receiver; one is killed with
    SIGKILL once ten arrived: every delivery ends done, a delivery POSTed more than once
    (a killed worker's attempt made again when its lease ran out, or a retry) carries the
    same id and body every time, and the receiver saw no more POSTs than attempts.

    Nothing here depends on how fast the machine is: every wait is for a condition
    (generous bounds only), and a POST that times out on a loaded machine is retried
    after a second or two (``webhook_retry_base_s=1``), not the default ten, twenty,
    forty seconds that could outlast any fixed deadline."""
    n = 60
    rx = receivers(delay_s=0.05)  # a slow receiver: a kill lands mid-POST
    path = str(tmp_path / "w.db")
    b = LocalBackend(path)
    # a killed worker's lease runs out after 15 s (5 timeouts and 10 s)
    shop(b, webhook_timeout_s=1, webhook_retry_base_s=1)
    hook(b, rx.url)
    for i in range(n):
        b.post_message("s1", f"c{i:03d}", "你好")
    b.close()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    logs = [open(tmp_path / f"worker{i}.log", "wb") for i in range(2)]  # noqa: SIM115
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, path], env=env,
                                stdout=log, stderr=log) for log in logs]

    def said() -> str:
        return "\n".join(f"worker{i}: " + (tmp_path / f"worker{i}.log").read_text(
            errors="replace")[-2000:] for i in range(2))

    rows: list[dict] = []

    def all_done() -> bool:
        rows[:] = b.webhook_deliveries("h1", limit=1000)
        return len(rows) == n and all(r["status"] == "done" for r in rows)

    try:
        assert _until(lambda: len(rx.got) >= 10, 180), f"{len(rx.got)} arrived; {said()}"
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=30)
        b = LocalBackend(path)
        try:
            done = _until(all_done, 300, 0.2)
        finally:
            b.close()
        left = [(r["id"], r["status"], r["attempts"]) for r in rows if r["status"] != "done"]
        assert done, f"{len(rows)} deliveries, not done: {left}; {said()}"
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
                try:
                    w.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    w.kill()
                    w.wait()
        for log in logs:
            log.close()
    assert [r["status"] for r in rows] == ["done"] * n
    got = rx.ids()
    assert set(got) == {r["id"] for r in rows}  # every delivery arrived
    by_id: dict[str, set] = {}
    for headers, body in rx.got:
        by_id.setdefault(headers["X-Cstool-Delivery"], set()).add(body)
    assert all(len(bodies) == 1 for bodies in by_id.values())  # a duplicate is the same
    # each attempt made by one worker: the receiver saw no more POSTs than attempts
    assert len(got) <= sum(r["attempts"] for r in rows)


def test_bench_webhooks_quick_runs_and_prints_its_figures():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(root / "benchmarks" / "bench_webhooks.py"),
                          "--quick"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "deliveries/s" in out.stdout and "ratio (plain POSTs / worker job):" in out.stdout
