"""The permanent adversarial tenancy suite: every route of the server, attacked by every
kind of caller, against shop B's records and against the agents above the caller.

The attacks are generated from the operations table (``cstool.api.operations``) and
the app's own routes: each operation has its variants in ``VARIANTS`` (what of shop B
it aims at and how), filled from shop B's real records; an operation or route without
one fails ``test_every_route_has_attack_cases`` (and is still attacked with a variant
generated from its arguments' names). Each case is one route x one record x one caller:

- no token, a garbage token, an expired and a revoked one: 401 (public routes aside);
- a customer of shop A, an agent and a supervisor of shop A: refused (401, 403 or 404),
  unless the variant says the caller may get an answer (a read of their own shop or of
  the platform), and then the answer must not contain any of shop B's secrets;
- never a 5xx; no response body ever shows a secret of B the request did not name;
- the admin (who may do it all) too: never a 5xx, and an error is JSON with a code;
- after a write, every row of the file that belongs to shop B (or to the agents above
  the attackers, or to the whole platform) is as it was (see ``tenancy_support``).

A failing case names the route, the record and the caller in its id and message:
``test_attack[update agents/mb-ajun: shops A-supervisor_a]``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from cstool.api.operations import BY_NAME, OPERATIONS, Operation
from cstool.resources import KINDS
from tests.file_support import b64, png
from tests.tenancy_support import (
    ABOVE,
    ANONYMOUS_ROLES,
    MALL,
    ROLES,
    SHOP_A,
    SHOP_B,
    STAFF_ROLES,
    build_mall,
    diff,
    leaks,
)

CUSTOMER = ("customer_a",)
STAFF = STAFF_ROLES
AUTHENTICATED = (*CUSTOMER, *STAFF)
SELF = {"agent_a": "lf-xiaomei", "supervisor_a": "lf-lina"}
REFUSED = (401, 403, 404)
# A request naming a record of another shop may also be refused by the backend's own
# checks (409 conflict, 422 invalid) once the policy lets it through: refused all the same.
CROSS = (*REFUSED, 409, 422)
# Routes the app serves besides the operations table, and what they are.
EXTRA_ROUTES = {"event_stream", "health", "asset", "page", "file_by_link", "openapi",
                "swagger_ui_html",
                "swagger_ui_redirect"}

# Shop B's values for arguments, by name (an argument not here and not given by a
# variant cannot be filled: the case fails and says so).
B_VALUES: dict[str, Any] = {
    "shop": SHOP_B, "agent": "mb-ajun", "handle": "mb-ajun", "by": "mb-ajun",
    "conversation": "$conv_b", "ticket": "$ticket_b", "customer": "c00002",
    "product": "mb-bib-001", "coupon": "mb-c-1111-599-60", "text": "你好",
    "items": [{"product": "mb-bib-001", "quantity": 1}], "status": "offline",
    "rating": 1, "group": "$unanswered_b", "token_id": "$token_b_agent",
    "since": 0, "until": 4_102_444_800_000, "position": 1, "target": "pwned.db",
    "question": "$unanswered_b", "kind": "products", "sensitive": True,
    "document": {"products": [{"key": "mb-bib-001", "shop": SHOP_A, "title": "pwned",
                               "price": 0.01}]},
    "records": [{"key": "mb-bib-001"}], "type": "complaint", "title": "pwned",
    "label": "投诉", "verdict": "confirmed", "finding": None, "name": "尺码表.png",
    "data": b64(png()), "message": "$file_b",
    "event_id": "pwn-event", "order": "mb-order-7001",
    "macro": "mb-macro-sorry", "priority": 1,
    "classification": "consulted_not_ordered",
}
PNG = b64(png())
FORGED = "0" * 32


@dataclass(frozen=True)
class V:
    """A variant of an attack on one operation.

    ``args`` override or add arguments (``None`` leaves one out); ``may_answer``: the
    callers that may get an answer (then scanned for leaks); ``roles``: who attacks
    (default everyone); ``refusals``: the statuses that count as refused."""

    record: str
    args: dict = field(default_factory=dict)
    may_answer: tuple = ()
    roles: tuple = ROLES
    refusals: tuple = REFUSED
    public: bool = False


def above(record: str, args: dict, **kw) -> V:
    """A variant aimed at the agent above each staff attacker (``$above``)."""
    return V(f"above: {record}", args, roles=STAFF, **kw)


def _b_record(kind: str) -> dict:
    k = KINDS[kind]
    for rec in MALL[kind]:
        if kind == "shops" and rec["key"] == SHOP_B:
            return rec
        if kind == "agents" and rec["handle"] == "mb-ajun":
            return rec
        if kind == "customers" and rec["key"] == "c00002":
            return rec
        if kind == "knowledge_entries" and rec["key"] == "size_guide":
            return rec
        if k.shop_field and rec.get(k.shop_field) == SHOP_B and kind not in (
                "agents", "customers", "knowledge_entries"):
            return rec
    raise KeyError(kind)


def _key(kind: str) -> str:
    return _b_record(kind)[KINDS[kind].key]


# Records of shop A that name a record of shop B (N7 and its kin): a shop's records may
# point only at its own shop's records.
NAMES_B = {
    "groups": None,
    "agents": {"handle": "lf-new", "name": "新人", "shops": [SHOP_A], "groups": ["mb-pre"]},
    "routing_rules": {"key": "lf-rule-x", "shop": SHOP_A, "target": {"agent": "mb-ajun"}},
    "sla_policies": {"key": "lf-sla-x", "shop": SHOP_A, "first_response_min": 10,
                     "resolution_min": 100, "on_breach": "reassign",
                     "escalate_to": "mb-hongjie"},
    "products": None,
    "coupons": None,
    "promotions": {"key": "lf-promo-x", "shop": SHOP_A, "name": "x", "kind": "discount",
                   "rate": 0.5, "products": ["mb-bib-001"]},
    "customers": {"key": "c-new-x", "name": "新客", "profiles": [{"shop": SHOP_A}],
                  "coupons": [{"coupon": "mb-c-1111-599-60"}]},
    "orders": {"key": "lf-order-x", "shop": SHOP_A, "customer": "c-a-wangli",
               "status": "created", "created_at": "2026-11-11T00:00:00+08:00",
               "items": [{"product": "mb-bib-001", "quantity": 1}]},
    "cart_items": {"key": "lf-cart-x", "shop": SHOP_A, "customer": "c-a-wangli",
                   "product": "mb-bib-001", "added_at": "2026-11-11T00:00:00+08:00"},
    "knowledge_entries": None,
    "quick_replies": {"key": "lf-qr-x", "shop": SHOP_A, "agent": "mb-ajun", "title": "x",
                      "body": "x"},
    "macros": {"key": "lf-macro-x", "shop": SHOP_A, "name": "x",
               "actions": [{"reply": "mb-qr-hello"}]},
    "campaigns": {"key": "lf-camp-x", "shop": SHOP_A, "name": "x", "trigger": "order_nudge",
                  "template": "x", "coupon": "mb-c-1111-599-60"},
    "shops": None,
}


def _new_in_b(kind: str) -> dict:
    """A new record of ``kind`` in shop B (a create aimed at B)."""
    rec = {k: v for k, v in _b_record(kind).items()}
    key = KINDS[kind].key
    rec[key] = f"pwn-{kind.replace('_', '-')}"
    if kind == "shops":
        rec["name"] = "pwned"
    return rec


def _moved_to_a(kind: str) -> dict:
    """Shop B's record of ``kind`` claimed for shop A and changed (D1)."""
    rec = dict(_b_record(kind))
    if kind == "shops":
        return {**rec, "name": "pwned"}
    if kind == "agents":
        return {**rec, "role": "supervisor", "shops": [SHOP_A], "groups": []}
    if kind == "customers":
        return {**rec, "name": "pwned", "phone": "000", "profiles": [{"shop": SHOP_A}],
                "coupons": []}
    rec["shop"] = SHOP_A
    for name in ("title", "name", "answer", "template", "body"):
        if name in rec:
            rec[name] = "pwned"
    if kind == "routing_rules":
        rec["target"] = {"group": "lf-pre"}
    if kind == "sla_policies":
        rec.pop("escalate_to", None)
        rec["on_breach"] = "notify"
    if kind in ("orders", "cart_items"):
        rec["customer"] = "c-a-wangli"
    if kind in ("promotions",):
        rec["products"] = []
    if kind == "campaigns":
        rec.pop("coupon", None)
    return rec


