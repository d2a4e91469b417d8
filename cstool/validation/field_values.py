"""One record's field values checked against the resource spec and turned into their
internal form: text, numbers, slugs, money, times, nested records, and the shop settings
(calendar and bot settings included)."""

from __future__ import annotations

import copy
import re
from typing import Any

from ..json_limits import MAX_JSON_DEPTH, value_depth
from ..resources import MISSING, SHOP_SETTINGS_DEFAULTS, WEEKDAYS, Field
from ..text_rules import control_char, describe_char, key_problem
from ..values import SLUG_RE, parse_money, parse_time
from .errors import FieldError, _err, _typename, _value_error, line_of

MAX_TEXT = 5000  # longest free text (answers, details) anywhere in a record
HHMM_RANGE = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


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
        elif k == "qa":
            if v is None:
                out.pop(k, None)
                continue
            v = _qa_setting(v, kpath, value)
        elif k in ("bot_cover_after_s", "labels"):
            if v is None:
                out.pop(k, None)
                continue
            v = _desk_setting(k, v, kpath, value)
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


def _desk_setting(k: str, v: Any, kpath: str, parent: Any) -> Any:
    """The bot's cover of human_first chats (seconds of estimated wait) and the shop's
    conversation labels (a list of distinct short texts)."""
    if k == "bot_cover_after_s":
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise _err(kpath, f"expected a positive whole number, got {v!r}", parent, k,
                       code="field_not_positive", v=repr(v))
        return v
    from ..errors import InvalidInput
    from ..text_rules import check_label

    if not isinstance(v, list):
        raise _err(kpath, f"expected a list of labels, got {_typename(v)}", parent, k,
                   code="field_labels_not_list", got=_typename(v))
    out: list[str] = []
    for item in v:
        try:
            label = check_label(item)
        except InvalidInput as e:
            raise _err(kpath, f"bad label {item!r}: {e}", parent, k,
                       code="field_bad_label", label=repr(item), why=str(e)) from None
        if label not in out:
            out.append(label)
    return out


def _qa_setting(v: Any, kpath: str, parent: Any) -> dict:
    """The quality-inspection rules of a shop (``cstool.qa.rules.check_setting``)."""
    from ..qa.rules import RulesError, check_setting

    try:
        return check_setting(v)
    except RulesError as e:
        raise _err(kpath, str(e), parent, "qa", code=f"field_{e.code}", **e.fields) from None


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


_EXPECTED = {"bot_embeddings_url": "an http(s) URL",
             "bot_embeddings_model": "a model name",
             "bot_embeddings_key_env": "the name of an environment variable"}


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
    if k == "bot_embeddings_timeout":
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 60:
            raise _err(kpath, f"expected seconds above 0 and at most 60, got {v!r}", parent,
                       k, code="field_bad_timeout", v=repr(v))
        return float(v)
    if k in ("bot_embeddings_url", "bot_embeddings_model", "bot_embeddings_key_env"):
        pattern = {"bot_embeddings_url": r"https?://[^\s/]+(/\S*)?",
                   "bot_embeddings_model": r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,99}",
                   "bot_embeddings_key_env": r"[A-Za-z_][A-Za-z0-9_]{0,99}"}[k]
        if not isinstance(v, str) or len(v) > 500 or not re.fullmatch(pattern, v.strip()):
            raise _err(kpath, f"expected {_EXPECTED[k]}, got {v!r}", parent, k,
                       code="field_bad_endpoint_setting", what=_EXPECTED[k], v=repr(v))
        return v.strip()
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
