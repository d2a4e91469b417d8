"""Limits on structured input, checked before it is parsed: how deep JSON may nest.

Python's ``json`` and PyYAML's composer recurse once per level, so a body of a few
thousand ``[`` ends in a RecursionError far from where it came in. Every path that
parses outside data (the server's bodies, ``apply -f``, CLI options holding JSON,
knowledge files) counts the nesting first with ``check_depth`` (a linear scan that
skips string contents) and refuses anything deeper than ``MAX_JSON_DEPTH`` with one
error, ``TooDeep`` (code ``too_deep``; HTTP 400, exit 1). YAML is limited where it is
composed (``cstool.declarative``), since block style nests without brackets.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import TooDeep

MAX_JSON_DEPTH = 64  # the deepest real document (a routing rule in apply) is about 10

_TOKENS_STR = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_TOKENS_BYTES = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPEN_STR, _OPEN_BYTES = ("[", "{"), (b"[", b"{")


def json_depth(text: str | bytes, stop_after: int | None = None) -> int:
    """How deep ``text`` nests arrays and objects (brackets inside strings do not
    count). Stops counting once past ``stop_after`` (the caller's limit)."""
    is_bytes = isinstance(text, bytes | bytearray)
    if is_bytes:
        opens = text.count(b"[") + text.count(b"{")
    else:
        opens = text.count("[") + text.count("{")
    if stop_after is not None and opens <= stop_after:
        return opens  # cannot nest deeper than it has brackets (an upper bound)
    pattern, open_ = (_TOKENS_BYTES, _OPEN_BYTES) if is_bytes else (_TOKENS_STR, _OPEN_STR)
    depth = deepest = 0
    for m in pattern.finditer(text):
        token = m.group()
        if token in open_:
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_after is not None and deepest > stop_after:
                    return deepest
        elif len(token) == 1:
            depth = max(0, depth - 1)
    return deepest


def check_depth(text: str | bytes, source: str = "the input",
                limit: int = MAX_JSON_DEPTH) -> None:
    """Raise TooDeep if ``text`` nests deeper than ``limit``."""
    if json_depth(text, stop_after=limit) > limit:
        raise TooDeep(too_deep_message(source, limit))


def too_deep_message(source: str, limit: int = MAX_JSON_DEPTH) -> str:
    """The one wording of the depth error."""
    return f"{source}: nested too deeply (at most {limit} levels of lists and mappings)"


def loads(text: str | bytes, source: str = "the input") -> Any:
    """``json.loads`` after the depth check (ValueError for bad JSON, TooDeep)."""
    check_depth(text, source)
    return json.loads(text)


def value_depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of an already parsed value (iterative; stops past ``limit``)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            items = v.values()
        elif isinstance(v, list | tuple):
            items = v
        else:
            continue
        deepest = max(deepest, d)
        if deepest > limit:
            return deepest
        stack.extend((x, d + 1) for x in items)
    return deepest