def _apply_variants() -> list[V]:
    out = []
    for kind in KINDS:
        out.append(V(f"{kind} {_key(kind)} (claimed for shop A)",
                     {"document": {kind: [_moved_to_a(kind)]}}))
        rec = dict(_b_record(kind))
        for name in ("title", "name", "answer", "template", "body"):
            if name in rec:
                rec[name] = "pwned"
        out.append(V(f"{kind} {_key(kind)} (changed in shop B)", {"document": {kind: [rec]}}))
        if NAMES_B.get(kind):
            out.append(V(f"{kind} of shop A naming shop B's", {"document": {kind: [
                NAMES_B[kind]]}}, refusals=CROSS))
    ship = next(r for r in MALL["knowledge_entries"] if r["key"] == "ship_track")
    out += [
        V("knowledge_entries ship_track (platform-wide, claimed)",
          {"document": {"knowledge_entries": [{**ship, "shop": SHOP_A}]}}),
        V("knowledge_entries ship_track (platform-wide, changed)",
          {"document": {"knowledge_entries": [{**ship, "answer": "pwned"}]}}),
        V("customers c-both-zhao (renamed, shared with shop B)",
          {"document": {"customers": [{"key": "c-both-zhao", "name": "pwned",
                                       "profiles": [{"shop": SHOP_A}]}]}}),
        above("agents $above (demoted, moved)", {"document": {"agents": [
            {"handle": "$above", "name": "pwned", "role": "agent", "shops": [SHOP_A]}]}}),
        V("agents lf-new (made an admin)", {"document": {"agents": [
            {"handle": "lf-new-admin", "name": "x", "role": "admin", "shops": [SHOP_A]}]}}),
    ]
    return out


