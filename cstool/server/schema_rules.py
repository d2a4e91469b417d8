"""What the server refuses, said in the OpenAPI document too, so the document and the
server agree (a client generated from the document, or schemathesis, sends nothing
the document allows and the server then refuses for its form).

``constraints(op, arg)`` gives the pydantic ``Field`` arguments of one operation
argument: a minimum length of 1 for text the server refuses empty, the choices of
an argument that takes a fixed set of values (documented as ``enum``; the backend
still checks them, with its own message), and bounds for numbers such as ``limit``.
"""

from __future__ import annotations

from typing import Any

from ..api.bounds import JSON_EXACT, bound
from ..api.operations import Arg, Operation
from ..macros import PRIORITY_RANGE
from ..message_payloads import KINDS as MESSAGE_KINDS
from ..metrics import figures
from ..metrics.follow_up import FOLLOW_UP_CLASSES
from ..qa.rules import BY as QA_BY
from ..qa.rules import VERDICTS as QA_VERDICTS
from ..resources import AGENT_STATUSES, CHANNELS, KINDS, PRIORITIES, ROLES, TICKET_TYPES
from ..resources import kind as kind_named
from ..routing.fields import INTENTS
from ..services.campaigns import OUTCOMES
from ..services.channels import RECEIPTS
from ..services.order_events import TYPES as ORDER_EVENT_TYPES
from ..services.presence import STATES as PRESENCE_STATES
from ..services.tickets import OPEN, STATUSES, TEAMS
from ..services.webhooks import STATUSES as DELIVERY_STATUSES
from ..text_rules import MAX_LABEL_CHARS

# arguments that may be empty text (a note, a reason, a comment: "" means none)
MAY_BE_EMPTY = {"note", "reason", "comment", "label", ("ask_bot", "text")}

# choices by argument name, and where one operation differs, by (operation, name)
CHOICES: dict[Any, tuple | None] = {
    "channel": CHANNELS,
    "intent": tuple(INTENTS),
    "priority": PRIORITIES,
    "team": TEAMS,
    "type": TICKET_TYPES,
    "role": ROLES,
    "outcome": OUTCOMES,
    ("set_agent_status", "status"): AGENT_STATUSES,
    ("list_tickets", "status"): STATUSES,
    ("update_ticket", "status"): OPEN,
    ("list_conversations", "state"): ("bot", "queued", "active", "closed", "open"),
    ("post_message", "kind"): MESSAGE_KINDS,
    ("reply", "kind"): MESSAGE_KINDS,
    ("send_card", "kind"): ("product", "coupon"),
    ("ticket_report", "by"): ("type", "team", "agent"),
    ("webhook_deliveries", "status"): DELIVERY_STATUSES,
    ("channel_deliveries", "status"): DELIVERY_STATUSES,
    ("channel_receipt", "status"): RECEIPTS,
    # a client (app, web ...) or one of the shop's channel connectors, by name (a slug)
    ("post_message", "channel"): None,
    ("follow_ups", "classification"): FOLLOW_UP_CLASSES,
    ("presence", "state"): PRESENCE_STATES,
    ("qa_review", "verdict"): QA_VERDICTS,
    ("order_event", "type"): ORDER_EVENT_TYPES,
    ("qa_report", "by"): QA_BY,
}
# path kinds: the record routes take a record kind
KIND_PATHS = {"list", "create", "get", "update", "delete", "bulk_load"}
# free text: no control characters (newline and tab only in multi-line text) and, where
# the server refuses blank text, something besides whitespace (cstool.text_rules)
_BAD = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_BAD_LINE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
MULTI_LINE = {"text", "note", "reason", "comment", "question", "answer"}
FREE_TEXT = MULTI_LINE | {"title", "label", "entry_page", "source", "search_keyword",
                          "client_id", "macro"}
