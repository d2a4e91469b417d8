"""What free text and keys may hold, and how text is shown safely on a terminal.

Text from outside (a customer's message, a product title from a merchant's file, a
reply through the API) is stored and later printed by the CLI and drawn by the
console. A control character in it (ESC starting a terminal sequence, BEL, a carriage
return that overwrites the line) would drive the terminal of whoever looks. So:

- ``check_text`` refuses C0 and C1 control characters (and DEL) in every text field;
  newline and tab only where a field is multi-line (messages, answers, notes, bodies);
  never a lone surrogate. Every path in (CLI, ``apply``, the API, the widget) goes
  through the core validation that calls it.
- ``check_key`` is the one rule for keys of every kind: no control characters, no
  surrounding whitespace (so ``"mb-bib-001\\n"`` cannot make a look-alike record).
- ``terminal_safe`` escapes whatever is printed anyway (old files, remote servers):
  controls become visible escapes such as ``\\x1b``.
"""

from __future__ import annotations

import re

from .errors import InvalidInput

# C0 controls, DEL and C1 controls; newline and tab are decided per field.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_LINES = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# also the Unicode line / paragraph separators and bidi overrides, which reorder what
# a terminal shows (a file name "txt.exe" spelt backwards)
_INVISIBLE = re.compile(r"[\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def control_char(text: str, *, multiline: bool = False) -> str | None:
    """The first character ``text`` may not hold (None: none)."""
    m = (_CONTROL if multiline else _CONTROL_OR_LINES).search(text) or _INVISIBLE.search(text)
    return m.group() if m else None


def describe_char(ch: str) -> str:
    """A control character named for a one-line error: ``U+001B (ESC)``."""
    names = {"\x00": "NUL", "\x07": "BEL", "\x08": "BS", "\t": "TAB", "\n": "newline",
             "\r": "carriage return", "\x1b": "ESC", "\x7f": "DEL"}
    name = names.get(ch)
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


def check_text(text: str, what: str, *, multiline: bool = False) -> str:
    """Raise InvalidInput if ``text`` holds a control character (newline and tab are
    allowed when ``multiline``) or a lone surrogate; return it unchanged."""
    bad = control_char(text, multiline=multiline)
    if bad is not None:
        allowed = " (newline and tab are allowed)" if multiline else ""
        raise InvalidInput(f"{what}: contains a control character {describe_char(bad)}; "
                           f"text may not hold control characters{allowed}",
                           key="text_control_lines" if multiline else "text_control",
                           what=what, char=describe_char(bad))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what}: is not valid UTF-8 text (a lone surrogate)",
                           key="text_not_utf8", what=what) from None
    return text


MAX_LABEL_CHARS = 32  # a conversation label (售后-破损, 大促 …)


def check_label(label: object) -> str:
    """A conversation label: text of 1 to 32 characters (spaces around it dropped), no
    control characters or line breaks; returns it as stored."""
    if not isinstance(label, str) or not label.strip():
        raise InvalidInput("label is empty", key="label_empty")
    check_text(label, "label")
    label = label.strip()
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidInput(f"label too long ({len(label)} characters, at most "
                           f"{MAX_LABEL_CHARS})", key="label_too_long", length=len(label),
                           max=MAX_LABEL_CHARS)
    return label


def key_problem(key: str) -> str | None:
    """Why ``key`` is not usable as a record key (None: it is)."""
    if not key or not key.strip():
        return "is empty"
    if key != key.strip():
        return "has spaces or line breaks around it"
    bad = control_char(key)
    if bad is not None:
        return f"contains a control character {describe_char(bad)}"
    return None


def check_key(key: str, what: str = "key") -> str:
    """Raise InvalidInput if ``key`` has control characters or surrounding whitespace."""
    problem = key_problem(key)
    if problem is not None:
        raise InvalidInput(f"{what} {key!r} {problem}",
                           key="bad_key_text", what=what, the_key=repr(key), problem=problem)
    return key


_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(m: re.Match) -> str:
    ch = m.group()
    code = ord(ch)
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str, *, keep_lines: bool = False) -> str:
    """``text`` with every control character shown as a visible escape (ESC as
    ``\\x1b``), so printing it cannot move the cursor, recolour or retitle the
    terminal. ``keep_lines`` keeps newlines and tabs (a multi-line view); else they
    become ``\\n`` and ``\\t`` too (a table cell, a TSV field)."""
    if not isinstance(text, str):
        return text
    pattern = _UNSAFE if keep_lines else _UNSAFE_ONE_LINE
    if not pattern.search(text):
        return text
    return pattern.sub(_escape, text)
