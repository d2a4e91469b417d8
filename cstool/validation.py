"""Validation of records against the resource spec, with errors that name the field
(and, for fixture files, the file and line).

``to_internal`` turns an external record (fixture / JSON form) into the internal form;
``to_external`` does the reverse. ``check_refs`` checks references through a lookup
callback so the same rules serve the Local backend, ``apply`` and the server.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from .errors import InvalidInput
from .json_limits import MAX_JSON_DEPTH, value_depth
from .resources import (
    MISSING,
    PRIORITIES,
    SHOP_SETTINGS_DEFAULTS,
    TICKET_TYPES,
    WEEKDAYS,
    Field,
    Kind,
)
from .text_rules import control_char, describe_char, key_problem
from .values import SLUG_RE, format_money, format_time, parse_money, parse_time

MAX_TEXT = 5000  # longest free text (answers, details) anywhere in a record
HHMM_RANGE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
Lookup = Callable[[str, str], dict | None]


class FieldError(InvalidInput):
    """A record field that does not fit; carries the path and, when known, the line. Its
    error key is ``field`` (the English reason as a parameter) unless a more exact one is
    given (``field_required`` ...); path, line and source are parameters too."""

    def __init__(self, path: str, message: str, line: int | None = None, source: str = "",
                 *, key: str | None = None, **params: object):
        self.path = path
        self.reason = message
        self.line = line
        self.source = source
        self._key, self._params = key, params
        super().__init__(self._format(), key=key or "field", path=path, reason=message,
                         line=line, source=source, **params)

    def _format(self) -> str:
        where = ""
        if self.source:
            where = f"{self.source}:{self.line}: " if self.line else f"{self.source}: "
        elif self.line:
            where = f"line {self.line}: "
        return f"{where}{self.path}: {self.reason}" if self.path else f"{where}{self.reason}"

    def located(self, source: str) -> FieldError:
        """The same error, naming the file it came from."""
        return FieldError(self.path, self.reason, self.line, source, key=self._key,
                          **self._params)


def line_of(obj: Any, key: str | None = None) -> int | None:
    """The source line of a mapping (or of one of its keys), when it came from a file."""
    lines = getattr(obj, "lines", None)
    if lines is not None and key is not None and key in lines:
        return lines[key]
    return getattr(obj, "line", None)


def _err(path: str, message: str, obj: Any = None, key: str | None = None, *,
         code: str | None = None, **params: object) -> FieldError:
    return FieldError(path, message, line_of(obj, key), key=code, **params)


def _value_error(path: str, e: Exception, parent: Any, name: Any) -> FieldError:
    """A value that did not parse (``cstool.values``): its reason kept, its key as the
    field's (``field_<key>``); an unkeyed one (a time out of range) as a plain field
    error."""
    key = getattr(e, "key", None)
    if isinstance(e, InvalidInput) and key:
        return _err(path, str(e), parent, name, code=f"field_{key}", **e.params)
    return _err(path, str(e), parent, name, code="field")


def _check_text(value: Any, f: Field, path: str, parent: Any) -> str:
    if not isinstance(value, str):
        raise _err(path, f"expected text, got {_typename(value)}", parent, f.name,
                   code="field_not_text", got=_typename(value))
    limit = f.max_len if f.max_len else MAX_TEXT
    if len(value) > limit:
        raise _err(path, f"too long ({len(value)} characters, at most {limit})", parent, f.name,
                   code="field_too_long", length=len(value), max=limit)
    if f.name == "key" and key_problem(value) is not None:  # a text key (knowledge entries)
        raise _err(path, f"{value!r} is not a usable key: it {key_problem(value)} (text "
                   "without control characters, line breaks, tabs or surrounding spaces)",
                   parent, f.name,
                   code="field_bad_key", value=repr(value), key_problem=key_problem(value))
    _no_controls(value, path, parent, f.name, multiline=f.multiline)
    if f.required and not value.strip():
        raise _err(path, "is empty", parent, f.name, code="field_empty")
    return value


def _no_controls(value: str, path: str, parent: Any, name: Any, *,
                 multiline: bool = False) -> None:
    """Refuse control characters (newline and tab in a multi-line field excepted) and
    lone surrogates (``cstool.text_rules``)."""
    bad = control_char(value, multiline=multiline)
    if bad is not None:
        allowed = " (newline and tab are allowed)" if multiline else ""
        raise _err(path, f"contains a control character {describe_char(bad)}; text may "
                   f"not hold control characters{allowed}", parent, name,
                   code="field_control_lines" if multiline else "field_control",
                   char=describe_char(bad))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _err(path, "is not valid UTF-8 text (a lone surrogate)", parent, name,
                   code="field_not_utf8") from None


def _plain_text(value: Any, path: str, parent: Any, name: Any) -> Any:
    """Every text (mapping names too) inside a JSON field, checked like a one-line text
    field, and the field no deeper than JSON may nest (``cstool.json_limits``)."""
    if value_depth(value) > MAX_JSON_DEPTH:
        raise _err(path, f"nested too deeply (at most {MAX_JSON_DEPTH} levels)", parent, name,
                   code="field_too_deep", MAX_JSON_DEPTH=MAX_JSON_DEPTH)
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            _no_controls(v, path, parent, name)
        elif isinstance(v, dict):
            for k, x in v.items():
                if isinstance(k, str):
                    _no_controls(k, path, parent, name)
                stack.append(x)
        elif isinstance(v, list):
            stack.extend(v)
    return value


def _typename(value: Any) -> str:
    if value is None:
        return "nothing"
    for kind, name in ((bool, "true/false"), (int, "a whole number"), (float, "a number"),
                       (str, "text"), (list, "a list"), (dict, "a mapping")):
        if isinstance(value, kind):  # the YAML loader's line-keeping subclasses too
            return name
    return type(value).__name__


INT_LIMIT = 2**53  # an exact number in JSON clients too; far inside SQLite's 2**63


def _range(num: float, f: Field, path: str, parent: Any, shown: Any = None) -> None:
    shown = num if shown is None else shown
    if f.min is not None and num < f.min:
        raise _err(path, f"must be >= {_num(f.min)} (got {shown})", parent, f.name,
                   code="field_below_min", num=_num(f.min), shown=shown)
    if f.max is not None and num > f.max:
        raise _err(path, f"must be <= {_num(f.max)} (got {shown})", parent, f.name,
                   code="field_above_max", num=_num(f.max), shown=shown)
    if abs(num) > INT_LIMIT:  # what SQLite can store, whatever the field allows
        raise _err(path, f"too large (at most {INT_LIMIT:,} in size, got {shown})", parent,
                   f.name, code="field_too_large", INT_LIMIT=INT_LIMIT, shown=shown)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _slug(value: Any, path: str, parent: Any, name: str) -> str:
    if not isinstance(value, str):
        raise _err(path, f"expected a key (text), got {_typename(value)}", parent, name,
                   code="field_key_not_text", got=_typename(value))
    if not SLUG_RE.match(value):
        raise _err(
            path,
            f"{value!r} is not a valid key (lowercase letters, digits, - _ . ; at most 64)",
            parent,
            name, code="field_bad_slug", value=value)
    return value


def _value(f: Field, value: Any, path: str, parent: Any, zone: str | None) -> Any:
    """Validate one present, non-null value and return its internal form."""
    t = f.type
    if t == "str":
        return _check_text(value, f, path, parent)
    if t in ("slug", "ref"):
        return _slug(value, path, parent, f.name)
    if t == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _err(path, f"expected a whole number, got {_typename(value)}", parent, f.name,
                       code="field_not_int", got=_typename(value))
        _range(value, f, path, parent)
        return value
    if t == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _err(path, f"expected a number, got {_typename(value)}", parent, f.name,
                       code="field_not_number", got=_typename(value))
        _range(value, f, path, parent)
        return value
    if t == "money":
        try:
            cents = parse_money(value)
        except ValueError as e:
            raise _value_error(path, e, parent, f.name) from None
        if f.min is not None and cents < f.min * 100:
            raise _err(path, f"must be >= {_num(f.min)} (got {value})", parent, f.name,
                       code="field_money_below_min", num=_num(f.min), value=value)
        if abs(cents) > INT_LIMIT:
            raise _err(path, f"too large (got {value})", parent, f.name,
                       code="field_money_too_large", value=value)
        return cents
    if t == "bool":
        if not isinstance(value, bool):
            raise _err(path, f"expected true or false, got {_typename(value)}", parent, f.name,
                       code="field_not_bool", got=_typename(value))
        return value
    if t == "time":
        try:
            return parse_time(value, zone)
        except (ValueError, OverflowError, OSError) as e:
            raise _value_error(path, e, parent, f.name) from None
    if t == "enum":
        if not isinstance(value, str) or value not in f.choices:
            raise _err(path, f"{value!r} is not one of: {', '.join(f.choices)}", parent, f.name,
                       code="field_not_one_of", value=value, choices=", ".join(f.choices))
        return value
    if t in ("strlist", "reflist"):
        if not isinstance(value, list):
            raise _err(path, f"expected a list, got {_typename(value)}", parent, f.name,
                       code="field_not_list", got=_typename(value))
        out = []
        for i, item in enumerate(value):
            ipath = f"{path}[{i}]"
            if t == "reflist":
                item = _slug(item, ipath, parent, f.name)
            else:
                if not isinstance(item, str):
                    raise _err(ipath, f"expected text, got {_typename(item)}", parent, f.name,
                               code="field_not_text_item", got=_typename(item))
                _no_controls(item, ipath, parent, f.name, multiline=f.multiline)
                if len(item) > f.item_max_len:
                    raise _err(ipath, f"too long (at most {f.item_max_len} characters)",
                               parent, f.name,
                               code="field_item_too_long", item_max_len=f.item_max_len)
                if f.choices and item not in f.choices:
                    raise _err(
                        ipath, f"{item!r} is not one of: {', '.join(f.choices)}", parent, f.name,
                        code="field_item_not_one_of", item=repr(item), join=', '.join(f.choices))
            if item in out:
                raise _err(ipath, f"{item!r} is listed twice", parent, f.name,
                           code="field_listed_twice", item=repr(item))
            out.append(item)
        return out
    if t == "attrs":
        if not isinstance(value, dict):
            raise _err(path, f"expected a mapping, got {_typename(value)}", parent, f.name,
                       code="field_not_mapping", got=_typename(value))
        out = {}
        for k, v in value.items():
            kpath = f"{path}.{k}"
            if not isinstance(k, str) or len(k) > 64:
                raise _err(kpath, "attribute names are text of at most 64 characters", value, k,
                           code="field_attr_name")
            _plain_text([k, v], kpath, value, k)
            if isinstance(v, list):
                if not all(isinstance(x, str | int | float) and not isinstance(x, bool) for x in v):
                    raise _err(kpath, "expected text or a list of texts", value, k,
                               code="field_attr_not_texts")
                out[k] = [str(x) for x in v]
            elif isinstance(v, str | int | float) and not isinstance(v, bool):
                out[k] = str(v)
            else:
                raise _err(kpath, f"expected text or a list, got {_typename(v)}", value, k,
                           code="field_attr_not_text", got=_typename(v))
        return out
    if t == "records":
        if not isinstance(value, list):
            raise _err(path, f"expected a list, got {_typename(value)}", parent, f.name,
                       code="field_not_list", got=_typename(value))
        return [_record(f.fields, item, f"{path}[{i}]", zone) for i, item in enumerate(value)]
    if t == "record":
        return _record(f.fields, value, path, zone)
    if t == "hours":
        if not isinstance(value, dict):
            raise _err(path, f"expected a mapping of days, got {_typename(value)}", parent, f.name,
                       code="field_hours_not_mapping", got=_typename(value))
        out = {}
        for day, span in value.items():
            dpath = f"{path}.{day}"
            if day not in WEEKDAYS:
                raise _err(dpath, f"unknown day (use {', '.join(WEEKDAYS)})", value, day,
                           code="field_unknown_day", join=', '.join(WEEKDAYS))
            if span != "closed" and not (isinstance(span, str) and HHMM_RANGE.match(span)):
                raise _err(dpath, f"expected 'HH:MM-HH:MM' or 'closed', got {span!r}", value, day,
                           code="field_bad_hours", span=repr(span))
            out[day] = span
        return out
    if t == "settings":
        return _settings(value, path, parent)
    if t == "json":
        if not isinstance(value, dict | list):
            raise _err(path, f"expected a mapping, got {_typename(value)}", parent, f.name,
                       code="field_not_mapping", got=_typename(value))
        return _plain(_plain_text(value, path, parent, f.name))
    raise AssertionError(f"unknown field type {t}")


def _plain(value: Any) -> Any:
    """Plain dicts and lists (no line-keeping subclasses), for storage and comparison."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _settings(value: Any, path: str, parent: Any) -> dict:
    if not isinstance(value, dict):
        raise _err(path, f"expected a mapping, got {_typename(value)}", parent, "settings",
                   code="field_not_mapping", got=_typename(value))
    # Settings whose default is None are optional: left out until set.
    out = {k: v for k, v in SHOP_SETTINGS_DEFAULTS.items() if v is not None}
    for k, v in value.items():
        kpath = f"{path}.{k}"
        if k not in SHOP_SETTINGS_DEFAULTS:
            raise _err(
                kpath,
                f"unknown setting (known: {', '.join(SHOP_SETTINGS_DEFAULTS)})",
                value,
                k, code="field_unknown_setting", join=', '.join(SHOP_SETTINGS_DEFAULTS))
        if k == "quiet_hours":
            if v is not None and not (isinstance(v, str) and HHMM_RANGE.match(v)):
                raise _err(kpath, f"expected 'HH:MM-HH:MM' or null, got {v!r}", value, k,
                           code="field_bad_quiet_hours", v=repr(v))
        elif k.startswith("bot_"):
            if v is None:
                out.pop(k, None)
                continue
            v = _bot_setting(k, v, kpath, value)
        elif k in ("holidays", "workdays"):
            if v is None:
                out.pop(k, None)
                continue
            v = _calendar_setting(k, v, kpath, value)
        elif isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise _err(kpath, f"expected a positive whole number, got {v!r}", value, k,
                       code="field_not_positive", v=repr(v))
        out[k] = v
    if (out.get("bot_suggest_threshold") is not None
            and out.get("bot_answer_threshold") is not None
            and out["bot_suggest_threshold"] > out["bot_answer_threshold"]):
        raise _err(f"{path}.bot_suggest_threshold",
                   "must not be above bot_answer_threshold", value, "bot_suggest_threshold",
                   code="field_suggest_above_answer")
    return out