def _kind_variants(op: str) -> list[V]:
    out = []
    for kind in KINDS:
        key = _key(kind)
        if op == "list":
            out.append(V(f"{kind} of shop B", {"kind": kind, "shop": SHOP_B}))
            out.append(V(f"{kind} (no shop)", {"kind": kind}, may_answer=AUTHENTICATED))
        elif op == "get":
            out.append(V(f"{kind}/{key}", {"kind": kind, "key": key}))
        elif op == "create":
            out.append(V(f"{kind} in shop B", {"kind": kind, "record": _new_in_b(kind)}))
            if NAMES_B.get(kind):
                out.append(V(f"{kind} of shop A naming shop B's",
                             {"kind": kind, "record": NAMES_B[kind]},
                             refusals=CROSS))
        elif op == "update":
            field_ = {"shops": "name", "agents": "name", "customers": "name",
                      "orders": "carrier", "routing_rules": "name", "sla_policies": "name",
                      "cart_items": "quantity", "knowledge_entries": "answer",
                      "quick_replies": "body", "coupons": "name", "products": "title",
                      "macros": "name",
                      "promotions": "name", "groups": "name", "campaigns": "template",
                      "webhooks": "url", "channels": "url"}[kind]
            value = 2 if field_ == "quantity" else "pwned"
            out.append(V(f"{kind}/{key}: {field_}", {"kind": kind, "key": key,
                                                     "changes": {field_: value}}))
            if KINDS[kind].shop_field:
                out.append(V(f"{kind}/{key}: shop A", {"kind": kind, "key": key,
                                                       "changes": {"shop": SHOP_A}},
                             refusals=CROSS))
        elif op == "delete":
            out.append(V(f"{kind}/{key}", {"kind": kind, "key": key}))
    if op == "get":
        out += [V("knowledge_entries/ship_track (platform-wide)",
                  {"kind": "knowledge_entries", "key": "ship_track"}, may_answer=STAFF),
                V("customers/c-both-zhao (shared with shop A)",
                  {"kind": "customers", "key": "c-both-zhao"}, may_answer=STAFF),
                above("agents/$above", {"kind": "agents", "key": "$above"},
                      may_answer=STAFF)]
    if op == "update":
        out += [V("knowledge_entries/size_guide: shop null (D2)",
                  {"kind": "knowledge_entries", "key": "size_guide",
                   "changes": {"shop": None}}),
                V("knowledge_entries/ship_track (platform-wide)",
                  {"kind": "knowledge_entries", "key": "ship_track",
                   "changes": {"answer": "pwned"}}),
                V("agents/mb-ajun: shops A", {"kind": "agents", "key": "mb-ajun",
                                              "changes": {"shops": [SHOP_A]}}),
                V("customers/c-both-zhao: name (shared with shop A)",
                  {"kind": "customers", "key": "c-both-zhao",
                   "changes": {"name": "pwned"}}),
                above("agents/$above: status", {"kind": "agents", "key": "$above",
                                                "changes": {"status": "offline"}}),
                above("agents/$above: role agent", {"kind": "agents", "key": "$above",
                                                    "changes": {"role": "agent"}})]
    if op == "delete":
        out += [V("knowledge_entries/ship_track (platform-wide)",
                  {"kind": "knowledge_entries", "key": "ship_track"}),
                above("agents/$above (D3)", {"kind": "agents", "key": "$above"})]
    if op == "create":
        out += [V("knowledge_entries without a shop",
                  {"kind": "knowledge_entries", "record": {
                      "key": "pwn-platform", "question": "平台问题", "answer": "pwned"}}),
                V("agents admin of shop A", {"kind": "agents", "record": {
                    "handle": "lf-new-admin", "name": "x", "role": "admin",
                    "shops": [SHOP_A]}}),
                V("customers with a shop B profile", {"kind": "customers", "record": {
                    "key": "c-new-b", "name": "x", "profiles": [{"shop": SHOP_B}]}})]
    return out


_TICKET_ACTS = {"update_ticket": {"status": "waiting_customer"},
                "assign_ticket": {"agent": "mb-ajun"},
                "note_ticket": {"text": "x"}, "reply_ticket": {"text": "x"},
                "resolve_ticket": {}, "close_ticket": {}, "reopen_ticket": {}}


def _ticket_variants(op: str) -> list[V]:
    extra = _TICKET_ACTS[op]
    by = "$self" if op == "reply_ticket" else None  # a reply names its author
    out = [V("ticket of shop B", {"ticket": "$ticket_b", **extra, "by": by},
             roles=STAFF if by else ROLES),
           V("ticket of shop B as mb-ajun", {"ticket": "$ticket_b", **extra,
                                             "by": "mb-ajun"}),
           above("ticket of shop A as $above", {
               "ticket": "$ticket_a", **extra, "by": "$above",
               **({"agent": "lf-xiaomei"} if "agent" in extra else {})})]
    if op == "assign_ticket":
        out.append(V("ticket of shop A to mb-ajun (shop B)",
                     {"ticket": "$ticket_a", "agent": "mb-ajun", "by": None},
                     refusals=CROSS))
    return out


def _acts_for(record: str, args: dict, name: str = "agent") -> list[V]:
    return [V(f"agent mb-ajun {record}".strip(), {name: "mb-ajun", **args}),
            above(f"agent $above {record}".strip(), {name: "$above", **args})]


CONV_B = {"conversation": "$conv_b"}

