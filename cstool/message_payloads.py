"""What a message's payload may be, by the message's kind, and how a stored payload is
read back.

A payload is the structured part of a message (the card a product, coupon, invitation
or order message shows; an image's address). Payloads a client sends (a customer's
post, an agent's reply through the API or the CLI) are checked here against the shape
their kind needs, with a size cap (``$CSTOOL_MAX_PAYLOAD`` bytes of JSON, default
``DEFAULT_MAX_PAYLOAD``), so nothing stored can break a later read. Payloads the desk
makes itself (cards, invitations, bot answers, system notes) are its own and are not
re-checked. ``stored_payload`` reads a stored payload without trusting it: one written
before these checks (nested a thousand deep, megabytes long) reads as a small
``{"unreadable": ...}`` marker instead of failing the whole conversation.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

from .errors import InvalidInput, TooLarge
from .json_limits import MAX_JSON_DEPTH, json_depth
from .text_rules import control_char, describe_char
from .values import SLUG_RE

DEFAULT_MAX_PAYLOAD = 8192  # bytes of compact JSON; an invitation card is about 1 KB
READ_LIMIT = 1 << 20  # a stored payload longer than this is not decoded on read
URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*\Z", re.IGNORECASE)
MONEY_RE = re.compile(r"^-?\d{1,12}(\.\d{1,2})?\Z")

Spec = Any  # a checker function, or a dict (a mapping of fields), or [spec] (a list)


def max_payload_bytes() -> int:
    """The payload cap: ``$CSTOOL_MAX_PAYLOAD`` (bytes), else the default."""
    raw = os.environ.get("CSTOOL_MAX_PAYLOAD", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    return DEFAULT_MAX_PAYLOAD


# -- field checkers: each returns an error text, or None, and says its JSON Schema ----------
class Check:
    """A field check (``fn(value)``: an error text or None) and the JSON Schema that
    states the same rule for the OpenAPI document."""

    def __init__(self, fn: Callable[[Any], str | None], schema: dict):
        self.fn = fn
        self.schema = schema

    def __call__(self, value: Any) -> str | None:
        return self.fn(value)


_NO_CONTROL = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_NO_CONTROL_LINE = r"\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"


def _text(limit: int, multiline: bool = False) -> Check:
    def check(v: Any) -> str | None:
        if not isinstance(v, str):
            return "expected text"
        if len(v) > limit:
            return f"too long ({len(v)} characters, at most {limit})"
        bad = control_char(v, multiline=multiline)
        if bad is not None:
            return f"contains a control character {describe_char(bad)}"
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid UTF-8 text (a lone surrogate)"
        return None
    bad = _NO_CONTROL if multiline else _NO_CONTROL_LINE
    return Check(check, {"type": "string", "maxLength": limit, "pattern": f"^[^{bad}]*$"})


_key = Check(lambda v: None if isinstance(v, str) and SLUG_RE.match(v) else "expected a key",
             {"type": "string", "pattern": SLUG_RE.pattern.replace("\\Z", "$")})


def _url_check(v: Any) -> str | None:
    if not isinstance(v, str) or len(v) > 2048 or not URL_RE.match(v) or control_char(v):
        return "expected an http(s) address of at most 2048 characters"
    return None


_url = Check(_url_check, {"type": "string", "maxLength": 2048,
                          "pattern": f"^[hH][tT][tT][pP][sS]?://[^\\s/$.?#{_NO_CONTROL_LINE}]"
                                     f"[^\\s{_NO_CONTROL_LINE}]*$"})


def _whole(v: Any) -> Any:
    return int(v) if type(v) is float and v.is_integer() else v


def _int(lo: int, hi: int) -> Check:
    def check(v: Any) -> str | None:
        v = _whole(v)  # 3.0 is the integer 3, as JSON Schema reads it
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            return f"expected a whole number from {lo} to {hi}"
        return None
    return Check(check, {"type": "integer", "minimum": lo, "maximum": hi})


def _money_check(v: Any) -> str | None:
    if isinstance(v, str):
        return None if MONEY_RE.match(v) else "expected an amount of money"
    if isinstance(v, bool) or not isinstance(v, int | float) or not abs(v) < 1e12:
        return "expected an amount of money"  # NaN fails abs(v) < 1e12 too
    return None


_money = Check(_money_check, {"anyOf": [
    {"type": "string", "pattern": MONEY_RE.pattern.replace("\\Z", "$")},
    {"type": "number", "exclusiveMinimum": -1e12, "exclusiveMaximum": 1e12}]})
_rate = Check(lambda v: None if not isinstance(v, bool) and isinstance(v, int | float)
              and 0 < v < 1 else "expected a rate between 0 and 1",
              {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1})


def _enum(*choices: str) -> Check:
    return Check(lambda v: None if v in choices else f"expected one of {', '.join(choices)}",
                 {"enum": list(choices)})


_ATTR_NAME, _ATTR_TEXT = _text(64), _text(200)


def _attrs_check(v: Any) -> str | None:
    if not isinstance(v, dict) or len(v) > 50:
        return "expected a mapping of at most 50 attributes"
    for k, x in v.items():
        values = x if isinstance(x, list) else [x]
        if _ATTR_NAME(k) or len(values) > 100 or any(_ATTR_TEXT(y) for y in values):
            return "expected attribute names with a text or a list of texts"
    return None


_attrs = Check(_attrs_check, {
    "type": "object", "maxProperties": 50, "propertyNames": _ATTR_NAME.schema,
    "additionalProperties": {"anyOf": [_ATTR_TEXT.schema, {
        "type": "array", "maxItems": 100, "items": _ATTR_TEXT.schema}]}})


def _list(spec: Spec, most: int) -> tuple:
    return ("list", spec, most)


TITLE = _text(200)
SHORT = _text(64)
ITEM = {"product": _key, "title": TITLE, "category": SHORT, "quantity": _int(1, 100000)}

# The shape each kind's payload needs: the fields a card shows (any may be left out or
# null unless listed in REQUIRED). Unknown fields are refused.
SHAPES: dict[str, dict | None] = {
    "text": None,  # a text message carries no payload
    "image": {"url": _url, "width": _int(1, 20000), "height": _int(1, 20000),
              "alt": TITLE, "bytes": _int(0, 1 << 31)},
    "product": {"product": _key, "title": TITLE, "price": _money, "stock": _int(0, 2**53),
                "status": _enum("on_sale", "off_shelf"), "attributes": _attrs},
    "coupon": {"coupon": _key, "name": TITLE, "kind": _enum("amount", "discount"),
               "amount": _money, "rate": _rate, "threshold": _money, "valid_to": SHORT},
    "invitation": {
        "item": ITEM, "quantity": _int(1, 100000), "unit_price": _money,
        "unit_price_after_discount": _money, "subtotal": _money,
        "promotions": _list({"key": _key, "name": TITLE, "kind": SHORT, "saving": _money}, 20),
        "after_promotions": _money,
        "coupon": {"key": _key, "name": TITLE, "kind": SHORT, "saving": _money},
        "gifts": _list({"product": _key, "title": TITLE, "quantity": _int(1, 100000)}, 20),
        "total": _money, "saving": _money, "quoted_at": SHORT},
    "order": {"order": _key, "status": SHORT, "status_name": SHORT,
              "items": _list(ITEM, 100), "total": _money, "carrier": SHORT,
              "tracking_no": SHORT,
              "logistics": _list({"at": SHORT, "status": SHORT,
                                  "detail": _text(500, multiline=True)}, 100)},
    "survey": {"rating": _list(_int(1, 5), 5)},
}
REQUIRED = {"image": ("url",), "product": ("product",), "coupon": ("coupon",),
            "invitation": ("item", "total"), "order": ("order",), "survey": ("rating",)}
KINDS = tuple(SHAPES)


def _check(spec: Spec, value: Any, path: str) -> None:
    if value is None:
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise InvalidInput(f"{path}: expected a mapping", key="payload_not_mapping", at=path)
        for name, v in value.items():
            if name not in spec:
                raise InvalidInput(f"{path}: unknown field {str(name)[:40]!r} (known: "
                                   f"{', '.join(spec)})",
                                   key="payload_unknown_field", at=path,
                                   field=repr(str(name)[:40]), known=', '.join(spec))
            _check(spec[name], v, f"{path}.{name}")
    elif isinstance(spec, tuple):
        _, item, most = spec
        if not isinstance(value, list) or len(value) > most:
            raise InvalidInput(f"{path}: expected a list of at most {most}",
                               key="payload_list_too_long", at=path, most=most)
        for i, v in enumerate(value):
            _check(item, v, f"{path}[{i}]")
    else:
        problem = spec(value)
        if problem:
            raise InvalidInput(f"{path}: {problem}",
                               key="payload_field_bad", at=path, problem=problem)


def check_payload(kind: str, payload: Any) -> Any:
    """Check a client's payload for a message of ``kind``: the kind is known, the
    payload has the shape the kind needs, and its JSON is at most
    ``max_payload_bytes()``. Raises InvalidInput (TooLarge over the cap); returns it."""
    if kind not in SHAPES:
        raise InvalidInput(f"unknown message kind {str(kind)[:40]!r} (one of "
                           f"{', '.join(KINDS)})",
                           key="unknown_message_kind", name=repr(str(kind)[:40]),
                           known=', '.join(KINDS))
    shape = SHAPES[kind]
    if shape is None:
        if payload is not None:
            raise InvalidInput(f"payload: a {kind} message carries none",
                               key="payload_none_allowed", msg_kind=kind)
        return None
    if payload is None:
        raise InvalidInput(f"payload: a {kind} message needs one ({', '.join(REQUIRED[kind])})",
                           key="payload_needed", msg_kind=kind, fields=', '.join(REQUIRED[kind]))
    try:
        size = len(json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
                   .encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        raise InvalidInput("payload: not plain JSON", key="payload_not_json") from None
    cap = max_payload_bytes()
    if size > cap:
        raise TooLarge(f"payload too large ({size:,} bytes of JSON, at most {cap:,}; "
                       "$CSTOOL_MAX_PAYLOAD sets it)", key="payload_too_large", size=size, cap=cap)
    _check(shape, payload, "payload")
    for name in REQUIRED[kind]:
        if payload.get(name) is None:
            raise InvalidInput(f"payload.{name}: is required for a {kind} message",
                               key="payload_field_required", name=name, msg_kind=kind)
    return payload


def stored_payload(raw: str | bytes | None) -> Any:
    """A stored payload, decoded; one too long or too deep to decode safely (written
    before payloads were checked) reads as ``{"unreadable": "..."}``."""
    if not raw:
        return None
    if len(raw) > READ_LIMIT:
        return {"unreadable": f"payload of {len(raw):,} bytes not shown"}
    if json_depth(raw, stop_after=MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        return {"unreadable": "payload nested too deeply to show"}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return {"unreadable": "payload is not valid JSON"}


def _schema(spec: Spec) -> dict:
    """The JSON Schema of a spec (every field may be null or left out)."""
    if isinstance(spec, dict):
        return {"type": "object", "additionalProperties": False,
                "properties": {k: {"anyOf": [_schema(v), {"type": "null"}]}
                               for k, v in spec.items()}}
    if isinstance(spec, tuple):
        _, item, most = spec
        return {"type": "array", "maxItems": most, "items": _schema(item)}
    return dict(spec.schema)


def payload_schema(kind: str) -> dict:
    """The JSON Schema of the payload of a message of ``kind`` (null for text)."""
    shape = SHAPES[kind]
    if shape is None:
        return {"type": "null"}
    out = _schema(shape)
    out["required"] = list(REQUIRED[kind])
    for name in REQUIRED[kind]:
        out["properties"][name] = _schema(shape[name])
    return out


def message_body_variants() -> list[dict]:
    """The kinds a posted message may take, each with its payload, for a request body's
    schema (``anyOf``): text (the default) with no payload, every other kind with its own."""
    variants: list[dict] = [{"not": {"required": ["kind"]},
                             "properties": {"payload": {"type": "null"}}}]
    for kind in SHAPES:
        variant = {"required": ["kind"], "properties": {
            "kind": {"const": kind}, "payload": payload_schema(kind)}}
        if SHAPES[kind] is not None:
            variant["required"].append("payload")
        variants.append(variant)
    return variants
