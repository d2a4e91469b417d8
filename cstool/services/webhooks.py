"""Webhooks: the shop's events POSTed, signed, to integrations, retried until they land.

The event log is the source: each active webhook keeps a cursor in it, and a claim
first turns the new events of its shop and types into *deliveries* (one per event and
webhook, each with a unique id that every retry repeats), advancing the cursor in the
same transaction. A worker then claims due deliveries for one attempt each (a lease in
a write transaction, see ``cstool.storage.repos.webhooks``), POSTs them outside any
transaction (``cstool.webhook_sender``) and reports the outcome here: done on a 2xx,
else retried after ``base * 2**(n-1)`` seconds with jitter until the window closes,
then failed (the dead letter, redelivered by hand). Deliveries of one conversation (of
one entity, in general) go out in the order of their events.

The secret never leaves the core: a claim hands out the body and its signature header
``X-Cstool-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import secrets

from ..errors import InvalidInput, NotFound
from ..storage.repos.webhooks import ChannelDeliveries, Webhooks
from ..storage.unit_of_work import UnitOfWork
from ..text_rules import key_problem
from ..values import format_time
from . import channels
from .context import ServiceContext

DEFAULTS = {"webhook_retry_base_s": 10, "webhook_retry_window_h": 24, "webhook_timeout_s": 10}
MAX_DELAY_S = 6 * 3600  # one wait between attempts at most
FAN_OUT = 1000  # events read per webhook per claim
STATUSES = ("pending", "done", "failed")
TEST_EVENT = "webhook.test"
MAX_CLAIM = 500


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` and 32 random bytes in hex."""
    return "whsec_" + secrets.token_hex(32)


def signature(secret: str, t: int, body: str) -> str:
    """The ``X-Cstool-Signature`` value of ``body`` signed at unix second ``t``."""
    mac = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def setting(settings: dict, name: str) -> int:
    """A shop's webhook setting, or its default."""
    value = settings.get(name)
    return DEFAULTS[name] if value is None else int(value)


def lease_ms(settings: dict) -> int:
    """How long a claimed attempt is its worker's: five timeouts (a POST and up to three
    redirects, with room) and 10 s; after that a killed worker's attempt is made again by
    another, with the same delivery id."""
    return (5 * setting(settings, "webhook_timeout_s") + 10) * 1000


def repo_of(uid: str) -> type[Webhooks]:
    """The table of a delivery by its id: a channel connector's (``chd_``) or a
    webhook's (``whd_``)."""
    return ChannelDeliveries if str(uid).startswith("chd_") else Webhooks


def _handout(c: dict, now: int, channel: bool = False) -> dict:
    """What a worker needs for one attempt; the body signed at ``now``."""
    t = now // 1000
    named = {"webhook": None, "channel": c["webhook"]} if channel else {"webhook": c["webhook"]}
    return {"id": c["id"], **named, "event": c["event"], "url": c["url"],
            "attempt": c["attempt"], "timeout_s": setting(c["settings"], "webhook_timeout_s"),
            "lease_until": format_time(c["lease_until"]), "body": c["body"],
            "headers": {"Content-Type": "application/json",
                        "User-Agent": "cstool-channels/1" if channel else "cstool-webhooks/1",
                        "X-Cstool-Event": c["event"], "X-Cstool-Delivery": c["id"],
                        "X-Cstool-Signature": signature(c["secret"], t, c["body"])}}


def retry_delay_ms(base_s: int, attempt: int, rng: random.Random) -> int:
    """The wait after failed attempt ``attempt`` (1, 2, ...): ``base * 2**(attempt-1)``
    seconds (at most 6 h), of which the second half is random (jitter, so that many
    deliveries failing together do not come back together)."""
    full = min(base_s * 2 ** min(attempt - 1, 30), MAX_DELAY_S) * 1000
    return full // 2 + rng.randrange(full // 2 + 1)