SLUG = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
PATTERNS: dict[Any, str] = {
    "expires": r"^(never|[1-9][0-9]{0,5}[mhdw])$",
    ("backup", "target"): r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
    ("dismiss_unanswered", "group"): r"^#[0-9]+$",
    # a customer a post or a token names is made or found by this key
    ("post_message", "customer"): SLUG,
    ("post_message", "channel"): SLUG,
    ("route_test", "customer"): SLUG,
    ("create_customer_token", "customer"): SLUG,
    ("follow_ups", "since"): r"^(all|[1-9][0-9]{0,5}[mhdw])$",
}
# arguments naming a record by its key: no control characters, nothing blank around it
# (cstool.text_rules.key_problem)
KEY_ARGS = {"shop", "customer", "agent", "by", "to_agent", "to_group", "entry", "new",
            "coupon", "product", "key", "order", "assignee", "handle", "category",
            "worker", "to"}
KEY = f"^[^{_BAD_LINE}\\s]([^{_BAD_LINE}]*[^{_BAD_LINE}\\s])?$"
# times as epoch milliseconds: the years 1970 to 9999, as parse_time takes them
TIME_ARGS = {"at", "now", "since", "until"}
TIME_RANGE = {"ge": 0, "le": 253402214399999}  # to 9999-12-30 UTC: still year 9999 in every zone


# query text the core refuses itself when empty or malformed (with its own key, on every
# backend alike): stated only, like body text
CORE_TEXT = {("search_history", "text"), ("follow_ups", "since")}
# a conversation label (issue 22): 1 to MAX_LABEL_CHARS characters, never blank
CONVERSATION_LABEL = {("add_label", "label"), ("remove_label", "label"),
                      ("list_conversations", "label")}


def _may_be_empty(op: Operation, arg: Arg) -> bool:
    if (op.name, arg.name) in CONVERSATION_LABEL:
        return False
    return arg.name in MAY_BE_EMPTY or (op.name, arg.name) in MAY_BE_EMPTY


def text_pattern(name: str, may_be_empty: bool = False) -> str:
    """The pattern of a free-text argument (see ``FREE_TEXT``)."""
    bad = _BAD if name in MULTI_LINE else _BAD_LINE
    if may_be_empty:
        return f"^[^{bad}]*$"
    return f"^[^{bad}]*[^{bad}\\s][^{bad}]*$"


# whole numbers with a floor (the server refuses below it); the bounds of
# cstool.api.bounds.BOUNDS are the core's (stated here, see ``core_ranged``)
MINIMUM = {"bucket_min": 1, "rating": 1, "quantity": 1, "time_on_site_s": 0,
           "pages_viewed": 0, "status_code": 100}
# ids the core looks up: any whole number is taken, one no row has is not found
ID_ARGS = {"conversation", "ticket", "token_id"}


def choices(op: Operation, arg: Arg) -> tuple | None:
    """The fixed values ``arg`` of ``op`` takes (None: any)."""
    if arg.name == "kind" and op.name in KIND_PATHS:
        return tuple(KINDS)
    if op.name == "metrics_report" and arg.name == "by":
        return None  # a list of dimensions: documented on the items
    if (op.name, arg.name) in CHOICES:
        return CHOICES[(op.name, arg.name)]
    return CHOICES.get(arg.name)


MAXIMUM = {"rating": 5, "status_code": 599}
# numbers the core refuses below their floor itself (the message lane's too): stated only
# (a rating out of 1-5: the core's InvalidInput bad_rating, on every backend alike)
# (a quantity below 1: cstool.pricing's InvalidInput quantity_below_one)
CORE_CHECKED = {"time_on_site_s", "pages_viewed", "rating", "quantity"}


def core_ranged(op: Operation, arg: Arg) -> bool:
    """True when the core checks the range of whole number ``arg`` itself (an id it looks
    up, or a number of ``cstool.api.bounds``): the server then takes any whole number for
    it, so that every backend answers the core's refusal (or NotFound)."""
    return arg.type is int and (arg.name in ID_ARGS or bound(arg.name, op.name) is not None)


