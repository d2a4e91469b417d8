"""The routing condition language: validate, evaluate with a reason, compile for speed.

A condition is plain data (JSON/YAML friendly)::

    {"all": [cond, ...]}        every child matches (an empty list matches everything)
    {"any": [cond, ...]}        at least one child matches (must not be empty)
    {"not": cond}               the child does not match
    {"field": "customer.level", "op": "ge", "value": 3}     a leaf test

``None`` or ``{}`` matches everything; a plain list of conditions is shorthand
for ``all``. Fields must be in ``KNOWN_FIELDS``.

Operators (``OPERATORS``):

=============  ==============================================================
eq, ne         equal / not equal (``value: null`` means "not set")
gt ge lt le    numeric comparison; an unset field never matches
in, not_in     the field's value is / is not one of a list
contains       substring of a text field (case-insensitive), or member of a list field
contains_any   any of a list of keywords appears in the text (no spaces needed:
               ``[发货, 物流]`` matches ``我的快递什么时候发货啊``), or any of a list
               of values is in a list field
matches        regular expression search (Python ``re``) over a text field
exists         the field is set: not None, not "" and not []; ``value: false`` inverts
=============  ==============================================================

:func:`evaluate` returns ``(matched, reason)`` with the reason in plain words
(``customer.level = 1, needs >= 3``); :func:`compile_condition` returns a fast
predicate with exactly the same result, used by the engine on the hot path.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from typing import Any

from cstool.errors import InvalidInput
from cstool.routing.fields import KNOWN_FIELDS, FieldSpec, format_known_fields
from cstool.routing.operators import OPERATORS, OPERATORS_BY_TYPE

__all__ = [
    "KNOWN_FIELDS",
    "OPERATORS",
    "OPERATORS_BY_TYPE",
    "Predicate",
    "RuleError",
    "Condition",
    "compile_condition",
    "condition_leaves",
    "evaluate",
    "format_known_fields",
    "validate_condition",
]


_SYMBOLS = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_LEAF_KEYS = frozenset({"field", "op", "value"})
_LIST_TYPES = (list, tuple, set, frozenset)

Predicate = Callable[[Mapping[str, Any]], bool]
#: A condition as data: a mapping, or a list meaning "all of these".
Condition = Mapping[str, Any] | list[Any]


class RuleError(InvalidInput, ValueError):
    """A condition, target or rule that does not fit the format (a ``ValueError``,
    and a ``CstoolError`` so every front end shows it as a one-line error)."""


# --------------------------------------------------------------------------- validation

def validate_condition(cond: Any, path: str = "conditions") -> None:
    """Check a condition; raise ``ValueError`` with a one-line message naming the path.

    Example message: ``conditions.all[2].op: unknown operator 'gte' (known: eq, ne, ...)``.
    ``None`` and ``{}`` are valid (they match everything).
    """
    if cond is None:
        return
    if isinstance(cond, list):  # shorthand for {"all": [...]}
        for i, sub in enumerate(cond):
            if not isinstance(sub, Mapping | list) or not sub:
                raise RuleError(f"{path}[{i}]: must be a non-empty condition",
                                key="rule_item_empty", the_path=str(path), i=i)
            validate_condition(sub, f"{path}[{i}]")
        return
    if not isinstance(cond, Mapping):
        raise RuleError(f"{path}: must be a mapping like {{field, op, value}} or "
                         f"{{all: [...]}}, got {_type_name(cond)}",
                        key="rule_condition_not_mapping", the_path=str(path),
                        type_name=_type_name(cond))
    if not cond:
        return
    keys = set(cond)
    combinators = keys & {"all", "any", "not"}
    if combinators:
        if len(keys) > 1:
            raise RuleError(f"{path}: use exactly one of all/any/not or field/op/value, "
                             f"got keys {', '.join(sorted(keys))}",
                            key="rule_condition_mixed", the_path=str(path),
                            join=', '.join(sorted(keys)))
        (kind,) = combinators
        child = cond[kind]
        if kind == "not":
            if not isinstance(child, Mapping | list) or not child:
                raise RuleError(f"{path}.not: must be a non-empty condition",
                                key="rule_not_empty", the_path=str(path))
            validate_condition(child, f"{path}.not")
            return
        if not isinstance(child, list):
            raise RuleError(f"{path}.{kind}: must be a list of conditions, "
                             f"got {_type_name(child)}",
                            key="rule_children_not_list", the_path=str(path), kind=kind,
                            type_name=_type_name(child))
        if kind == "any" and not child:
            raise RuleError(f"{path}.any: must not be empty (an empty 'any' never matches)",
                            key="rule_any_empty", the_path=str(path))
        for i, sub in enumerate(child):
            if not isinstance(sub, Mapping | list) or not sub:
                raise RuleError(f"{path}.{kind}[{i}]: must be a non-empty condition",
                                key="rule_child_empty", the_path=str(path), kind=kind, i=i)
            validate_condition(sub, f"{path}.{kind}[{i}]")
        return
    unknown = keys - _LEAF_KEYS
    if unknown:
        raise RuleError(f"{path}: unknown key {sorted(unknown)[0]!r} "
                         f"(a condition has field/op/value, or all/any/not)",
                        key="rule_condition_unknown_key", the_path=str(path),
                        value=sorted(unknown)[0])
    _validate_leaf(cond, path)


def _validate_leaf(cond: Mapping[str, Any], path: str) -> None:
    field = cond.get("field")
    if not isinstance(field, str) or not field:
        raise RuleError(f"{path}.field: required (e.g. customer.level)",
                        key="rule_field_required", the_path=str(path))
    spec = KNOWN_FIELDS.get(field)
    if spec is None:
        close = difflib.get_close_matches(field, KNOWN_FIELDS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else " (see the list of known fields)"
        raise RuleError(f"{path}.field: unknown field {field!r}{hint}",
                        key="rule_unknown_field", the_path=str(path), field=field, hint=hint)
    op = cond.get("op")
    if not isinstance(op, str) or not op:
        raise RuleError(f"{path}.op: required (one of {', '.join(OPERATORS)})",
                        key="rule_op_required", the_path=str(path), join=', '.join(OPERATORS))
    if op not in OPERATORS:
        raise RuleError(f"{path}.op: unknown operator {op!r} (known: {', '.join(OPERATORS)})",
                        key="rule_unknown_op", the_path=str(path), op=op,
                        join=', '.join(OPERATORS))
    allowed = OPERATORS_BY_TYPE[spec.type]
    if op not in allowed:
        raise RuleError(f"{path}.op: operator {op!r} does not apply to {field} ({spec.type}); "
                         f"use one of {', '.join(allowed)}",
                        key="rule_op_not_for_field", the_path=str(path), op=op, field=field,
                        type=spec.type, join=', '.join(allowed))
    vpath = f"{path}.value"
    if op == "exists":
        if "value" in cond and not isinstance(cond["value"], bool):
            raise RuleError(f"{vpath}: exists takes true or false, "
                             f"got {_type_name(cond['value'])}",
                            key="rule_exists_bool", vpath=vpath,
                            type_name=_type_name(cond['value']))
        return
    if "value" not in cond:
        raise RuleError(f"{vpath}: required for operator {op!r}",
                        key="rule_value_required", vpath=vpath, op=op)
    value = cond["value"]
    if op in ("eq", "ne"):
        if value is not None:
            _check_scalar(spec, field, value, vpath)
    elif op in _SYMBOLS:
        if value is None:
            raise RuleError(f"{vpath}: {op} needs a number, got null",
                            key="rule_op_needs_number", vpath=vpath, op=op)
        _check_scalar(spec, field, value, vpath)
    elif op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise RuleError(f"{vpath}: {op} needs a non-empty list, got {_type_name(value)}",
                            key="rule_op_needs_list", vpath=vpath, op=op,
                            type_name=_type_name(value))
        for i, item in enumerate(value):
            _check_scalar(spec, field, item, f"{vpath}[{i}]")
    elif op == "contains":
        if not isinstance(value, str) or not value:
            raise RuleError(f"{vpath}: contains needs a non-empty string, "
                             f"got {_type_name(value)}",
                            key="rule_contains_needs_text", vpath=vpath,
                            type_name=_type_name(value))
    elif op == "contains_any":
        if not isinstance(value, list) or not value:
            raise RuleError(f"{vpath}: contains_any needs a non-empty list of keywords, "
                             f"got {_type_name(value)}",
                            key="rule_contains_any_needs_list", vpath=vpath,
                            type_name=_type_name(value))
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise RuleError(f"{vpath}[{i}]: keywords must be non-empty strings, "
                                 f"got {_type_name(item)}",
                                key="rule_keyword_not_text", vpath=vpath, i=i,
                                type_name=_type_name(item))
    elif op == "matches":
        if not isinstance(value, str) or not value:
            raise RuleError(f"{vpath}: matches needs a regular expression string, "
                             f"got {_type_name(value)}",
                            key="rule_matches_needs_regex", vpath=vpath,
                            type_name=_type_name(value))
        try:
            re.compile(value)
        except re.error as exc:
            raise RuleError(f"{vpath}: bad regular expression {value!r}: {exc}",
                            key="rule_bad_regex", vpath=vpath, value=value, exc=str(exc)) from None


def _check_scalar(spec: FieldSpec, field: str, value: Any, path: str) -> None:
    kind = spec.type
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise RuleError(f"{path}: {field} is a whole number, got {_show_value(value)}",
                            key="rule_value_not_int", the_path=str(path), field=field,
                            show_value=_show_value(value))
        if (spec.low is not None and value < spec.low) or (
                spec.high is not None and value > spec.high):
            bounds = f"{spec.low}..{spec.high}" if spec.high is not None else f">= {spec.low}"
            raise RuleError(f"{path}: {value} is out of range for {field} ({bounds})",
                            key="rule_value_out_of_range", the_path=str(path), value=value,
                            field=field, bounds=bounds)
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RuleError(f"{path}: {field} is a number, got {_show_value(value)}",
                            key="rule_value_not_number", the_path=str(path), field=field,
                            show_value=_show_value(value))
    elif kind == "bool":
        if not isinstance(value, bool):
            raise RuleError(f"{path}: {field} is true or false, got {_show_value(value)}",
                            key="rule_value_not_bool", the_path=str(path), field=field,
                            show_value=_show_value(value))
    elif kind == "enum":
        if value not in spec.choices:
            raise RuleError(f"{path}: {_show_value(value)} is not a valid {field} "
                             f"(one of {', '.join(spec.choices)})",
                            key="rule_value_not_choice", the_path=str(path),
                            show_value=_show_value(value), field=field,
                            join=', '.join(spec.choices))
    elif not isinstance(value, str):  # str, handle, list elements
        raise RuleError(f"{path}: {field} takes text, got {_show_value(value)}",
                        key="rule_value_not_text", the_path=str(path), field=field,
                        show_value=_show_value(value))


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a mapping"
    return type(value).__name__


def _show_value(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return _type_name(value)


# --------------------------------------------------------------------------- leaf tests

def _present(x: Any) -> bool:
    if x is None or x == "":
        return False
    return not (isinstance(x, _LIST_TYPES) and len(x) == 0)


def _make_test(spec: FieldSpec, op: str, value: Any) -> Callable[[Any], bool]:
    """Return a test of one field value; the single source of each operator's meaning."""
    text_field = spec.type in ("str", "handle")
    if op == "eq":
        return lambda x: x == value
    if op == "ne":
        return lambda x: x != value
    if op in _SYMBOLS:
        compare = {"gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
                   "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}[op]

        def cmp_test(x: Any) -> bool:
            if x is None or isinstance(x, str):
                return False
            try:
                return bool(compare(x, value))
            except TypeError:
                return False
        return cmp_test
    if op in ("in", "not_in"):
        try:
            options: frozenset[Any] | tuple[Any, ...] = frozenset(value)
        except TypeError:
            options = tuple(value)
        negate = op == "not_in"

        def in_test(x: Any) -> bool:
            try:
                hit = x in options
            except TypeError:  # an unhashable fact is not one of the options
                hit = False
            return hit != negate
        return in_test
    if op == "contains":
        if text_field:
            needle = value.casefold()
            return lambda x: isinstance(x, str) and needle in x.casefold()
        folded = _fold(value)  # tags: VIP matches vip, as text does
        return lambda x: isinstance(x, _LIST_TYPES) and any(_fold(i) == folded for i in x)
    if op == "contains_any":
        if text_field:
            needles = tuple(dict.fromkeys(k.casefold() for k in value))

            def any_text(x: Any) -> bool:
                if not isinstance(x, str):
                    return False
                text = x.casefold()
                for needle in needles:
                    if needle in text:
                        return True
                return False
            return any_text
        wanted = frozenset(_fold(v) for v in value)

        def any_list(x: Any) -> bool:
            if not isinstance(x, _LIST_TYPES):
                return False
            for item in x:
                if _fold(item) in wanted:
                    return True
            return False
        return any_list
    if op == "matches":
        pattern = re.compile(value)
        return lambda x: isinstance(x, str) and pattern.search(x) is not None
    if op == "exists":
        if value is False:
            return lambda x: not _present(x)
        return _present
    raise ValueError(f"unknown operator {op!r}")


def _always(_facts: Mapping[str, Any]) -> bool:
    return True


def compile_condition(cond: Condition | None) -> Predicate:
    """Compile a *validated* condition into a fast ``predicate(facts) -> bool``.

    The result equals ``evaluate(cond, facts)[0]`` for every facts dict; the
    engine uses it on the hot path and calls :func:`evaluate` only for reasons.
    """
    if not cond:
        return _always
    if isinstance(cond, list):
        cond = {"all": cond}
    if "all" in cond:
        parts = tuple(compile_condition(c) for c in cond["all"])
        if not parts:
            return _always
        if len(parts) == 1:
            return parts[0]

        def all_of(facts: Mapping[str, Any]) -> bool:
            for part in parts:
                if not part(facts):
                    return False
            return True
        return all_of
    if "any" in cond:
        parts = tuple(compile_condition(c) for c in cond["any"])
        if len(parts) == 1:
            return parts[0]

        def any_of(facts: Mapping[str, Any]) -> bool:
            for part in parts:
                if part(facts):
                    return True
            return False
        return any_of
    if "not" in cond:
        inner = compile_condition(cond["not"])
        return lambda facts: not inner(facts)
    field, op, value = cond["field"], cond["op"], cond.get("value", True)
    # The two commonest tests, inlined; everything else goes through _make_test.
    if op == "eq":
        return lambda facts: facts.get(field) == value
    if op == "ne":
        return lambda facts: facts.get(field) != value
    test = _make_test(KNOWN_FIELDS[field], op, value)
    return lambda facts: test(facts.get(field))


def condition_leaves(cond: Condition | None) -> list[Mapping[str, Any]]:
    """Return the leaves every match requires: the leaf itself, or the leaf children
    of a top-level ``all``. Used to build the engine's rule index."""
    if not cond:
        return []
    if isinstance(cond, list):
        cond = {"all": cond}
    if "field" in cond:
        return [cond]
    if "all" in cond:
        return [c for c in cond["all"] if isinstance(c, Mapping) and "field" in c]
    return []


# --------------------------------------------------------------------------- evaluate

def evaluate(cond: Condition | None, facts: Mapping[str, Any]) -> tuple[bool, str]:
    """Evaluate a validated condition; return ``(matched, reason)``.

    The reason says in plain words why it matched or why not, e.g.
    ``customer.level = 1, needs >= 3`` or ``message.text contains 发货 (one of 发货, 物流)``.
    For ``all`` a miss names the first failing part; for ``any`` a miss lists every part.
    """
    if not cond:
        return True, "no conditions (matches everything)"
    if isinstance(cond, list):
        cond = {"all": cond}
    if "all" in cond:
        parts = cond["all"]
        if not parts:
            return True, "no conditions (matches everything)"
        reasons = []
        for part in parts:
            ok, reason = evaluate(part, facts)
            if not ok:
                return False, reason
            reasons.append(reason)
        return True, "; ".join(reasons)
    if "any" in cond:
        misses = []
        for part in cond["any"]:
            ok, reason = evaluate(part, facts)
            if ok:
                return True, reason
            misses.append(reason)
        if len(misses) == 1:
            return False, misses[0]
        return False, "none of: " + "; ".join(f"({m})" for m in misses)
    if "not" in cond:
        ok, reason = evaluate(cond["not"], facts)
        if ok:
            return False, f"excluded because {reason}"
        return True, reason
    return _evaluate_leaf(cond, facts)


def _fold(value: Any) -> Any:
    """Text compared without case (list items, as text fields are); others as they are."""
    return value.casefold() if isinstance(value, str) else value


def _fmt(value: Any, limit: int = 40) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        if value == "":
            return "''"
        return value if len(value) <= limit else value[: limit - 1] + "…"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):  # days since last served: 2.29, not 2.2902891435185184
        return f"{value:.2f}".rstrip("0").rstrip(".")
    if isinstance(value, _LIST_TYPES):
        return ", ".join(_fmt(v) for v in value) if value else "none"
    return str(value)