class WebhookService:
    """Webhook deliveries (``ctx.webhooks``); the webhooks themselves are records."""

    def __init__(self, ctx: ServiceContext, rng: random.Random | None = None):
        self.ctx = ctx
        self.rng = rng or random.Random()

    # -- events become deliveries ------------------------------------------------------
    def fan_out(self, uow: UnitOfWork) -> int:
        """Make the deliveries of the events each active webhook has not seen yet (its
        shop's, of its types), inside the caller's write transaction. Returns how many."""
        rows = uow.repo(Webhooks)
        made = 0
        head = None
        for hook in rows.subscriptions():
            if not hook["active"]:  # switched off: what happens meanwhile is not sent later
                head = rows.head() if head is None else head
                rows.move_cursor(hook["id"], head)
                continue
            types = None if "*" in hook["events"] else hook["events"]
            events = rows.events_after(hook["shop_id"], hook["cursor"], types, FAN_OUT)
            if not events:
                head = rows.head() if head is None else head
                if head > hook["cursor"] and types is not None:
                    rows.move_cursor(hook["id"], head)  # nothing of its types: skip ahead
                continue
            rows.add_deliveries(
                _delivery_row(hook, e, uow.now) for e in events)
            rows.move_cursor(hook["id"], events[-1][0])
            made += len(events)
        return made

    # -- attempts ----------------------------------------------------------------------
    def claim(self, worker: str, *, limit: int = 20, delivery: str | None = None,
              shop: str | None = None) -> list[dict]:
        """Claim due deliveries (or the one named) for one attempt each by ``worker``:
        what to POST where (URL, body, headers with the signature), the attempt's number
        and how long to wait for an answer. New events become deliveries first."""
        _check_worker(worker)
        worker = worker[:200]
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput("limit: 1..500", key="limit_range_500")
        limit = min(limit, MAX_CLAIM)
        with self.ctx.write() as uow:
            shop_id = uow.shops.by_key(shop)["id"] if shop is not None else None
            if delivery is None:
                self.fan_out(uow)
                channels.fan_out(uow)
            elif uow.repo(repo_of(delivery)).attempt_of(delivery) is None:
                raise _no_delivery(delivery)
            now = uow.now
            out = []
            # webhooks' first, then channels' (the same claim, lease and log)
            for repo in ((repo_of(delivery),) if delivery else (Webhooks, ChannelDeliveries)):
                if len(out) >= limit:
                    break
                # the lease outlives the POST's timeout: nobody else tries it meanwhile
                claimed = uow.repo(repo).claim(
                    now, worker, lambda settings: now + lease_ms(settings), limit - len(out),
                    uid=delivery, shop_id=shop_id)
                out += [_handout(c, now, repo is ChannelDeliveries) for c in claimed]
            return out

    def finish(self, delivery: str, attempt: int, worker: str, *,
               status_code: int | None = None, error: str | None = None) -> dict:
        """Record how attempt ``attempt`` of ``delivery`` by ``worker`` went: an HTTP
        status (2xx: done) or an error (timeout, refused ...). A failure is retried
        later, or dead-lettered when the window is over. An attempt that is not the
        worker's (its lease ran out and another took it) changes nothing."""
        if status_code is not None and (not isinstance(status_code, int)
                                        or not 100 <= status_code <= 599):
            raise InvalidInput("status_code: 100..599", key="status_code_bad")
        _check_worker(worker)
        if status_code is None and not error:
            error = "no outcome reported"  # neither an answer nor an error: a failure
        error = None if error is None else str(error)[:500]
        worker = worker[:200]
        with self.ctx.write() as uow:
            rows = uow.repo(repo_of(delivery))
            d = rows.attempt_of(delivery)
            if d is None:
                raise _no_delivery(delivery)
            now = uow.now
            ok = status_code is not None and 200 <= status_code < 300
            next_at = None
            if ok:
                status = "done"
            else:
                delay = retry_delay_ms(setting(d["settings"], "webhook_retry_base_s"),
                                       attempt, self.rng)
                window = setting(d["settings"], "webhook_retry_window_h") * 3_600_000
                if d["event"] == TEST_EVENT or now + delay > d["first_at"] + window:
                    status = "failed"  # the dead letter: `webhook redeliver` sends it again
                else:
                    status, next_at = "pending", now + delay
            recorded = rows.finish(d["id"], attempt, worker, now, status=status,
                                   code=status_code, error=error, next_at=next_at)
            if recorded and isinstance(rows, ChannelDeliveries):
                channels.after_attempt(uow, d, delivery, status)
            elif recorded and status == "failed":
                uow.event("webhook.failed", "webhook", d["webhook"], d["shop_id"],
                          {"delivery": delivery, "attempts": attempt})
        return {"id": delivery, "attempt": attempt, "recorded": recorded,
                "status": status if recorded else d["status"],
                "next_at": format_time(next_at) if recorded and next_at else None}

    # -- by hand -----------------------------------------------------------------------
    def test(self, name: str) -> dict:
        """Queue a ``webhook.test`` delivery to the webhook (one attempt, not retried)."""
        with self.ctx.write() as uow:
            hook = self._hook(uow, name)
            now = uow.now
            event = (None, now, TEST_EVENT, "webhook", name,
                     json.dumps({"message": "cstool webhook test"}))
            row = _delivery_row(hook, event, now)
            uow.repo(Webhooks).add_deliveries([row])
        return self.delivery(row[0])

    def redeliver(self, delivery: str) -> dict:
        """Send a delivery again (a dead letter, or a done one): pending from now, the
        same id, a fresh window of attempts."""
        with self.ctx.write() as uow:
            rows = uow.repo(repo_of(delivery))
            if rows.attempt_of(delivery) is None:
                raise _no_delivery(delivery)
            if not rows.redeliver(delivery, uow.now):
                raise InvalidInput(f"delivery {delivery!r} is being attempted right now",
                                   key="delivery_in_flight", delivery=delivery)
        return self.delivery(delivery)

    def delivery(self, uid: str) -> dict:
        """One delivery with its body and every attempt."""
        with self.ctx.read() as uow:
            d = uow.repo(repo_of(uid)).delivery(uid)
        if d is None:
            raise _no_delivery(uid)
        return _external(d)

    def deliveries(self, name: str, *, status: str | None = None, limit: int = 100,
                   after: str | None = None,
                   repo: type[Webhooks] = Webhooks) -> list[dict]:
        """A webhook's deliveries, newest first, each with its attempts (``after``: the
        id of the previous page's last)."""
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"status: one of {', '.join(STATUSES)}", key="status_one_of",
                               known=", ".join(STATUSES))
        if not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InvalidInput("limit: 1..10000", key="limit_range_10000")
        with self.ctx.read() as uow:
            hook = self._hook(uow, name, repo)
            rows = uow.repo(repo).deliveries(hook["id"], status=status, after=after,
                                             limit=limit)
        return [_external(d) for d in rows]

    def channel_deliveries(self, name: str, *, status: str | None = None, limit: int = 100,
                           after: str | None = None) -> list[dict]:
        """A channel connector's deliveries (messages to customers), newest first, each
        with its attempts and the gateway's receipt."""
        return self.deliveries(name, status=status, limit=limit, after=after,
                               repo=ChannelDeliveries)

    def receipt(self, delivery: str, status: str) -> dict:
        """A gateway's delivery receipt (delivered, read, failed) of a channel delivery."""
        with self.ctx.write() as uow:
            return channels.receipt(uow, delivery, status)

    @staticmethod
    def _hook(uow: UnitOfWork, name: str, repo: type[Webhooks] = Webhooks) -> dict:
        hook = uow.repo(repo).hook(name)
        if hook is None:
            kind = "channel" if repo is ChannelDeliveries else "webhook"
            raise NotFound(f"no {kind} {name!r}", key="no_record", kind=kind, record=name)
        return hook