def _calendar_setting(k: str, v: Any, kpath: str, parent: Any) -> Any:
    """Holidays: a list of ISO dates; workdays (调休): ISO date -> weekday (mon..sun)."""
    from datetime import date

    def day(text: Any) -> str:
        try:
            return date.fromisoformat(text).isoformat()
        except (TypeError, ValueError):
            raise _err(kpath, f"expected a date like 2026-10-01, got {text!r}", parent,
                       k, code="field_bad_date", text=repr(text)) from None

    if k == "holidays":
        if not isinstance(v, list):
            raise _err(kpath, f"expected a list of dates, got {_typename(v)}", parent, k,
                       code="field_holidays_not_list", got=_typename(v))
        return sorted({day(x) for x in v})
    if not isinstance(v, dict):
        raise _err(kpath, f"expected a mapping of dates to weekdays, got {_typename(v)}",
                   parent, k, code="field_workdays_not_mapping", got=_typename(v))
    out = {}
    for d, w in v.items():
        if w not in WEEKDAYS:
            raise _err(kpath, f"{d}: expected a weekday ({', '.join(WEEKDAYS)}), got {w!r}",
                       parent, k, code="field_bad_weekday", d=d, join=', '.join(WEEKDAYS),
                       w=repr(w))
        out[day(d)] = w
    return dict(sorted(out.items()))


