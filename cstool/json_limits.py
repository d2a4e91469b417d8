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
from typing import Any

from .errors import TooDeep

MAX_JSON_DEPTH = 64  # the deepest real document (a routing rule in apply) is about 10

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_BRACKETS_OR_QUOTES = bytes(b for b in range(256) if b not in b'[]{}"')
_AS_PARENS = bytes.maketrans(b"[]{}", b"()()")


def json_depth(text: str | bytes, stop_after: int | None = None) -> int:
    """How deep ``text`` nests arrays and objects (brackets inside strings do not
    count). Stops counting once past ``stop_after`` (the caller's limit).

    Linear, with every step in C: escaped backslashes and quotes are dropped, the
    string contents (every other piece between quotes) cut out, everything but
    brackets dropped, then the innermost pairs are removed once per level (so at most
    ``stop_after + 1`` passes). Brackets left unpaired (not JSON) count as levels."""
    data = text if isinstance(text, bytes | bytearray) else \
        text.encode("utf-8", "surrogatepass")
    opens = data.count(b"[") + data.count(b"{")
    if stop_after is not None and opens <= stop_after:
        return opens  # cannot nest deeper than it has brackets (an upper bound)
    if b'"' in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
        data = data.translate(None, _NOT_BRACKETS_OR_QUOTES)
        data = b"".join(data.split(b'"')[::2])
    data = data.translate(_AS_PARENS, _NOT_BRACKETS)  # "[" and "{" alike: "("
    depth = 0
    while data:
        if stop_after is not None:
            if depth > stop_after:
                return depth
            # a run of openers nests at least that deep: found in C, not pass by pass
            if b"(" * (stop_after - depth + 1) in data:
                return stop_after + 1
        shorter = data.replace(b"()", b"")  # one level: replace does not cascade
        if len(shorter) == len(data):  # unpaired brackets: each opener a level
            return depth + data.count(b"(")
        data = shorter
        depth += 1
    return depth


def check_depth(text: str | bytes, source: str = "the input",
                limit: int = MAX_JSON_DEPTH) -> None:
    """Raise TooDeep if ``text`` nests deeper than ``limit``."""
    if json_depth(text, stop_after=limit) > limit:
        raise TooDeep(too_deep_message(source, limit),
                      key="too_deep_at", at=str(source), limit=limit)


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
