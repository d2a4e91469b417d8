"""The operators of routing conditions and which field types each applies to: one small
table that the condition language (``conditions``) and the field catalogue (``fields``)
both read, so neither imports the other for it."""

from __future__ import annotations

OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le", "in", "not_in", "contains", "contains_any",
             "matches", "exists")

_NUMERIC_OPS = ("eq", "ne", "gt", "ge", "lt", "le", "in", "not_in", "exists")
_TEXT_OPS = ("eq", "ne", "in", "not_in", "contains", "contains_any", "matches", "exists")
#: Which operators apply to which field type.
OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "int": _NUMERIC_OPS,
    "number": _NUMERIC_OPS,
    "bool": ("eq", "ne", "exists"),
    "str": _TEXT_OPS,
    "handle": _TEXT_OPS,
    "enum": ("eq", "ne", "in", "not_in", "exists"),
    "list": ("contains", "contains_any", "exists"),
}