def _bot_setting(k: str, v: Any, kpath: str, parent: Any) -> Any:
    """The knowledge bot's shop settings: thresholds 0..1, synonym groups, phrases.

    Synonym groups are kept as ``"快递|物流|快件"`` texts; a single text may hold
    several groups separated by ``;``. Phrases may be a list or one ``a|b`` text.
    """
    if k in ("bot_answer_threshold", "bot_suggest_threshold"):
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise _err(kpath, f"expected a number from 0 to 1, got {v!r}", parent, k,
                       code="field_not_fraction", v=repr(v))
        return float(v)
    if k == "bot_synonyms":
        groups = v.replace("\n", ";").split(";") if isinstance(v, str) else v
        if not isinstance(groups, list):
            raise _err(kpath, f"expected a list of 'a|b|c' groups, got {_typename(v)}", parent, k,
                       code="field_synonyms_not_list", got=_typename(v))
        out = []
        for i, g in enumerate(groups):
            words = g if isinstance(g, list) else (g.split("|") if isinstance(g, str) else None)
            if words is None or not all(isinstance(w, str) for w in words):
                raise _err(f"{kpath}[{i}]", "expected 'a|b|c' or a list of words", parent, k,
                           code="field_bad_synonym_group")
            words = [w.strip() for w in words if w.strip()]
            for w in words:
                _no_controls(w, f"{kpath}[{i}]", parent, k)
            if not words:
                continue
            if len(words) < 2 or any(len(w) > 64 for w in words):
                raise _err(f"{kpath}[{i}]", "a group needs two or more words of at most 64 "
                           "characters", parent, k, code="field_synonym_group_size")
            out.append("|".join(words))
        return out
    phrases = v.split("|") if isinstance(v, str) else v
    if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
        raise _err(kpath, "expected a list of phrases", parent, k, code="field_phrases_not_list")
    phrases = [p.strip() for p in phrases if p.strip()]
    for p in phrases:
        _no_controls(p, kpath, parent, k)
    if any(len(p) > 64 for p in phrases):
        raise _err(kpath, "a phrase has at most 64 characters", parent, k,
                   code="field_phrase_too_long")
    return phrases