def constraints(op: Operation, arg: Arg, *, enforce: bool = False) -> dict[str, Any]:
    """The ``Field`` keyword arguments that state what the server takes for ``arg``.

    Text rules of body fields are stated only (the core enforces them with its own
    messages, alike on the message lane); with ``enforce`` (query and path
    parameters, which the lane never reads) FastAPI enforces them too, since a query
    filter given empty would otherwise read as no filter."""
    out: dict[str, Any] = {}
    if arg.type is str:
        allowed = choices(op, arg)
        if allowed is not None:
            values = list(allowed) + ([None] if _nullable(arg) else [])
            out["json_schema_extra"] = {"enum": values}
        else:
            pattern = PATTERNS.get((op.name, arg.name), PATTERNS.get(arg.name))
            if pattern is None and arg.name in FREE_TEXT:
                pattern = text_pattern(arg.name, _may_be_empty(op, arg))
            if pattern is None and arg.name in KEY_ARGS and not enforce:
                pattern = KEY  # stated for body fields (the core checks keys itself)
            # stated, not enforced here: the core refuses the same text with its own
            # message, alike on the message lane and through FastAPI
            extra = {} if _may_be_empty(op, arg) else {"minLength": 1}
            if pattern is not None:
                extra["pattern"] = pattern
            if (op.name, arg.name) in CONVERSATION_LABEL:
                # stated only: the core refuses with its own keys on every backend alike
                extra["maxLength"] = MAX_LABEL_CHARS
                out["json_schema_extra"] = extra
            elif extra and enforce and (op.name, arg.name) not in CORE_TEXT:
                named = {"minLength": "min_length", "maxLength": "max_length"}
                out.update({named.get(k, k): v for k, v in extra.items()})
            elif extra:
                out["json_schema_extra"] = extra
    elif (op.name, arg.name) == ("arrivals", "bucket_min"):
        out["json_schema_extra"] = {"enum": BUCKETS}  # a bucket divides a day
    elif (op.name, arg.name) == ("set_priority", "priority"):
        # stated only: the core refuses outside it (priority_bad) on every backend alike
        lo, hi = PRIORITY_RANGE
        out["json_schema_extra"] = {"minimum": lo, "maximum": hi}
    elif arg.type is int and (b := bound(arg.name, op.name)) is not None:
        # the core refuses outside them (cstool.api.bounds, a usage error with the
        # bound's key, alike on every backend): stated only
        out["json_schema_extra"] = {"minimum": b.minimum,
                                    "maximum": JSON_EXACT if b.maximum is None else b.maximum}
    elif arg.type is int and arg.name in CORE_CHECKED:
        out["json_schema_extra"] = {"minimum": MINIMUM[arg.name],
                                    **({"maximum": MAXIMUM[arg.name]}
                                       if arg.name in MAXIMUM else {})}
    elif arg.type is int and arg.name in TIME_ARGS:
        out.update(TIME_RANGE)
    elif arg.type is int:
        if arg.name in MINIMUM:
            out["ge"] = MINIMUM[arg.name]
        if arg.name in MAXIMUM:
            out["le"] = MAXIMUM[arg.name]
    return out


# minutes that divide a day (StaffingService.arrivals)
BUCKETS = [m for m in range(1, 1441) if 1440 % m == 0]


