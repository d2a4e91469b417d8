"""The one WHERE-clause builder: conditions and their parameters, kept side by side."""

from __future__ import annotations

from typing import Any


class Where:
    """Conditions joined by AND, each with its ``?`` parameters.

    >>> w = Where().add("state = ?", "queued").add("shop_id IN (?, ?)", 1, 2)
    >>> w.sql(), w.params
    ('WHERE state = ? AND shop_id IN (?, ?)', ['queued', 1, 2])
    """

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.params: list[Any] = []

    def add(self, condition: str, *params: Any) -> Where:
        """Add one condition; returns self so calls chain."""
        if condition.count("?") != len(params):
            raise ValueError(f"{condition!r} takes {condition.count('?')} parameters, "
                             f"got {len(params)}")
        self.conditions.append(condition)
        self.params.extend(params)
        return self

    def add_if(self, value: Any, condition: str, *params: Any) -> Where:
        """Add ``condition`` only when ``value`` is not None (a filter that was given)."""
        if value is not None:
            self.add(condition, *params)
        return self

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def sql(self, *, keyword: str = "WHERE", empty: str = "") -> str:
        """The clause (``WHERE a AND b``), or ``empty`` when there is no condition."""
        if not self.conditions:
            return empty
        return f"{keyword} " + " AND ".join(self.conditions)