def _record(fields: tuple[Field, ...], rec: Any, path: str, zone: str | None) -> dict:
    if not isinstance(rec, dict):
        raise FieldError(path, f"expected a mapping, got {_typename(rec)}", line_of(rec),
                         key="field_not_mapping", got=_typename(rec))
    known = {f.name for f in fields}
    for k in rec:
        if k not in known:
            hint = (" (YAML reads a bare off/on/yes/no as true/false: quote the name, "
                    "e.g. 'off')" if isinstance(k, bool) else "")
            raise _err(
                f"{path}.{k}" if path else str(k),
                f"unknown field (known: {', '.join(f.name for f in fields)}){hint}",
                rec,
                k, code="field_unknown", join=', '.join(f.name for f in fields), hint=hint)
    out: dict[str, Any] = {}
    for f in fields:
        fpath = f"{path}.{f.name}" if path else f.name
        value = rec.get(f.name, MISSING)
        if value is MISSING or value is None:
            if f.required:
                raise FieldError(fpath, "is required", line_of(rec, f.name),
                                 key="field_required")
            if f.default is not MISSING:
                out[f.name] = _value(f, copy.deepcopy(f.default), fpath, rec, zone)
            else:
                out[f.name] = None
            continue
        out[f.name] = _value(f, value, fpath, rec, zone)
    return out