VARIANTS: dict[str, list[V]] = {
    "info": [V("the store", {})],
    "upgrade": [V("the store", {})],
    "backup": [V("the store", {"target": "pwned.db"})],
    "apply": _apply_variants(),
    "export": [V("shop B", {"shop": SHOP_B}), V("every shop", {"shop": None})],
    "bulk_load": [V("products of shop B", {"kind": "products", "records": [
        {"key": "mb-bib-001", "shop": SHOP_B, "title": "pwned", "price": 1}]})],
    "move_rule": [V("routing_rules/mb-rule-vip", {"key": "mb-rule-vip", "position": 2})],
    "customer_stats": [V("customer c00002 (shop B only)", {"key": "c00002"}),
                       V("customer c-both-zhao (shared)", {"key": "c-both-zhao"},
                         may_answer=STAFF)],
    "erase_customer": [
        V("customer c00002 in shop B", {"shop": SHOP_B, "customer": "c00002"}),
        V("shop A on shop B's customer c00002", {"shop": SHOP_A, "customer": "c00002"},
          refusals=CROSS),
        # the shared customer's part in shop A only: shop B's chats and profile stay
        V("customer c-both-zhao (shared) in shop A", {"shop": SHOP_A,
                                                      "customer": "c-both-zhao"},
          may_answer=("supervisor_a",))],
    "post_message": [V("shop B as c00002", {"shop": SHOP_B, "customer": "c00002"}),
                     V("shop B (own customer)", {"shop": SHOP_B, "customer": None})],
    "accept_next": _acts_for("", {}),
    "set_agent_status": _acts_for("offline", {"status": "offline"}),
    "reply": [V("conversation of shop B as mb-ajun", {**CONV_B, "agent": "mb-ajun"}),
              above("conversation of shop A as $above", {"conversation": "$conv_a",
                                                         "agent": "$above"})],
    "transfer": [V("conversation of shop B to mb-hongjie",
                   {**CONV_B, "by": "mb-ajun", "to_agent": "mb-hongjie"}),
                 V("conversation of shop B to its group as itself", {
                     **CONV_B, "by": "$self", "to_group": "mb-pre"}, roles=STAFF),
                 above("conversation of shop A by $above", {
                     "conversation": "$conv_a", "by": "$above", "to_group": "lf-pre"}),
                 V("conversation of shop A to mb-ajun (shop B)", {
                     "conversation": "$conv_a", "by": None, "to_agent": "mb-ajun"},
                   roles=("supervisor_a",), refusals=CROSS)],
    "close_conversation": [V("conversation of shop B", {**CONV_B}),
                           V("conversation of shop B by mb-ajun", {**CONV_B,
                                                                   "by": "mb-ajun"}),
                           above("conversation of shop A by $above", {
                               "conversation": "$conv_a", "by": "$above"})],
    "reopen_conversation": [V("conversation of shop B by mb-ajun", {**CONV_B,
                                                                    "by": "mb-ajun"}),
                            V("conversation of shop B as itself", {**CONV_B, "by": "$self"},
                              roles=STAFF),
                            above("conversation of shop A by $above", {
                                "conversation": "$conv_a", "by": "$above"})],
    "rate": [V("conversation of shop B", {**CONV_B, "rating": 1})],
    "keep_open": [V("shop B kept open", {"shop": SHOP_B}),
                  V("shop B given its hours back", {"shop": SHOP_B, "keep": False}),
                  V("shop A (own shop) kept open", {"shop": SHOP_A})],
    "close_idle": [V("every shop", {})],
    "drain_queues": [V("every shop", {})],
    "get_conversation": [V("conversation of shop B (assigned)", {**CONV_B}),
                         V("conversation of shop B (queued)",
                           {"conversation": "$conv_b_queued"})],
    "list_conversations": [
        V("shop B", {"shop": SHOP_B}),
        V("customer c00002 (no shop)", {"customer": "c00002"}, may_answer=AUTHENTICATED),
        V("agent mb-ajun (no shop)", {"agent": "mb-ajun"}, may_answer=STAFF),
        V("every shop", {}, may_answer=AUTHENTICATED)],
    "queue": [V("shop B", {"shop": SHOP_B})],
    "route_test": [V("shop B", {"shop": SHOP_B, "customer": "c00002", "text": "你好"}),
                   V("shop A for c00002 (shop B only)", {"shop": SHOP_A,
                                                         "customer": "c00002",
                                                         "text": "护臀膏"},
                     may_answer=STAFF)],
    "route_explain": [V("conversation of shop B", {**CONV_B})],
    "agent_desk": _acts_for("", {}),
    "mark_seen": [V("conversation of shop B as mb-ajun", {**CONV_B, "agent": "mb-ajun"}),
                  above("conversation of shop A as $above", {"conversation": "$conv_a",
                                                             "agent": "$above"})],
    "customer_context": [V("conversation of shop B", {**CONV_B})],
    # issue 22: labels and private notes
    **{op: [V("conversation of shop B", {**CONV_B, "label": "投诉"}),
            V("conversation of shop B by mb-ajun", {**CONV_B, "label": "投诉",
                                                    "by": "mb-ajun"}),
            above("conversation of shop A by $above", {"conversation": "$conv_a",
                                                       "label": "投诉", "by": "$above"})]
       for op in ("add_label", "remove_label")},
    "shop_labels": [V("shop B", {"shop": SHOP_B})],
    "add_note": [V("conversation of shop B as mb-ajun", {**CONV_B, "agent": "mb-ajun"}),
                 above("conversation of shop A as $above", {"conversation": "$conv_a",
                                                            "agent": "$above"}),
                 V("conversation of shop A whispering to mb-ajun", {
                     "conversation": "$conv_a", "agent": "$self", "to": "mb-ajun"},
                   roles=STAFF, refusals=CROSS)],
    # issue 22: macros, priority, follow-up lists, presence
    "run_macro": [V("conversation of shop B as mb-ajun", {**CONV_B, "agent": "mb-ajun"}),
                  V("conversation of shop B by the macro's name", {
                      **CONV_B, "agent": "mb-ajun", "macro": "萌宝道歉秘宏"}),
                  V("conversation of shop A with shop B's macro", {
                      "conversation": "$conv_a", "agent": "$self"},
                    roles=STAFF, refusals=CROSS),
                  above("conversation of shop A as $above", {"conversation": "$conv_a",
                                                             "agent": "$above"})],
    "set_priority": [V("conversation of shop B", {**CONV_B}),
                     V("conversation of shop B by mb-ajun", {**CONV_B, "by": "mb-ajun"}),
                     above("conversation of shop A by $above", {"conversation": "$conv_a",
                                                                "by": "$above"})],
    "follow_ups": [V("shop B", {"shop": SHOP_B}),
                   V("shop B's after-sale", {"shop": SHOP_B, "classification": "after_sale",
                                             "since": "all"})],
    "follow_up_invite": [
        V("conversation of shop B", {**CONV_B, "agent": "mb-ajun", "product": "mb-bib-001"}),
        V("conversation of shop A with shop B's product", {
            "conversation": "$conv_a", "agent": "$self", "product": "mb-bib-001"},
          roles=STAFF, refusals=CROSS),
        above("conversation of shop A as $above", {
            "conversation": "$conv_a", "agent": "$above", "product": "lf-dress-01"})],
    "presence": [V("conversation of shop B as mb-ajun", {**CONV_B, "agent": "mb-ajun"}),
                 above("conversation of shop A as $above", {"conversation": "$conv_a",
                                                            "agent": "$above"})],
    "search_history": _acts_for("history", {"text": "护臀膏"}),
    # issue 21: files in chats, order events pushed by the shop platform
    "post_file": [V("shop B as c00002", {"shop": SHOP_B, "customer": "c00002",
                                         "name": "a.png", "data": PNG}),
                  V("shop B (own customer)", {"shop": SHOP_B, "customer": None,
                                              "name": "a.png", "data": PNG})],
    "reply_file": [V("conversation of shop B as mb-ajun", {**CONV_B, "agent": "mb-ajun",
                                                          "name": "a.png", "data": PNG}),
                   above("conversation of shop A as $above", {
                       "conversation": "$conv_a", "agent": "$above", "name": "a.png",
                       "data": PNG})],
    **{op: [V("file of shop B", {**CONV_B, "message": "$file_b"}),
            V("file of shop B through a chat of shop A", {"conversation": "$conv_a",
                                                         "message": "$file_b"})]
       for op in ("get_file", "file_link")},
    "order_event": [V("order of shop B", {"shop": SHOP_B, "event_id": "pwn-1",
                                          "type": "refunded", "order": "mb-order-7001"}),
                    V("shop A on shop B's order", {"shop": SHOP_A, "event_id": "pwn-2",
                                                   "type": "refunded",
                                                   "order": "mb-order-7001"},
                      refusals=CROSS),
                    V("shop A, a new order for shop B's product", {
                        "shop": SHOP_A, "event_id": "pwn-3", "type": "created",
                        "order": "lf-pwn-order", "customer": "c-a-wangli",
                        "items": [{"product": "mb-bib-001", "quantity": 1}]},
                      refusals=CROSS)],
    "send_card": [V("conversation of shop B", {**CONV_B, "agent": "mb-ajun",
                                               "kind": "product", "key": "mb-bib-001"}),
                  V("conversation of shop A with shop B's product", {
                      "conversation": "$conv_a", "agent": "$self", "kind": "product",
                      "key": "mb-bib-001"}, roles=STAFF, refusals=CROSS),
                  above("conversation of shop A as $above", {
                      "conversation": "$conv_a", "agent": "$above", "kind": "product",
                      "key": "lf-dress-01"})],
    "price_quote": [
        V("shop B", {"shop": SHOP_B}),
        V("shop A for c-both-zhao (N1)", {"shop": SHOP_A, "customer": "c-both-zhao",
                                          "items": [{"product": "lf-dress-01",
                                                     "quantity": 3}]},
          may_answer=STAFF),
        V("shop A for c00002 (shop B only)", {"shop": SHOP_A, "customer": "c00002",
                                              "items": [{"product": "lf-dress-01",
                                                         "quantity": 3}]},
          may_answer=STAFF),
        V("shop A with coupon mb-c-1111-599-60", {
            "shop": SHOP_A, "coupon": "mb-c-1111-599-60", "customer": None,
            "items": [{"product": "lf-dress-01", "quantity": 3}]},
          may_answer=STAFF, refusals=CROSS)],
    "invite": [V("conversation of shop B", {**CONV_B, "agent": "mb-ajun",
                                            "product": "mb-bib-001"}),
               V("conversation of shop A with shop B's product", {
                   "conversation": "$conv_a", "agent": "$self", "product": "mb-bib-001"},
                 roles=STAFF, refusals=CROSS),
               above("conversation of shop A as $above", {
                   "conversation": "$conv_a", "agent": "$above",
                   "product": "lf-dress-01"})],
    "ask_bot": [V("shop B", {"shop": SHOP_B, "text": "口水巾怎么选尺码"}),
                V("no shop, for c00002", {"shop": None, "customer": "c00002",
                                         "text": "我的快递到哪了"}, may_answer=STAFF)],
    "search_knowledge": [V("shop B", {"shop": SHOP_B, "text": "口水巾怎么选尺码"}),
                         V("no shop", {"shop": None, "text": "口水巾怎么选尺码"},
                           may_answer=STAFF)],
    "suggest_answers": [V("conversation of shop B", {**CONV_B})],
    "unanswered_questions": [V("shop B", {"shop": SHOP_B}),
                             V("no shop", {}, may_answer=STAFF)],
    "learn_question": [
        V("group of shop B into lf-return (N2)", {"question": "$unanswered_b",
                                                  "entry": "lf-return"}),
        V("shop B's question text into lf-return (N2)", {
            "question": "婴儿推车能带上高铁吗秘问", "entry": "lf-return"},
          may_answer=("supervisor_a",)),
        V("into ship_track (platform-wide, N3)", {"question": "新问题一则",
                                                  "entry": "ship_track"}),
        V("into size_guide (shop B)", {"question": "新问题一则", "entry": "size_guide"}),
        V("new entry of shop B", {"question": "新问题一则", "new": "pwn-new",
                                  "answer": "pwned", "shop": SHOP_B}),
        # no shop: an entry of the supervisor's own shop, or refused; never platform-wide
        # (a shop-less row would show in shop B's snapshot)
        V("new entry without a shop", {"question": "新问题一则", "new": "pwn-new",
                                       "answer": "pwned"}, may_answer=("supervisor_a",))],
    "dismiss_unanswered": [V("group of shop B", {"group": "$unanswered_b"})],
    "warm_knowledge": [V("shop B", {"shop": SHOP_B}),
                       V("no shop", {"shop": None}, may_answer=STAFF)],
    "create_ticket": [
        V("in shop B", {"shop": SHOP_B}),
        V("on conversation of shop B", {"conversation": "$conv_b"}),
        V("in shop A on order mb-order-7001", {"shop": SHOP_A, "order": "mb-order-7001"},
          refusals=CROSS),
        V("in shop A assigned to mb-ajun", {"shop": SHOP_A, "assignee": "mb-ajun"},
          refusals=CROSS),
        above("in shop A by $above (N6)", {"shop": SHOP_A, "by": "$above"})],
    "cancel_order": [V("order of shop B", {"key": "mb-order-7001"}),
                     V("order of shop B as mb-ajun", {"key": "mb-order-7001", "by": "mb-ajun"})],
    "change_order_address": [
        V("order of shop B", {"key": "mb-order-7001", "phone": "13900000000"}),
        V("order of shop B as mb-ajun", {"key": "mb-order-7001", "address": "黑客路1号",
                                         "by": "mb-ajun"})],
    "sla_scan": [V("every shop", {})],
    "suggest_knowledge": [V("shop B", {"shop": SHOP_B}),
                          V("shop B, all time", {"shop": SHOP_B, "since": "all"})],
    "propose_knowledge": [V("conversation of shop B as mb-ajun", {**CONV_B, "agent": "mb-ajun"}),
                          V("conversation of shop B as xm", {**CONV_B, "agent": "xm"})],
    "accept_kb_suggestion": [
        V("proposal of shop B", {"suggestion": "$suggestion_b"}),
        V("proposal of shop B as shop B's", {"suggestion": "$suggestion_b", "shop": SHOP_B}),
        V("proposal of shop B into a new key", {"suggestion": "$suggestion_b",
                                                "key": "pwn-learned", "answer": "pwned"})],
    "reject_kb_suggestion": [
        V("proposal of shop B", {"suggestion": "$suggestion_b"}),
        V("proposal of shop B as shop B's", {"suggestion": "$suggestion_b", "shop": SHOP_B})],
    "webhook_test": [V("webhook mb-hook", {"name": "mb-hook"})],
    "webhook_deliveries": [V("webhook mb-hook", {"name": "mb-hook"})],
    "webhook_delivery": [V("delivery of shop B", {"delivery": "$delivery_b"}),
                         V("channel delivery of shop B",
                           {"delivery": "$channel_delivery_b"})],
    "channel_deliveries": [V("channel mb-gateway", {"name": "mb-gateway"})],
    "channel_receipt": [V("channel delivery of shop B",
                          {"delivery": "$channel_delivery_b", "status": "read"})],
    "webhook_redeliver": [V("delivery of shop B", {"delivery": "$delivery_b"})],
    "finish_webhook_delivery": [V("delivery of shop B", {
        "delivery": "$delivery_b", "attempt": 1, "worker": "w", "status_code": 200})],
    "claim_webhook_deliveries": [
        V("shop B", {"worker": "w", "shop": SHOP_B}),
        V("delivery of shop B", {"worker": "w", "delivery": "$delivery_b"}),
        V("every shop", {"worker": "w"})],
    "ticket_report": [V("shop B", {"shop": SHOP_B}),
                      V("no shop", {}, may_answer=STAFF)],
    "get_ticket": [V("ticket of shop B", {"ticket": "$ticket_b"})],
    "list_tickets": [V("shop B", {"shop": SHOP_B}),
                     V("assignee mb-ajun (no shop)", {"assignee": "mb-ajun"},
                       may_answer=STAFF)],
    **{op: _ticket_variants(op) for op in _TICKET_ACTS},
    "run_due_campaigns": [V("shop B", {"shop": SHOP_B}), V("every shop", {})],
    "campaign_stats": [V("campaign mb-camp-nudge", {"key": "mb-camp-nudge"})],
    "campaign_sends": [V("campaign mb-camp-nudge", {"key": "mb-camp-nudge"})],
    "mark_sensitive": [V("conversation of shop B", {**CONV_B})],
    "metrics_refresh": [V("every shop", {})],
    "metrics_rebuild": [V("every shop", {})],
    "metrics_report": [V("shop B", {"shop": SHOP_B}),
                       V("no shop", {"shop": None}, may_answer=STAFF)],
    "agent_metrics": _acts_for("", {}, name="handle"),
    "dashboard": [V("shop B", {"shop": SHOP_B})],
    # issue 22: quality inspection (质检) and the agent radar
    "qa_report": [V("shop B", {"shop": SHOP_B}),
                  V("no shop", {"shop": None}, may_answer=STAFF)],
    "qa_queue": [V("shop B", {"shop": SHOP_B})],
    "qa_chat": [V("conversation of shop B", {**CONV_B})],
    "qa_review": [V("shop B's chat", {"shop": SHOP_B, **CONV_B}),
                  V("shop B's chat by mb-hongjie", {"shop": SHOP_B, **CONV_B,
                                                    "by": "mb-hongjie"}),
                  V("shop A naming shop B's chat", {"shop": SHOP_A, **CONV_B, "by": None},
                    roles=STAFF, refusals=CROSS)],
    "agent_radar": [V("shop B", {"shop": SHOP_B}),
                    V("shop A naming agent mb-ajun", {"shop": SHOP_A, "agent": "mb-ajun"},
                      roles=STAFF, refusals=CROSS)],
    "arrivals": [V("shop B", {"shop": SHOP_B})],
    "desk_profile": [V("shop B", {"shop": SHOP_B})],
    "events": [V("shop B", {"shop": SHOP_B}),
               V("from the start (no shop)", {"after": 0, "limit": 500},
                 may_answer=AUTHENTICATED)],
    "whoami": [V("itself", {}, may_answer=AUTHENTICATED)],
    "create_token": [
        V("for mb-ajun", {"agent": "mb-ajun"}),
        V("for mb-hongjie (supervisor of B)", {"agent": "mb-hongjie"}),
        V("an admin token", {"agent": None, "role": "admin"}),
        above("for $above", {"agent": "$above"}),
        V("for itself as admin", {"agent": "$self", "role": "admin"}, roles=STAFF)],
    "create_customer_token": [
        V("shop B for c00002", {"shop": SHOP_B, "customer": "c00002"}),
        V("shop A for c00002 (shop B only, N4)", {"shop": SHOP_A, "customer": "c00002"})],
    "list_tokens": [V("shop B", {"shop": SHOP_B}),
                    V("agent mb-ajun (no shop)", {"agent": "mb-ajun"}, may_answer=STAFF)],
    "revoke_token": [
        V("token of mb-ajun", {"token_id": "$token_b_agent"}),
        V("token of mb-hongjie", {"token_id": "$token_b_supervisor"}),
        V("customer token of shop B", {"token_id": "$token_b_customer"}),
        V("a platform admin token", {"token_id": "$token_admin"}),
        V("token of lf-zhouting (admin agent, D3)", {"token_id": "$token_admin_agent"},
          roles=STAFF),
        V("token of lf-lina (supervisor)", {"token_id": "$token_supervisor_a_other"},
          roles=("agent_a",))],
    "list": _kind_variants("list"),
    "create": _kind_variants("create"),
    "get": _kind_variants("get"),
    "update": _kind_variants("update"),
    "delete": _kind_variants("delete"),
    # routes outside the table
    "event_stream": [V("shop B", {"shop": SHOP_B}),
                     V("from the start (no shop)", {"after": 0}, may_answer=AUTHENTICATED)],
    "health": [V("the server", {}, public=True)],
    "page": [V("widget of shop B", {"shop": SHOP_B}, public=True)],
    "file_by_link": [V("a forged link to shop B's file",
                       {"token": f"$file_b.9999999999.{FORGED}"}, public=True)],
    "asset": [V("widget script", {"name": "app.js"}, public=True)],
    "openapi": [V("the schema", {}, public=True)],
    "swagger_ui_html": [V("the docs", {}, public=True)],
    "swagger_ui_redirect": [V("the docs", {}, public=True)],
}

