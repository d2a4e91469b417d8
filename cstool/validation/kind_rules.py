"""Rules that span fields of one record, per kind (shops, campaigns, tickets ...)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import InvalidInput
from ..resources import PRIORITIES, TICKET_TYPES, Kind
from ..text_rules import key_problem
from .errors import FieldError, line_of


def _check_kind_rules(kind: Kind, rec: dict, raw: Any, path: str) -> None:
    """Rules that span fields of one record."""

    def fail(fname: str, message: str, *, code: str, **params: object) -> None:
        raise FieldError(f"{path}.{fname}" if path else fname, message, line_of(raw, fname),
                         key=code, **params)

    if kind.name == "webhooks":
        _webhook_rules(rec, fail)
    elif kind.name == "channels":
        _channel_rules(rec, fail)
    elif kind.name == "shops":
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(rec["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            fail("timezone", f"unknown time zone {rec['timezone']!r}",
                 code="field_unknown_timezone", timezone=rec['timezone'])
    elif kind.name == "coupons":
        if rec["kind"] == "amount" and rec["amount"] is None:
            fail("amount", "is required for a coupon of kind amount",
                 code="field_required_coupon_amount")
        if rec["kind"] == "discount" and rec["rate"] is None:
            fail("rate", "is required for a coupon of kind discount",
                 code="field_required_coupon_discount")
        if rec["valid_from"] and rec["valid_to"] and rec["valid_to"] < rec["valid_from"]:
            fail("valid_to", "is before valid_from", code="field_before_valid_from")
    elif kind.name == "promotions":
        need = {"full_reduction": "tiers", "discount": "rate", "gift": "gift"}[rec["kind"]]
        if not rec[need]:
            fail(need, f"is required for a promotion of kind {rec['kind']}",
                 code="field_required_promotion", kind=rec['kind'])
        if rec["starts_at"] and rec["ends_at"] and rec["ends_at"] < rec["starts_at"]:
            fail("ends_at", "is before starts_at", code="field_before_starts_at")
    elif kind.name == "orders":
        if not rec["items"]:
            fail("items", "an order needs at least one item", code="field_order_no_items")
        status = rec["status"]
        order = ("created_at", "paid_at", "shipped_at", "delivered_at")
        needs = {
            "paid": ("paid_at",),
            "shipped": ("paid_at", "shipped_at"),
            "delivered": ("paid_at", "shipped_at", "delivered_at"),
            "refund_requested": ("paid_at",),
            "refunded": ("paid_at",),
        }.get(status, ())
        for n in needs:
            if rec[n] is None:
                fail(n, f"is required for an order with status {status}",
                     code="field_required_order_status", status=status)
        last = None
        for n in order:
            if rec[n] is not None:
                if last is not None and rec[n] < rec[last]:
                    fail(n, f"is before {last}", code="field_before", last=last)
                last = n
    elif kind.name == "routing_rules":
        from ..routing import Rule

        if rec["name"] is None:
            rec["name"] = rec["key"]
        try:
            Rule.from_dict({n: rec[n] for n in (
                "key", "name", "conditions", "target", "strategy", "priority",
                "when_unavailable", "enabled")})
        except ValueError as e:
            message = str(e).removeprefix(f"rule {rec['key']!r}: ")
            fname = message.split(":", 1)[0].split(".", 1)[0].split("[", 1)[0]
            # shown by the rule error's own key (its text names where in the rule)
            raise FieldError(f"{path}.{fname}" if path else fname,
                             message.split(": ", 1)[-1], line_of(raw, fname),
                             key=getattr(e, "key", "field"), **getattr(e, "params", {})) from None
    elif kind.name == "knowledge_entries":
        key = rec["key"]
        if key_problem(key) is not None:
            fail("key", f"{key!r} is not a usable key: it {key_problem(key)} (text without "
                 "control characters, line breaks, tabs or surrounding spaces)",
                 code="field_bad_entry_key", the_key=repr(key), key_problem=key_problem(key))
        if not rec["question"].strip():
            fail("question", "is empty", code="field_empty")
        if not rec["answer"].strip():
            fail("answer", "is empty", code="field_empty")
    elif kind.name == "sla_policies":
        cond = rec["conditions"]
        if not isinstance(cond, dict):
            fail("conditions", "expected a mapping of types, priorities, min_customer_level",
                 code="field_sla_conditions_not_mapping")
        for name in cond:
            if name not in ("types", "priorities", "min_customer_level"):
                fail("conditions", f"unknown condition {name!r} (known: types, priorities, "
                     "min_customer_level)", code="field_sla_unknown_condition", name=name)
        for name, allowed in (("types", TICKET_TYPES), ("priorities", PRIORITIES)):
            bad = [x for x in cond.get(name, []) if x not in allowed]
            if not isinstance(cond.get(name, []), list) or bad:
                fail("conditions", f"{name}: expected a list of {', '.join(allowed)}",
                     code="field_sla_condition_list", name=name, join=', '.join(allowed))
        level = cond.get("min_customer_level")
        if level is not None and (isinstance(level, bool) or not isinstance(level, int)
                                  or not 0 <= level <= 5):
            fail("conditions", "min_customer_level: expected 0..5", code="field_sla_min_level")
        if rec["on_breach"] == "reassign" and rec["escalate_to"] is None:
            fail("escalate_to", "is required when on_breach is reassign",
                 code="field_required_reassign")
        if rec["resolution_min"] < rec["first_response_min"]:
            fail("resolution_min", "is shorter than first_response_min",
                 code="field_shorter_than_first_response")
    elif kind.name == "campaigns":
        _campaign_rules(rec, fail)
    elif kind.name == "macros":
        from ..macros import MacroError, parse_actions

        try:
            parse_actions(rec["actions"])
        except MacroError as e:
            raise FieldError(f"{path}.{e.where}" if path else e.where, str(e),
                             line_of(raw, "actions"), key=f"field_{e.code}",
                             **e.params) from None
    elif kind.name == "customers":
        seen = set()
        for i, p in enumerate(rec["profiles"]):
            if p["shop"] in seen:
                raise FieldError(
                    f"{path + '.' if path else ''}profiles[{i}].shop",
                    f"a second profile for shop {p['shop']!r}",
                    line_of(raw, "profiles"), key="field_second_profile", shop=p['shop'])
            seen.add(p["shop"])
        held = set()
        for i, c in enumerate(rec["coupons"]):
            if c["coupon"] in held:
                raise FieldError(
                    f"{path + '.' if path else ''}coupons[{i}].coupon",
                    f"coupon {c['coupon']!r} is held twice",
                    line_of(raw, "coupons"), key="field_coupon_twice", coupon=c['coupon'])
            held.add(c["coupon"])


def _campaign_rules(rec: dict, fail: Callable[..., None]) -> None:
    """A campaign's fields must fit its trigger."""
    from ..campaigns.templates import misfits, variables_of

    trigger = rec["trigger"]
    if rec["status"] is None:  # follow-ups annoy: off unless asked for
        rec["status"] = "paused" if trigger == "follow_up" else "active"
    if not rec["template"].strip():
        fail("template", "is empty", code="field_empty")
    try:
        wrong = misfits(variables_of(rec["template"]), trigger)
    except InvalidInput as e:  # variables_of names what is wrong, with its key
        fail("template", str(e), code=f"field_{e.key}", **e.params)
    else:
        if wrong:
            fail("template", f"trigger {trigger} has no "
                 f"{', '.join('{' + v + '}' for v in wrong)} to fill",
                 code="field_template_unknown_vars", trigger=trigger,
                 join=', '.join('{' + v + '}' for v in wrong))
    if trigger == "reply_code":
        code = rec["code"]
        if code is None or not code.strip():
            fail("code", "is required for a reply_code campaign", code="field_required_reply_code")
        if code != code.strip() or any(ch.isspace() for ch in code):
            fail("code", f"{code!r}: a code is one word without spaces",
                 code="field_code_one_word", the_code=code)
        if code.casefold() in ("退订", "td", "t"):
            fail("code", f"{code!r} is the opt-out word", code="field_code_opt_out", the_code=code)
        if rec["coupon"] is None:
            fail("coupon", "is required for a reply_code campaign (the coupon it earns)",
                 code="field_required_reply_code_coupon")
    elif rec["code"] is not None:
        fail("code", "only a reply_code campaign has a code", code="field_code_only_reply_code")
    if trigger == "related_offer" and rec["product"] is None:
        fail("product", "is required for a related_offer campaign (the item offered)",
             code="field_required_related_offer")
    if (rec["min_level"] is not None and rec["max_level"] is not None
            and rec["max_level"] < rec["min_level"]):
        fail("max_level", "is below min_level", code="field_below_min_level")
    if rec["starts_at"] and rec["ends_at"] and rec["ends_at"] < rec["starts_at"]:
        fail("ends_at", "is before starts_at", code="field_before_starts_at")