def to_internal(kind: Kind, record: Any, path: str = "") -> dict:
    """Validate an external record and return its internal form.

    Raises FieldError naming the field (and the line when the record came from a file).
    """
    zone = None
    if kind.name == "shops" and isinstance(record, dict):
        tz = record.get("timezone")
        zone = tz if isinstance(tz, str) else None
    rec = _record(kind.fields, record, path, zone)
    _check_kind_rules(kind, rec, record, path)
    return rec


def _check_kind_rules(kind: Kind, rec: dict, raw: Any, path: str) -> None:
    """Rules that span fields of one record."""

    def fail(fname: str, message: str, *, code: str, **params: object) -> None:
        raise FieldError(f"{path}.{fname}" if path else fname, message, line_of(raw, fname),
                         key=code, **params)

    if kind.name == "shops":
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
        from .routing import Rule

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
    from .campaigns.templates import misfits, variables_of

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


def check_refs(kind: Kind, rec: dict, lookup: Lookup, raw: Any = None, path: str = "") -> None:
    """Check every reference of an internal record through ``lookup(kind, key)``.

    ``lookup`` returns a small dict (with ``shop`` for shop-scoped kinds) or None.
    Also checks that shop-scoped references stay inside the record's shop.
    """
    p = f"{path}." if path else ""

    def missing(fpath: str, ref_kind: str, key: str, line: int | None) -> FieldError:
        return FieldError(fpath, f"unknown {ref_kind[:-1]} {key!r}", line,
                          key="field_unknown_ref", kind=ref_kind[:-1], record=key)

    def need(ref_kind: str, key: str, fpath: str, line: int | None) -> dict:
        found = lookup(ref_kind, key)
        if found is None:
            raise missing(fpath, ref_kind, key, line)
        return found

    def works_for(found: dict, key: str, in_shop: str | None, fpath: str,
                  line: int | None, admin_ok: bool = False) -> None:
        """A shop's record names only agents of that shop (an escalation may go to an
        admin, who works for every shop): never another shop's agent."""
        if in_shop is None or in_shop in (found.get("shops") or []):
            return
        if admin_ok and found.get("role") == "admin":
            return
        raise FieldError(fpath, f"agent {key!r} does not work for shop {in_shop!r}", line,
                         key="field_agent_not_in_shop", the_key=key, in_shop=in_shop)

    shop = rec.get("shop") if kind.shop_field else None
    for f in kind.fields:
        value = rec.get(f.name)
        if value is None:
            continue
        line = line_of(raw, f.name)
        if f.type == "ref":
            found = need(f.ref, value, f"{p}{f.name}", line)
            if f.ref == "agents":
                works_for(found, value, shop, f"{p}{f.name}", line,
                          admin_ok=f.name == "escalate_to")
        elif f.type == "reflist":
            for i, key in enumerate(value):
                found = need(f.ref, key, f"{p}{f.name}[{i}]", line)
                if shop and found.get("shop") and found["shop"] != shop:
                    raise FieldError(
                        f"{p}{f.name}[{i}]", f"{key!r} belongs to shop {found['shop']!r}", line,
                                     key="field_key_other_shop", the_key=key, shop=found['shop'])
        elif f.type in ("records", "record"):
            items = value if f.type == "records" else [value]
            for i, item in enumerate(items):
                ipath = f"{p}{f.name}[{i}]" if f.type == "records" else f"{p}{f.name}"
                for sub in f.fields:
                    if sub.type == "ref" and item.get(sub.name) is not None:
                        found = need(sub.ref, item[sub.name], f"{ipath}.{sub.name}", line)
                        item_shop = shop or item.get("shop")
                        if sub.ref == "agents":
                            works_for(found, item[sub.name], item_shop, f"{ipath}.{sub.name}",
                                      line)
                        if item_shop and found.get("shop") and found["shop"] != item_shop:
                            raise FieldError(
                                f"{ipath}.{sub.name}",
                                f"{item[sub.name]!r} belongs to shop {found['shop']!r}",
                                line,
                                             key="field_value_other_shop", value=item[sub.name],
                                             shop=found['shop'])
    if kind.name == "agents":
        for i, g in enumerate(rec["groups"]):
            gshop = lookup("groups", g)["shop"]
            if gshop not in rec["shops"]:
                raise FieldError(
                    f"{p}groups[{i}]",
                    f"group {g!r} belongs to shop {gshop!r}, which is not among the agent's shops",
                    line_of(raw, "groups"), key="field_group_other_shop", g=g, gshop=gshop)
    if kind.name == "routing_rules":
        target = rec["target"]
        line = line_of(raw, "target")
        group = target.get("group")
        if group is not None:
            found = need("groups", group, f"{p}target.group", line)
            if found.get("shop") != shop:
                raise FieldError(f"{p}target.group",
                                 f"group {group!r} belongs to shop {found.get('shop')!r}", line,
                                 key="field_group_shop", group=group, get=found.get('shop'))
        agent = target.get("agent")
        if isinstance(agent, str) and not agent.startswith("$"):
            found = need("agents", agent, f"{p}target.agent", line)
            if shop not in (found.get("shops") or []):
                raise FieldError(f"{p}target.agent",
                                 f"agent {agent!r} does not work for shop {shop!r}", line,
                                 key="field_agent_not_in_shop2", agent=agent, shop=shop)
    if kind.name == "quick_replies" and rec.get("agent"):
        found = need("agents", rec["agent"], f"{p}agent", line_of(raw, "agent"))
        if shop not in (found.get("shops") or []):
            raise FieldError(f"{p}agent", f"agent {rec['agent']!r} does not work for shop "
                             f"{shop!r}", line_of(raw, "agent"),
                             key="field_agent_not_in_shop2", agent=rec['agent'], shop=shop)
    if kind.name == "customers":
        shops = {pr["shop"] for pr in rec["profiles"]}
        for i, c in enumerate(rec["coupons"]):
            cshop = lookup("coupons", c["coupon"])["shop"]
            if cshop not in shops:
                raise FieldError(
                    f"{p}coupons[{i}].coupon",
                    f"coupon {c['coupon']!r} is of shop {cshop!r}, where the customer has no "
                    "profile",
                    line_of(raw, "coupons"),
                                 key="field_coupon_other_shop", coupon=c['coupon'], cshop=cshop)
    if kind.name in ("campaigns", "cart_items"):
        for name in ("coupon", "product"):
            key = rec.get(name)
            if key is not None:
                found = lookup(f"{name}s", key)
                if found.get("shop") != shop:
                    raise FieldError(f"{p}{name}", f"{name} {key!r} belongs to shop "
                                     f"{found.get('shop')!r}", line_of(raw, name),
                                     key="field_record_other_shop", name=name, the_key=key,
                                     get=found.get('shop'))
        if kind.name == "cart_items" and rec["price"] is None:
            rec["price"] = lookup("products", rec["product"]).get("price", 0)
    if kind.name == "orders":
        total = 0
        for item in rec["items"]:
            if item["price"] is None:
                item["price"] = lookup("products", item["product"]).get("price", 0)
            total += item["price"] * item["quantity"]
        if rec["discount"] > total:
            raise FieldError(
                f"{p}discount",
                f"discount {format_money(rec['discount'])} exceeds the items' total "
                f"{format_money(total)}",
                line_of(raw, "discount"),
                             key="field_discount_over_total",
                             format_money=format_money(rec['discount']),
                             format_money2=format_money(total))


def to_external(kind: Kind, rec: dict) -> dict:
    """The external (fixture / JSON) form of an internal record, empty optionals left out."""
    return _external_fields(kind.fields, rec)


def _external_fields(fields: tuple[Field, ...], rec: dict) -> dict:
    out: dict[str, Any] = {}
    for f in fields:
        value = rec.get(f.name)
        if (
            value is None
            or (value == [] and not f.required)
            or (value == {} and f.type != "settings")
        ):
            continue
        if f.type == "money":
            value = format_money(value)
        elif f.type == "time":
            value = format_time(value)
        elif f.type == "records":
            value = [_external_fields(f.fields, item) for item in value]
        elif f.type == "record":
            value = _external_fields(f.fields, value)
        out[f.name] = value
    return out
