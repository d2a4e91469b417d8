"""The HTTP side of webhooks: POST the deliveries a worker claimed and report each
outcome back (``claim_webhook_deliveries`` / ``finish_webhook_delivery``, operations of
every Backend, so a worker against a server sends from its own process and the server's
storage thread never waits on a receiver).

A redirect is followed only to the same scheme, host and port (307 and 308, which keep
the POST, at most three); any other redirect is a failed attempt, retried like a 500.
"""

from __future__ import annotations

import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx

from .errors import NotFound

if TYPE_CHECKING:
    from .api.backend import Backend

MAX_REDIRECTS = 3
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, port


def post(client: httpx.Client, d: dict) -> tuple[int | None, str | None]:
    """POST one claimed delivery: (HTTP status, None) or (None, what went wrong)."""
    url = d["url"]
    body = d["body"].encode()
    try:
        for _ in range(MAX_REDIRECTS + 1):
            r = client.post(url, content=body, headers=d["headers"],
                            timeout=d["timeout_s"], follow_redirects=False)
            if r.status_code not in (301, 302, 303, 307, 308):
                return r.status_code, None
            target = urljoin(url, r.headers.get("location", ""))
            if r.status_code not in (307, 308) or _origin(target) != _origin(url):
                return r.status_code, f"redirect to {target} not followed"
            url = target
        return r.status_code, "too many redirects"
    except httpx.TimeoutException:
        return None, f"timed out after {d['timeout_s']} s"
    except httpx.HTTPError as e:
        return None, f"{type(e).__name__}: {e}"[:500]


def send(backend: Backend, claimed: list[dict], *, worker: str = WORKER_ID,
         client: httpx.Client | None = None) -> list[dict]:
    """POST the claimed deliveries (all at once: each is the next of its conversation,
    and every one must be done within its lease) and record each outcome; the outcomes
    in order."""
    own = client is None
    client = client or httpx.Client()
    try:
        if len(claimed) == 1:
            answers = [post(client, claimed[0])]
        else:
            with ThreadPoolExecutor(max_workers=len(claimed)) as pool:
                answers = list(pool.map(lambda d: post(client, d), claimed))
    finally:
        if own:
            client.close()
    out = []
    for d, (code, error) in zip(claimed, answers, strict=True):
        try:
            out.append(backend.finish_webhook_delivery(d["id"], d["attempt"], worker,
                                                       status_code=code, error=error))
        except NotFound:  # the webhook was deleted meanwhile, its deliveries with it
            out.append({"id": d["id"], "attempt": d["attempt"], "recorded": False,
                        "status": "deleted", "next_at": None})
    return out


def send_due(backend: Backend, *, worker: str = WORKER_ID, limit: int = 20,
             rounds: int = 100, client: httpx.Client | None = None) -> dict[str, Any]:
    """The worker's job: claim and send due deliveries, a batch at a time, until none is
    due (at most ``rounds`` batches a pass). A conversation's next delivery becomes
    claimable when its previous one is done, so a busy chat takes several rounds.
    Counts by outcome."""
    counts = {"attempted": 0, "done": 0, "retrying": 0, "failed": 0}
    for _ in range(rounds):
        claimed = backend.claim_webhook_deliveries(worker, limit=limit)
        if not claimed:
            break
        for r in send(backend, claimed, worker=worker, client=client):
            counts["attempted"] += 1
            key = {"done": "done", "pending": "retrying", "failed": "failed"}.get(r["status"])
            if key:
                counts[key] += 1
    return counts


def send_now(backend: Backend, delivery: str, *, worker: str = WORKER_ID,
             client: httpx.Client | None = None) -> dict | None:
    """Attempt one delivery right away (``webhook test`` and ``redeliver``): its outcome,
    or None when it could not be claimed (another worker holds it)."""
    claimed = backend.claim_webhook_deliveries(worker, limit=1, delivery=delivery)
    if not claimed:
        return None
    return send(backend, claimed, worker=worker, client=client)[0]