URL_PROBLEMS = {  # reason: what is wrong (the message key is field_bad_url_<reason>)
    "scheme": "must start with http:// or https://",
    "host": "has no host",
    "credentials": "must not hold a user name or password (the signature authenticates)",
    "fragment": "must not hold a #fragment",
    "spaces": "must not hold spaces",
}


def url_problem(url: str) -> tuple[str, str] | None:
    """What is wrong with a webhook's URL as (reason, English text), None when fine:
    http or https, a host, no user:password in it, no fragment, no spaces. A URL that
    does not parse has the reason ``parse`` and the parser's own words."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises)
    except ValueError as e:
        return "parse", str(e)
    if parts.scheme not in ("http", "https"):
        reason = "scheme"
    elif not parts.hostname:
        reason = "host"
    elif parts.username is not None or parts.password is not None:
        reason = "credentials"
    elif parts.fragment:
        reason = "fragment"
    elif any(c.isspace() for c in url):
        reason = "spaces"
    else:
        return None
    return reason, URL_PROBLEMS[reason]


def _url_rule(rec: dict, fail: Callable[..., None]) -> None:
    problem = url_problem(rec["url"])
    if problem:
        reason, text = problem
        code = "field_bad_url" if reason == "parse" else f"field_bad_url_{reason}"
        fail("url", f"{rec['url']!r} {text}", code=code, url=repr(rec["url"]), problem=text)


def _channel_rules(rec: dict, fail: Callable[..., None]) -> None:
    """A channel connector: an ``http`` one has a valid URL, a ``web`` one (the widget)
    none; its name is not a client's (``app``, ``web`` ...: a message posted with
    ``channel`` names either, never both); a secret of 16 characters at least."""
    from ..resources import CHANNELS

    if rec["key"] in CHANNELS:
        fail("key", f"{rec['key']!r} names a client ({', '.join(CHANNELS)}); choose "
             "another name", code="field_channel_name_client", name=repr(rec["key"]),
             known=", ".join(CHANNELS))
    if rec["kind"] == "http":
        if not rec.get("url"):
            fail("url", "is required for a channel of kind http",
                 code="field_required_channel_url")
        _url_rule(rec, fail)
    elif rec.get("url"):
        fail("url", "only a channel of kind http has a URL", code="field_channel_url_web")
    secret = rec.get("secret")
    if secret is not None and len(secret) < 16:
        fail("secret", "must be at least 16 characters", code="field_secret_short")


def _webhook_rules(rec: dict, fail: Callable[..., None]) -> None:
    from ..resources import WEBHOOK_EVENTS

    problem = url_problem(rec["url"])
    if problem:
        reason, text = problem
        code = "field_bad_url" if reason == "parse" else f"field_bad_url_{reason}"
        fail("url", f"{rec['url']!r} {text}", code=code, url=repr(rec["url"]), problem=text)
    if not rec["events"]:
        fail("events", "give at least one event type (or *)", code="field_events_empty")
    for e in rec["events"]:
        if e != "*" and e not in WEBHOOK_EVENTS:
            fail("events", f"unknown event type {e!r} (see cstool webhook events)",
                 code="field_unknown_event", event=repr(e))
    rec["events"] = sorted(set(rec["events"]))
    secret = rec.get("secret")
    if secret is not None and len(secret) < 16:
        fail("secret", "must be at least 16 characters", code="field_secret_short")
