"""How an operation's arguments become typed request parameters (path, query, body) for
FastAPI's validation and the OpenAPI document: whole numbers that JSON carries exactly,
times as ISO 8601 text or epoch milliseconds, the bounds of each argument."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from ..api.operations import Arg
from .schema_rules import ISO_TIME, TIME_ARGS, TIME_RANGE

INT_RANGE = {"ge": -(2**53), "le": 2**53}  # what JSON numbers carry exactly


def _whole(value: Any) -> Any:
    """An integer-valued float (``3504023.0``) as the integer it is: JSON Schema's
    ``integer`` takes it, so the server does too (``3.5`` and ``true`` stay refused)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


def _digits(value: Any) -> Any:
    """Text of ASCII digits alone (a query parameter's ``0``) as the number it is; empty
    text is no time (refused, as the document's pattern says)."""
    if value == "":
        raise ValueError("a time is ISO 8601 text or epoch milliseconds, not empty")
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 16:
        return int(value)
    return value


JSON_INT = Annotated[int, Field(**INT_RANGE), BeforeValidator(_whole)]


def _annotation(arg: Arg, *, body: bool = False, bounds: dict | None = None,
                array: dict | None = None, json_range: bool = True) -> Any:
    """The request annotation of ``arg``: whole numbers within what JSON carries exactly
    unless ``json_range`` is false (the core checks the number's range itself)."""
    exact = INT_RANGE if json_range else {}
    base = {dict: dict[str, Any], list: list[dict[str, Any]]}.get(arg.type, arg.type)
    if array is not None:  # what the array takes, stated (schema_rules.array_schema)
        base = Annotated[base, Field(json_schema_extra=array)]
    if base == str | int and arg.name in TIME_ARGS:
        # a time: ISO 8601 text (its form stated) or epoch milliseconds; digits alone (a
        # query's "0") are the number
        base = Annotated[Annotated[str, Field(json_schema_extra={"pattern": ISO_TIME})]
                         | Annotated[int, Field(**TIME_RANGE), BeforeValidator(_whole)],
                         BeforeValidator(_digits)]
    elif base is int and body:
        base = Annotated[int, Field(**{**exact, **(bounds or {})}),
                         BeforeValidator(_whole)]
    elif base == str | int and body:
        base = str | (Annotated[int, Field(**{**INT_RANGE, **(bounds or {})}),
                                BeforeValidator(_whole)] if bounds else JSON_INT)
    if arg.default is None or arg.http_optional:
        return base | None if base is not Any else Any
    return base

