"""The bounds of the operations' whole-number arguments, in one table.

The core refuses a number outside its bounds (``check_whole``, called by the services
where they read the argument, after the records it names are found), with a stable key
naming the argument's rule, so every front end and every backend answers the same
refusal. The server only states these bounds in its OpenAPI document: it does not
enforce them itself, so a request past them reaches the core and gets the core's answer.

Every number is also at most ``JSON_EXACT`` (2**53, what JSON numbers carry exactly):
larger ones are refused (``number_too_big``), never passed to the storage, whose
integers stop at 2**63. An id past any id the store can hold is simply not found
(``cstool.storage.ids``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import UsageError

JSON_EXACT = 2**53


@dataclass(frozen=True)
class Bound:
    """Whole numbers from ``minimum`` to ``maximum`` (None: ``JSON_EXACT``); ``key`` is
    the refusal's stable key (its catalog text takes ``name``, ``minimum``, ``maximum``)."""

    minimum: int
    maximum: int | None
    key: str


# by argument name; where one operation differs, by (operation, name)
BOUNDS: dict[Any, Bound] = {
    "limit": Bound(1, None, "limit_below_one"),
    "k": Bound(1, 100, "k_range"),
    "position": Bound(1, None, "position_below_one"),
    "after": Bound(0, None, "after_negative"),
    "due_within_s": Bound(0, None, "due_within_negative"),
}


def bound(name: str, op: str | None = None) -> Bound | None:
    """The bound of argument ``name`` (of operation ``op``), or None."""
    return BOUNDS.get((op, name), BOUNDS.get(name))


def check_whole(name: str, value: Any, op: str | None = None) -> int:
    """``value`` as the whole number argument ``name`` takes (see ``BOUNDS``); a
    UsageError with the bound's key when it is not a whole number within them, with
    ``number_too_big`` past ``JSON_EXACT``."""
    b = bound(name, op)
    if b is None:
        raise KeyError(name)
    top = JSON_EXACT if b.maximum is None else b.maximum
    whole = not isinstance(value, bool) and isinstance(value, int)
    if whole and value > JSON_EXACT:
        raise UsageError(f"{name} must be at most {JSON_EXACT}, not {value!r}",
                         key="number_too_big", name=name, maximum=JSON_EXACT)
    if not whole or not b.minimum <= value <= top:
        if b.maximum is None:
            text = f"{name} must be a whole number of at least {b.minimum}, not {value!r}"
        else:
            text = f"{name} must be a whole number from {b.minimum} to {b.maximum}, " \
                   f"not {value!r}"
        raise UsageError(text, key=b.key, name=name, minimum=b.minimum,
                         maximum=top, **{name: value})
    return value