def _evaluate_leaf(cond: Mapping[str, Any], facts: Mapping[str, Any]) -> tuple[bool, str]:
    field, op = cond["field"], cond["op"]
    value = cond.get("value", True)
    spec = KNOWN_FIELDS[field]
    x = facts.get(field)
    ok = _make_test(spec, op, value)(x)
    now = f"{field} = {_fmt(x)}" if x is not None else f"{field} is not set"
    if op == "eq":
        if value is None:
            return ok, (f"{field} is not set" if ok else f"{now}, needs it unset")
        return ok, (now if ok else f"{now}, needs {_fmt(value)}")
    if op == "ne":
        if value is None:
            return ok, (f"{now}" if ok else f"{field} is not set, needs it set")
        return ok, (f"{now}, not {_fmt(value)}" if ok
                    else f"{now}, needs anything but {_fmt(value)}")
    if op in _SYMBOLS:
        symbol = _SYMBOLS[op]
        if ok:
            return True, f"{now}, is {symbol} {_fmt(value)}"
        if x is not None and not isinstance(x, int | float):
            return False, f"{field} = {x!r} is not a number, needs {symbol} {_fmt(value)}"
        return False, f"{now}, needs {symbol} {_fmt(value)}"
    if op == "in":
        return ok, (f"{now}, one of {_fmt(value)}" if ok
                    else f"{now}, needs one of {_fmt(value)}")
    if op == "not_in":
        return ok, (f"{now}, none of {_fmt(value)}" if ok
                    else f"{now}, needs none of {_fmt(value)}")
    text_field = spec.type in ("str", "handle")
    if op == "contains":
        if text_field:
            if ok:
                return True, f"{field} contains {_fmt(value)}"
            if x is None:
                return False, f"{field} is not set, needs to contain {_fmt(value)}"
            return False, f"{field} does not contain {_fmt(value)}"
        if ok:
            return True, f"{field} has {_fmt(value)}"
        return False, f"{field} ({_fmt(x)}) lacks {_fmt(value)}"
    if op == "contains_any":
        if text_field:
            if ok:
                text = x.casefold()
                hit = next(k for k in value if k.casefold() in text)
                return True, f"{field} contains {hit} (one of {_fmt(value)})"
            if x is None:
                return False, f"{field} is not set, needs one of {_fmt(value)}"
            return False, f"{field} contains none of {_fmt(value)}"
        if ok:
            have = {_fold(i) for i in x}
            hit = next(k for k in value if _fold(k) in have)
            return True, f"{field} has {_fmt(hit)} (one of {_fmt(value)})"
        return False, f"{field} ({_fmt(x)}) has none of {_fmt(value)}"
    if op == "matches":
        if ok:
            return True, f"{field} matches /{value}/"
        if x is None:
            return False, f"{field} is not set, needs to match /{value}/"
        return False, f"{field} does not match /{value}/"
    # exists
    if value is False:
        return ok, (f"{field} is not set" if ok else f"{now}, needs it unset")
    return ok, (f"{field} is set ({_fmt(x)})" if ok else f"{field} is not set")