def _no_delivery(uid: str) -> NotFound:
    """The refusal for an unknown delivery id (a channel's or a webhook's)."""
    if str(uid).startswith("chd_"):
        return NotFound(f"no channel delivery {uid!r}", key="no_channel_delivery",
                        delivery=uid)
    return NotFound(f"no webhook delivery {uid!r}", key="no_delivery", delivery=uid)


def _check_worker(worker: str) -> None:
    """A worker's name (what it claims under) follows the rules of record keys."""
    if not isinstance(worker, str) or key_problem(worker) is not None:
        raise InvalidInput("worker: a name without control characters or surrounding "
                           "spaces", key="worker_name_bad")


def _uid(webhook_id: int, event_id: int | None) -> str:
    """A delivery's id: unique per webhook and event (a test: random)."""
    if event_id is None:
        return f"whd_{webhook_id}_test_{secrets.token_hex(6)}"
    return f"whd_{webhook_id}_{event_id}"


def _delivery_row(hook: dict, event: tuple, now: int) -> tuple:
    """A webhook_deliveries row for ``event`` (id, at, type, entity, key, payload)."""
    eid, at, etype, entity, key, payload = event
    uid = _uid(hook["id"], eid)
    body = json.dumps({
        "id": uid, "type": etype, "shop": hook["shop"], "created_at": format_time(at),
        "event_id": eid, "entity": entity, "key": key,
        "data": json.loads(payload) if payload else {},
    }, ensure_ascii=False, separators=(",", ":"))
    order_key = f"{entity}:{key}" if entity and key and eid is not None else None
    return (uid, hook["id"], hook["shop_id"], eid, etype, order_key, body, now)


def _external(d: dict) -> dict:
    """A delivery as the API shows it (times in ISO 8601)."""
    out = {"id": d["uid"], "webhook": d["webhook"], "shop": d["shop"],
           "event": d["event_type"], "event_id": d["event_id"], "status": d["status"],
           "attempts": d["attempts"], "last_status_code": d["last_code"],
           "last_error": d["last_error"],
           "next_attempt_at": format_time(d["next_at"]) if d["status"] == "pending" else None,
           "done_at": format_time(d["done_at"]), "created_at": format_time(d["created_at"]),
           "attempt_log": [{**a, "started_at": format_time(a["started_at"]),
                            "finished_at": format_time(a["finished_at"])}
                           for a in d["attempt_log"]]}
    if out["id"].startswith("chd_"):  # a channel connector's: named so, with the receipt
        out["channel"], out["webhook"] = out["webhook"], None
        out["message"], out["receipt"] = d.get("message_id"), d.get("receipt")
    if "body" in d:
        out["body"] = d["body"]
    return out