EXTRA_PATHS = {"event_stream": ("GET", "/v1/events"), "health": ("GET", "/v1/health"),
               "page": ("GET", "/widget/{shop}"), "asset": ("GET", "/widget/assets/{name}"),
               "file_by_link": ("GET", "/files/{token}"),
               "openapi": ("GET", "/openapi.json"), "swagger_ui_html": ("GET", "/docs"),
               "swagger_ui_redirect": ("GET", "/docs/oauth2-redirect")}


def _generated(op: Operation) -> list[V]:
    """A variant from the argument names alone (an operation nobody wrote variants for)."""
    return [V("generated from its arguments", {})]


def variants(name: str) -> list[V]:
    """The variants of an operation or route (generated when none are written)."""
    op = BY_NAME.get(name)
    return VARIANTS.get(name) or (_generated(op) if op else [])


@dataclass
class Request:
    """One request of a case, with placeholders ($conv_b, $above, ...) still in it."""

    method: str
    path: str
    params: dict
    body: Any
    has_body: bool


class Unfillable(Exception):
    """An argument the suite has no value for."""


def build(name: str, v: V) -> Request:
    """The request of variant ``v`` of operation (or route) ``name``."""
    args = dict(v.args)
    op = BY_NAME.get(name)
    if op is None:
        method, path = EXTRA_PATHS[name]
        for k in re.findall(r"{(\w+)}", path):
            path = path.replace("{" + k + "}", str(args.pop(k)))
        return Request(method, path, {k: x for k, x in args.items() if x is not None}, None,
                       False)
    values: dict[str, Any] = {}
    for arg in op.args:
        if arg.name in args:
            if args[arg.name] is not None:
                values[arg.name] = args[arg.name]
        elif arg.required and not arg.http_optional:
            if arg.name not in B_VALUES:
                raise Unfillable(f"{op.name}: no shop-B value for argument {arg.name!r}; "
                                 "add it to B_VALUES or write variants")
            values[arg.name] = B_VALUES[arg.name]
    unknown = set(args) - {a.name for a in op.args}
    if unknown:
        raise Unfillable(f"{op.name}: variant names unknown arguments {sorted(unknown)}")
    path = re.sub(r"{(\w+)(?::\w+)?}", lambda m: str(values.pop(m.group(1))), op.path)
    if op.verb in ("GET", "DELETE"):
        return Request(op.verb, path, values, None, False)
    if op.body is not None:
        return Request(op.verb, path, {}, values.get(op.body, {}), True)
    return Request(op.verb, path, {}, values, True)


