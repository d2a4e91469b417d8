"""The campaign service: the run-due pass, 退订 / reply codes answered at post time,
sensitive chats, the record of decisions, and stats with lift against the holdout.

The pass reads the due triggers of every active campaign with one indexed query each,
then records them in write transactions of at most ``BATCH`` triggers. Inside each
transaction (BEGIN IMMEDIATE: one writer at a time) it re-reads what another worker
may have done meanwhile (triggers already recorded, opt-outs, sensitive chats, sends
that count against the frequency cap) and writes every decision as a row of
``campaign_sends`` (UNIQUE per campaign and trigger) together with the message, the
coupon and the events. So a trigger is decided exactly once, by whichever worker gets
there first, and a worker killed mid-pass leaves whole batches or nothing.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from ..api.bounds import check_whole
from ..campaigns import rules
from ..campaigns.lift import lift
from ..campaigns.templates import render, variables_of
from ..errors import CstoolError, InvalidInput, NotFound, UsageError
from ..storage.events import EventRow
from ..storage.repos.campaigns import Campaigns
from ..storage.repos.coupons import Coupons
from ..storage.unit_of_work import UnitOfWork
from ..values import format_money, format_time, format_time_in, parse_time
from . import channels, messages
from .context import ServiceContext

BATCH = int(os.environ.get("CSTOOL_CAMPAIGN_BATCH", "500"))
OUTCOMES = ("sent", "holdout", "suppressed", "redeemed", "undeliverable")
# What became of a sent message once a channel reported on it (campaign_sends.delivery).
DELIVERY_STATES = ("delivered", "read", "failed")
HOUR_MS = 3_600_000
MIN_MS = rules.MINUTE_MS

class CampaignService:
    """Campaigns: the pass, the commands a customer's message carries, sensitive chats,
    the record of decisions and the stats. Prices come from ``ctx.invitations``."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx

    # -- the pass --------------------------------------------------------------------------
    def run_due_campaigns(self, now: str | int | None = None, *,
                          shop: str | None = None) -> dict:
        """Send every due trigger of every active campaign (or one shop's), each exactly
        once, through the guards: audience, quiet hours, opt-out, sensitive chats, the
        frequency cap and the holdout. ``now`` replays the pass at another time (ISO 8601
        or epoch ms). Returns what was decided, by outcome."""
        t = self._pass_time(now)
        summary: dict[str, Any] = {"at": format_time(t), "campaigns": 0, "due": 0, "sent": 0,
                                   "holdout": 0, "undeliverable": 0, "suppressed": {},
                                   "deferred": 0, "already_done": 0}
        with self.ctx.read() as uow:
            shop_id = uow.shops.by_key(shop)["id"] if shop is not None else None
            campaigns = self._running_campaigns(uow, t, shop_id)
            summary["campaigns"] = len(campaigns)
            shops = {c["shop_id"]: self._campaign_shop(uow, c["shop_id"]) for c in campaigns}
            due: dict[int, list[tuple[dict, tuple]]] = {}
            for c in campaigns:
                for row in self._due_triggers(uow, c, t):
                    due.setdefault(c["shop_id"], []).append((c, row))
            prices = self._campaign_prices(uow, campaigns, due, shops, t)
        suppressed: Counter = Counter()
        for sid, items in due.items():
            s = shops[sid]
            quiet_end = rules.quiet_until(s["settings"].get("quiet_hours"), t, s["timezone"])
            audience = [(c, row, None) for c, row in items if self._in_audience(c, row)]
            if any(c["classifications"] for c, _, _ in audience):
                audience = self._classified(sid, audience)
            todo = []
            for c, row, _ in audience:
                summary["due"] += 1
                if quiet_end is not None:
                    expires = row[4] + c["_delay_ms"] + c["_expires_ms"]
                    if expires > quiet_end:
                        summary["deferred"] += 1  # sent when the quiet hours end
                        continue
                    todo.append((c, row, "quiet_hours"))
                else:
                    todo.append((c, row, None))
            todo.sort(key=lambda x: (x[1][4] + x[0]["_delay_ms"],
                                     rules.TRIGGERS[x[0]["trigger"]].rank, x[1][0]))
            for i in range(0, len(todo), BATCH):
                with self.ctx.write() as uow:
                    out = self._decide_batch(uow, s, todo[i:i + BATCH], t, prices)
                summary["sent"] += out["sent"]
                summary["holdout"] += out["holdout"]
                summary["undeliverable"] += out["undeliverable"]
                summary["already_done"] += out["already_done"]
                suppressed.update(out["suppressed"])
        summary["suppressed"] = dict(sorted(suppressed.items()))
        return summary

    def _pass_time(self, now: str | int | None) -> int:
        return self.ctx.now() if now is None else _time_arg("now", now)

    def _running_campaigns(self, uow: UnitOfWork, t: int,
                           shop_id: int | None) -> list[dict]:
        out = []
        for c in uow.repo(Campaigns).running(t, shop_id):
            trig = rules.TRIGGERS[c["trigger"]]
            c["_delay_ms"] = (trig.delay_min if c["delay_min"] is None else c["delay_min"]) \
                * MIN_MS
            c["_expires_ms"] = (trig.expires_min if c["expires_min"] is None
                                else c["expires_min"]) * MIN_MS
            c["_tags"] = frozenset(c["tags"])
            c["_vars"] = variables_of(c["template"])
            out.append(c)
        return out

    def _campaign_shop(self, uow: UnitOfWork, shop_id: int) -> dict:
        from ..resources import SHOP_SETTINGS_DEFAULTS

        shop = uow.shops.by_id(shop_id)
        return {"id": shop["id"], "key": shop["key"], "name": shop["name"],
                "timezone": shop["timezone"],
                "settings": {**{k: v for k, v in SHOP_SETTINGS_DEFAULTS.items()
                                if v is not None}, **shop["settings"]}}

    def _due_triggers(self, uow: UnitOfWork, c: dict, t: int) -> list[tuple]:
        """The campaign's triggers that fall due by ``t`` and are not stale, not yet
        decided."""
        hi = t - c["_delay_ms"]
        lo = hi - c["_expires_ms"]
        if c["starts_at"] is not None:
            lo = max(lo, c["starts_at"] - c["_delay_ms"])
        if lo > hi:
            return []
        spans = [(lo, hi)]
        if c["paused_from"] is not None and c["paused_to"] is not None:
            # what fell due while paused (due = fact + delay in [from, to)) is not sent
            cut_lo = c["paused_from"] - c["_delay_ms"]
            cut_hi = c["paused_to"] - c["_delay_ms"]
            spans = [(a, b) for a, b in ((lo, min(hi, cut_lo - 1)), (max(lo, cut_hi), hi))
                     if a <= b]
        return uow.repo(Campaigns).due_triggers(c, spans)

    @staticmethod
    def _in_audience(c: dict, row: tuple) -> bool:
        level, tags, region = row[13] or 0, row[14], row[15]
        if c["min_level"] is not None and level < c["min_level"]:
            return False
        if c["max_level"] is not None and level > c["max_level"]:
            return False
        if c["regions"] and region not in c["regions"]:
            return False
        if c["_tags"]:
            have = json.loads(tags) if tags else []
            if not c["_tags"].intersection(have):
                return False
        return True

    def _classified(self, shop_id: int, todo: list) -> list:
        """Keep the triggers whose customer's classification the campaign wants."""
        ids = sorted({row[1] for c, row, _ in todo if c["classifications"]})
        with self.ctx.read() as uow:
            statuses = uow.repo(Campaigns).order_statuses(shop_id, ids)
        return [x for x in todo if not x[0]["classifications"]
                or rules.classify_statuses(statuses.get(x[1][1], [])) in x[0]["classifications"]]

    def _campaign_prices(self, uow: UnitOfWork, campaigns: list[dict],
                         due: dict, shops: dict, t: int) -> dict:
        """The price after promotions and the campaign's coupon of every product the
        pass will name, once per campaign and product (for {price_after_discount})."""
        wanted = {(c["id"], row[10]) for items in due.values() for c, row in items
                  if row[10] is not None and "{price_after_discount}" in c["template"]}
        by_id = {c["id"]: c for c in campaigns}
        out: dict[tuple[int, str], int | None] = {}
        for cid, product in sorted(wanted):
            c = by_id[cid]
            shop = {"id": c["shop_id"], "key": shops[c["shop_id"]]["key"]}
            out[(cid, product)] = None
            for coupon in ([c["coupon"], None] if c["coupon"] else [None]):
                try:
                    q = self.ctx.invitations.quote(uow, shop, [(product, 1)], None, coupon, t)
                except CstoolError:
                    continue
                out[(cid, product)] = q.chosen.total
                break
        return out

    # -- one transaction -------------------------------------------------------------------
    def _decide_batch(self, uow: UnitOfWork, shop: dict, batch: list, t: int,
                      prices: dict) -> dict:
        sid = shop["id"]
        out: dict[str, Any] = {"sent": 0, "holdout": 0, "undeliverable": 0,
                               "already_done": 0, "suppressed": Counter()}
        rows = uow.repo(Campaigns)
        cids = sorted({c["id"] for c, _, _ in batch})
        keys = sorted({row[0] for _, row, _ in batch})
        done = rows.decided_triggers(cids, keys)
        customers = sorted({row[1] for _, row, _ in batch})
        opted = rows.opted_out(sid, customers)
        sensitive = rows.customers_in_sensitive_matters(
            sid, customers, rules.SENSITIVE_TICKET_TYPES)
        touchy = rows.sensitive_conversations(
            sorted({row[5] for _, row, _ in batch if row[5] is not None}))
        settings = shop["settings"]
        window = settings["campaign_cap_window_h"] * HOUR_MS
        cap = settings["campaign_cap"]
        recent = Counter(rows.recent_sends(sid, t - window, customers))
        coupon_ids = sorted({c["coupon_id"] for c, _, _ in batch if c["coupon_id"]})
        holding = uow.repo(Coupons).unused_holdings(customers, coupon_ids)
        cards = self._coupon_cards(uow, coupon_ids)
        sends, events, issued = [], [], []
        for c, row, forced in batch:
            key, cust = row[0], row[1]
            if (c["id"], key) in done:
                out["already_done"] += 1
                continue
            done.add((c["id"], key))
            reason = forced
            if reason is None:
                if cust in opted:
                    reason = "opted_out"
                elif (cust in sensitive or row[5] in touchy
                      or rules.SENSITIVE_TAG in json.loads(row[14] or "[]")):
                    reason = "sensitive"
                elif recent[cust] >= cap:
                    reason = "frequency_cap"
            coupon = cards.get(c["coupon_id"]) if c["coupon_id"] else None
            values = self._template_values(c, row, shop, coupon, prices)
            if reason is None and any(values.get(v) in (None, "") for v in c["_vars"]):
                reason = "missing_value"  # no "券后¥" with the price left out
            base = (c["id"], cust, key, None, None, t, sid, None, row[6], None, None)
            if reason is not None:
                sends.append(_send(base, outcome="suppressed", reason=reason))
                out["suppressed"][reason] += 1
                continue
            chat, via = row[5], None
            if chat is None:  # no chat yet: the channel connector their profile prefers
                via = channels.preferred_for(uow, sid, cust)
            if chat is None and via is None:
                # No chat in the shop to put the message in and no other channel: nobody
                # would read it. Decided before the holdout so that the held-out group
                # holds only reachable customers too (lift compares like with like).
                sends.append(_send(base, outcome="undeliverable", reason="no_channel"))
                events.append(EventRow(t, sid, "campaign.undeliverable", "campaign", c["key"],
                                       {"customer": row[2], "trigger": key}))
                out["undeliverable"] += 1
                continue
            if rules.in_holdout(c["key"], row[2], c["holdout"]):
                sends.append(_send(base, outcome="holdout", conversation=chat))
                out["holdout"] += 1
                continue
            if chat is None:  # a chat on that channel, closed at once (no agent's queue)
                chat = channels.open_for_campaign(uow, sid, cust, row[2], via, t)
            recent[cust] += 1
            give = coupon is not None and (cust, c["coupon_id"]) not in holding
            if give:
                holding.add((cust, c["coupon_id"]))
                issued.append((cust, c["coupon_id"], t, f"campaign:{c['key']}"))
            body = render(c["template"], values)
            payload: dict[str, Any] = {"campaign": c["key"], "trigger": c["trigger"]}
            if row[10] is not None:
                payload["product"] = row[10]
            if coupon is not None:
                payload.update(coupon, issued=give)
            mid = uow.messages.insert(  # a notice: it does not keep the chat alive
                chat, "system", None, "coupon" if coupon is not None else "text", body,
                json.dumps(payload, ensure_ascii=False), None, t)
            events.append(EventRow(t, sid, "message.created", "conversation", str(chat),
                                   json.dumps({"message": mid, "sender": "system",
                                               "kind": "coupon" if coupon else "text",
                                               "campaign": c["key"]})))
            events.append(EventRow(t, sid, "campaign.sent", "campaign", c["key"], {
                "customer": row[2], "trigger": key, "conversation": chat, "message": mid}))
            sends.append(_send(base, outcome="sent", conversation=chat, message=mid,
                               coupon=c["coupon_id"] if give else None, body=body))
            out["sent"] += 1
        rows.record_sends(sends)
        uow.repo(Coupons).issue(issued)
        uow.events(events)
        return out

    def _coupon_cards(self, uow: UnitOfWork, ids: list[int]) -> dict[int, dict]:
        return {i: {"coupon": r["key"], "name": r["name"], "kind": r["kind"],
                    "amount": format_money(r["amount"]), "rate": r["rate"],
                    "threshold": format_money(r["threshold"]),
                    "valid_to": format_time_in(r["valid_to"], r["timezone"])}  # the shop's time
                for i, r in uow.repo(Coupons).cards(ids).items()}

    @staticmethod
    def _template_values(c: dict, row: tuple, shop: dict, coupon: dict | None,
                         prices: dict) -> dict:
        price = prices.get((c["id"], row[10]))
        return {"name": row[3], "shop": shop["name"], "product": row[11],
                "price": None if row[12] is None else f"{format_money(row[12])}",
                "price_after_discount": None if price is None else f"{format_money(price)}",
                "coupon": None if coupon is None else coupon["name"], "order": row[7],
                "carrier": row[8], "tracking_no": row[9], "code": None}

    # -- at post time: 退订 / TD and reply codes -------------------------------------------
    def command_in(self, uow: UnitOfWork, shop_id: int,
                   text: str) -> tuple[str, dict | None] | None:
        """What a customer's message asks of campaigns: ``("opt_out", None)``,
        ``("code", campaign)`` for an active reply-code campaign's code, or None."""
        if rules.is_opt_out(text):
            return ("opt_out", None)
        word = rules.code_candidate(text)
        if word is None:
            return None
        now = uow.now
        # the posts' shop cache (ctx.caches.post_shops) keeps the shop's codes from post
        # to post, as long as it keeps the shop
        cache = self.ctx.caches.post_shops
        codes = cache.get(("codes", shop_id))
        if codes is None:
            codes = cache[("codes", shop_id)] = uow.repo(Campaigns).reply_codes(shop_id)
        for r in codes:
            if ((r["starts_at"] is not None and r["starts_at"] > now)
                    or (r["ends_at"] is not None and r["ends_at"] < now)):
                continue
            if r["code"] is not None and r["code"].casefold() == word:
                return ("code", {k: r[k] for k in ("id", "key", "code", "template",
                                                   "coupon_id", "coupon")})
        return None

    def answer_command(self, uow: UnitOfWork, shop: dict, conv: dict, customer_id: int,
                       command: tuple[str, dict | None]) -> list[dict]:
        """Carry out a command found by ``command_in`` and answer in the chat."""
        what, c = command
        now = uow.now
        if what == "opt_out":
            if uow.repo(Campaigns).opt_out(customer_id, shop["id"], now):
                uow.event("customer.opted_out", "customer", uow.customers.key_of(customer_id),
                          shop["id"], {"via": "message"})
            return [messages.system(uow, conv, rules.OPT_OUT_REPLY, payload={"opt_out": True})]
        assert c is not None
        key = f"customer:{customer_id}"
        card = self._coupon_cards(uow, [c["coupon_id"]]).get(c["coupon_id"])
        name = card["name"] if card else ""
        if uow.repo(Campaigns).trigger_decided(c["id"], key):
            return [messages.system(
                uow, conv, f"您已领取过「{name}」，每位顾客限领一次。",
                payload={"campaign": c["key"], "trigger": "reply_code", "repeat": True})]
        held = uow.repo(Coupons).holds_unused(customer_id, c["coupon_id"])
        if not held:
            uow.repo(Coupons).issue([(customer_id, c["coupon_id"], now,
                                      f"campaign:{c['key']}")])
        body = (render(c["template"], {"name": uow.customers.name_of(customer_id),
                                       "shop": shop["name"], "coupon": name,
                                       "code": c["code"]}) if not held
                else f"您已持有「{name}」，下单时可直接使用。")  # nothing new "到账"
        payload = {"campaign": c["key"], "trigger": "reply_code", **(card or {}),
                   "issued": not held}
        msg = messages.system(uow, conv, body, kind="coupon", payload=payload)
        uow.repo(Campaigns).record_sends([(
            c["id"], customer_id, key, "redeemed", conv["id"], msg["id"], now, shop["id"],
            None, None, None if held else c["coupon_id"], body)])
        uow.event("campaign.sent", "campaign", c["key"], shop["id"],
                  {"customer": uow.customers.key_of(customer_id), "trigger": key,
                   "conversation": conv["id"], "message": msg["id"]})
        return [msg]

    # -- sensitive chats -------------------------------------------------------------------
    def mark_sensitive(self, conversation: int, sensitive: bool = True) -> dict:
        """Tag a conversation sensitive (no campaign message goes to the customer while
        it is open, nor into it ever) or clear the tag."""
        with self.ctx.write() as uow:
            conv = uow.conversations.get(conversation)
            uow.conversations.update(conversation, sensitive=int(bool(sensitive)))
            uow.event("conversation.sensitive", "conversation", str(conversation),
                      conv["shop_id"], {"sensitive": bool(sensitive)})
        return {"conversation": conversation, "sensitive": bool(sensitive)}

    # -- the record of decisions -----------------------------------------------------------
    def campaign_sends(self, key: str, *, outcome: str | None = None,
                       customer: str | None = None, limit: int = 100,
                       after: int | None = None) -> list[dict]:
        """Who got what and when, who was held out or suppressed and why: the campaign's
        decisions in order (``after``: the last id of the previous page)."""
        with self.ctx.read() as uow:
            cid = uow.repo(Campaigns).id_of(key)
            if cid is None:  # the campaign first, then the arguments (as the server does)
                raise NotFound(f"no campaign {key!r}", key="no_record", kind="campaign",
                               record=key)
            if outcome is not None and outcome not in OUTCOMES:
                raise InvalidInput(f"outcome: one of {', '.join(OUTCOMES)}",
                                   key="outcome_one_of", known=', '.join(OUTCOMES))
            if not isinstance(limit, int) or not 1 <= limit <= 10_000:
                raise InvalidInput("limit: 1..10000", key="limit_range_10000")
            if after is not None:
                check_whole("after", after)
            rows = uow.repo(Campaigns).sends_page(cid, outcome=outcome, customer=customer,
                                                  after=after, limit=limit)
        for r in rows:
            r["at"] = format_time(r["at"])
        return rows

    # -- stats -----------------------------------------------------------------------------
    def campaign_stats(self, key: str, *, since: str | int | None = None,
                       until: str | int | None = None) -> dict:
        """Sends, suppressions by guard, conversions, sales and lift against the holdout
        (95 % interval) of one campaign, optionally for sends in [since, until).

        ``sent`` counts only messages handed to a channel (a customer with no chat and
        no channel is ``undeliverable``, counted apart and never in the lift);
        ``delivered``, ``read`` and ``failed`` are what the channels reported of those;
        ``reached`` = sent but not failed, what the conversions and lift are over.
        A send (or a holdout decision) converts when the customer places an order in the
        shop within the attribution window after it (a payment reminder: when the order
        it reminded of is paid within the window). Sales: the converting orders' totals,
        each order once."""
        with self.ctx.read() as uow:
            c = uow.repo(Campaigns).with_shop(key)
            if c is None:  # the campaign first, then the arguments (as the server does)
                raise NotFound(f"no campaign {key!r}", key="no_record", kind="campaign",
                               record=key)
            lo = None if since is None else _time_arg("since", since)
            hi = None if until is None else _time_arg("until", until)
            hours = c["attribution_h"] or c["shop_settings"].get("attribution_window_h", 24)
            figures = uow.repo(Campaigns).send_figures(
                c["id"], since=lo, until=hi, by_order=c["trigger"] == "payment_reminder",
                window_ms=hours * HOUR_MS)
        counts: Counter = Counter()
        suppressed: Counter = Counter()
        for (outcome, reason), n in figures["outcomes"].items():
            counts[outcome] += n
            if outcome == "suppressed":
                suppressed[reason] += n
        converted, sales = figures["converted"], figures["sales"]
        delivery = figures["delivery"]
        treated = "redeemed" if c["trigger"] == "reply_code" else "sent"
        # lift counts only what reached the customer: not the sends reported failed
        reached = counts[treated] - delivery.get("failed", 0)
        stats = lift(reached, converted.get(treated, 0), counts["holdout"],
                     converted.get("holdout", 0))
        return {
            "campaign": c["key"], "name": c["name"], "trigger": c["trigger"],
            "status": c["status"], "shop": c["shop"], "holdout_share": c["holdout"],
            "attribution_h": hours,
            "since": format_time(lo), "until": format_time(hi),
            "decided": sum(counts.values()), "sent": counts[treated],
            # of the sent, what their channel reported (a read message was delivered too)
            "delivered": delivery.get("delivered", 0) + delivery.get("read", 0),
            "read": delivery.get("read", 0), "failed": delivery.get("failed", 0),
            "undeliverable": counts["undeliverable"], "reached": reached,
            "holdout": counts["holdout"], "suppressed": sum(suppressed.values()),
            "suppressed_by": dict(sorted(suppressed.items())),
            "conversions": converted.get(treated, 0),
            "conversion_rate": stats["treated_rate"],
            "orders": sales[treated][0], "sales": format_money(sales[treated][1]),
            "holdout_conversions": converted.get("holdout", 0),
            "holdout_conversion_rate": stats["holdout_rate"],
            "lift": stats["lift"], "lift_low": stats["lift_low"],
            "lift_high": stats["lift_high"], "relative_lift": stats["relative_lift"],
            "significant": stats["significant"],
        }


LAST_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z


def _time_arg(name: str, value: str | int) -> int:
    """A time argument (ISO 8601 or epoch ms) within years 1970..9999, else InvalidInput."""
    try:
        t = parse_time(value)
    except (ValueError, OverflowError, OSError) as e:
        raise UsageError(f"{name}: {e}", key="time_option_bad", name=name, detail=str(e)) from None
    if not 0 <= t <= LAST_MS:
        raise UsageError(f"{name}: {value!r} is out of range (years 1970 to 9999)",
                         key="time_out_of_range", name=name, value=repr(value))
    return t


def _send(base: tuple, *, outcome: str, reason: str | None = None,
          conversation: int | None = None, message: int | None = None,
          coupon: int | None = None, body: str | None = None) -> tuple:
    """A campaign_sends row from the common part and what was decided."""
    cid, cust, key, _, _, at, sid, _, order, _, _ = base
    return (cid, cust, key, outcome, conversation, message, at, sid, reason, order, coupon,
            body)