def array_schema(op: Operation, arg: Arg) -> dict[str, Any] | None:
    """The JSON Schema of a list (or object) argument where the server takes less than
    any list or object (None: any)."""
    if (op.name, arg.name) == ("apply", "document"):
        return document_schema()
    if (op.name, arg.name) == ("metrics_report", "by"):
        # dimensions, at least one, each once; agent alone (services.metrics.dimensions)
        return {"items": {"enum": list(figures.DIMENSIONS)}, "minItems": 1,
                "uniqueItems": True,
                "not": {"contains": {"const": "agent"}, "minItems": 2}}
    if arg.name == "tags":  # one-line labels (cstool.text_rules)
        return {"items": {"type": "string", "pattern": text_pattern("tags")}}
    if arg.name == "items" and op.name == "price_quote":
        # {product, quantity} or [product, quantity] (services.invitations.normalize_items)
        product, quantity = {"type": "string", "pattern": KEY}, {"type": "integer",
                                                                   "minimum": 1}
        return {"minItems": 1, "items": {"anyOf": [
            {"type": "object", "required": ["product"],
             "properties": {"product": product, "quantity": quantity}},
            {"type": "array", "prefixItems": [product, quantity], "minItems": 2,
             "maxItems": 2, "items": False}]}}
    return None


def _nullable(arg: Arg) -> bool:
    return arg.default is None or arg.http_optional


# -- rules across fields of one body (stated in the document as anyOf / oneOf) ---------------
# An ISO 8601 time that parse_time takes, between the years 1971 and 9998 (so that any
# offset keeps it within the epoch range above); ASCII digits only ([0-9], not \d).
# Stated, not enforced: the core parses times itself (it takes a little more, such as
# 29 February of a leap year or a space for the T), with its own message.
ISO_TIME = (r"^(197[1-9]|19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9])"
            r"-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
            r"|(?:0[13578]|1[02])-31)"
            r"(T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{3})?)?"
            r"(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?)?$")


def _given(name: str, schema: dict | None = None) -> dict:
    """``name`` is present and not null (of ``schema``, a string by default)."""
    return {"required": [name], "properties": {name: schema or {"type": "string"}}}


# what an operation's body needs beyond its fields one by one, as the backend checks it
BODY_RULES: dict[str, dict[str, Any]] = {
    # update_ticket: "nothing to change" without one of these
    "update_ticket": {"anyOf": [_given(f) for f in ("status", "priority", "team", "title")]},
    # transfer: to exactly one of an agent or a group
    "transfer": {"oneOf": [_given("to_agent"), _given("to_group")]},
    # learn_question: into exactly one of an existing entry or a new one (with its answer)
    "learn_question": {"oneOf": [
        {"required": ["entry"],
         "properties": {"entry": {"type": "string"}, "new": {"type": "null"}}},
        {"required": ["new", "answer"],
         "properties": {"new": {"type": "string"}, "entry": {"type": "null"},
                        "answer": {"type": "string", "pattern": text_pattern("answer")}}}]},
    # create_ticket: from a conversation or for a shop
    "create_ticket": {"anyOf": [_given("shop"), _given("conversation", {"type": "integer"})]},
    # create_token: for an agent, or an admin token bound to no agent
    "create_token": {"anyOf": [_given("agent"), _given("role", {"const": "admin"})]},
    # ask_bot: a customer is a customer of a shop
    "ask_bot": {"anyOf": [{"properties": {"customer": {"type": "null"}}}, _given("shop")]},
}


def body_rules(op: Operation) -> dict[str, Any]:
    """The JSON Schema keywords ``op``'s body takes besides its properties (see
    ``BODY_RULES``): merged into the body model's schema."""
    return BODY_RULES.get(op.name, {})


def document_schema() -> dict[str, Any]:
    """What ``apply`` takes: record kinds, each a list of records with the fields of its
    kind, the required ones present (the values are checked by ``cstool.validation``,
    and references to other records against the document and the store)."""
    kinds: dict[str, Any] = {}
    for name in KINDS:
        k = kind_named(name)
        records = {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": [f.name for f in k.fields if f.required],
            "properties": {f.name: ({"type": "string", "pattern": KEY} if f.name == k.key
                                    else {}) for f in k.fields}}}
        # none given: null or an empty mapping reads as no records
        kinds[name] = {"anyOf": [records, {"type": "null"},
                                 {"type": "object", "maxProperties": 0}]}
    return {"additionalProperties": False, "properties": kinds}