def _fill(value: Any, mall, role: str) -> Any:
    if isinstance(value, str) and "$" in value:
        def sub(m: re.Match) -> str:
            name = m.group(1)
            if name == "above":
                return ABOVE[role]
            if name == "self":
                return SELF[role]
            return str(mall.ids[name])
        whole = re.fullmatch(r"\$(\w+)", value)
        if whole and isinstance(mall.ids.get(whole.group(1)), int):
            return mall.ids[whole.group(1)]
        return re.sub(r"\$(\w+)", sub, value)
    if isinstance(value, dict):
        return {_fill(k, mall, role): _fill(x, mall, role) for k, x in value.items()}
    if isinstance(value, list):
        return [_fill(x, mall, role) for x in value]
    return value


def _cases():
    names = [op.name for op in OPERATIONS] + sorted(EXTRA_PATHS)
    for name in names:
        for v in variants(name):
            for role in (*v.roles, "admin") if v.roles == ROLES else v.roles:
                yield pytest.param(name, v, role, id=f"{name} {v.record}-{role}")


@pytest.fixture(scope="module")
def mall(tmp_path_factory):
    """The two-shop mall on a live server, built once for the module."""
    m = build_mall(tmp_path_factory.mktemp("tenancy"))
    yield m
    m.close()


@pytest.mark.parametrize(("name", "variant", "role"), list(_cases()))
def test_attack(mall, name: str, variant: V, role: str):
    """One caller against one record of shop B (or above them) through one route."""
    try:
        req = build(name, variant)
    except Unfillable as e:
        pytest.fail(str(e))
    path = _fill(req.path, mall, role)
    params = _fill(req.params, mall, role)
    body = _fill(req.body, mall, role)
    what = f"{req.method} {path} {json.dumps(params or body, ensure_ascii=False)[:300]} " \
           f"as {role} ({variant.record})"
    writes = req.method != "GET"
    before = mall.state() if writes else None
    if name == "event_stream":
        status, text = _stream(mall, path, params, role)
    else:
        kw = {"json": body} if req.has_body else {}
        r = mall.call(req.method, path, role, params=params, **kw)
        status, text = r.status_code, r.text
    if name in ("events", "event_stream"):  # what was there when the mall was built
        text = _events_until(text, mall.ids["events_head"])
    changed = []
    if writes:
        changed = diff(before, mall.state())
        if changed or (status < 300 and role != "admin"):
            mall.restore()  # an attack that got through (or the admin's change): undo it
    if role == "admin":  # may do it all: only never a 5xx, and errors are JSON with a code
        assert status < 500 and status != 401, f"{what}: {status} {text[:300]}"
        if status >= 400:
            assert json.loads(text)["error"]["code"], f"{what}: {status} {text[:300]}"
        return
    request_text = json.dumps([path, params, body], ensure_ascii=False)
    assert status < 500, f"{what}: {status} {text[:300]}"
    found = leaks(text, request_text)
    assert not found, f"{what}: the answer shows shop B's {found}: {text[:300]}"
    assert not changed, f"{what} answered {status} and changed:\n" + "\n".join(changed)
    if role in ANONYMOUS_ROLES and not variant.public:
        assert status == 401, f"{what}: {status}, not 401: {text[:300]}"
    else:  # a valid token answered 401 would make every refusal after it meaningless
        assert status != 401, f"{what}: 401, the caller's token no longer works: {text[:300]}"
        if role not in variant.may_answer and not variant.public:
            assert status in variant.refusals, f"{what}: {status}, not refused: {text[:300]}"


def _stream(mall, path: str, params: dict, role: str, read_s: float = 0.3) -> tuple[int, str]:
    """The status and what an event stream sends within ``read_s``."""
    token = mall.served.admin if role == "admin" else mall.tokens[role]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    chunks: list[str] = []
    with mall.client.stream("GET", path, params=params, headers=headers) as r:
        if r.status_code != 200:
            return r.status_code, r.read().decode()
        deadline = time.monotonic() + read_s
        for line in r.iter_lines():
            chunks.append(line)
            if time.monotonic() > deadline:
                break
        return r.status_code, "\n".join(chunks)


def _events_until(text: str, head: int) -> str:
    """The events of a page or a stream up to event ``head`` (later ones are the traces
    of other cases: an attack that got through leaves events in shop A)."""
    if text.startswith("{"):
        data = json.loads(text)
        return json.dumps([e for e in data.get("items", []) if e["id"] <= head],
                          ensure_ascii=False) if "items" in data else text
    keep, current = [], None
    for line in text.splitlines():
        if line.startswith("id: "):
            current = int(line[4:])
        if current is None or current <= head:
            keep.append(line)
    return "\n".join(keep)


def test_every_route_has_attack_cases(mall):
    """Every operation of the table and every route of the app has written variants,
    and every variant can be turned into a request: a route added tomorrow fails here
    until its attacks are written."""
    app = mall.served.server.server.cstool_app
    routes = {getattr(r, "name", None) for r in app.routes}
    table = {op.name for op in OPERATIONS}
    missing = sorted((routes | table) - set(VARIANTS))
    assert not missing, f"no attack variants for {missing}: add them to VARIANTS"
    unknown = sorted(set(VARIANTS) - routes - table)
    assert not unknown, f"variants for routes the app does not have: {unknown}"
    assert set(EXTRA_PATHS) == routes - table, "EXTRA_PATHS must name the app's other routes"
    problems = []
    for name in VARIANTS:
        for v in variants(name):
            try:
                build(name, v)
            except (Unfillable, KeyError) as e:
                problems.append(f"{name} {v.record}: {e}")
    assert not problems, problems


def test_every_record_kind_is_attacked_through_apply_and_rest():
    """One apply case per record kind, and list / get / create / update / delete of each."""
    for op in ("apply", "list", "get", "create", "update", "delete"):
        labels = " ".join(v.record for v in VARIANTS[op])
        assert all(kind in labels for kind in KINDS), (op, labels)
