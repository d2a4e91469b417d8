"""Reading gettext ``.po`` catalogs and compiling them to the ``.mo`` form, in memory.

The subset cstool's catalogs use: comments, ``msgctxt``-free singular entries, strings
continued over several quoted lines, the C escapes ``\\n \\t \\" \\\\``. The compiled form
is the GNU ``.mo`` layout that :class:`gettext.GNUTranslations` reads.
"""

from __future__ import annotations

import struct

_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "r": "\r"}


class PoError(ValueError):
    """A ``.po`` file that does not parse (the line number is in the message)."""


def _unquote(text: str, line_no: int) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise PoError(f"line {line_no}: expected a quoted string, got {text[:40]!r}")
    body, out, i = text[1:-1], [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            if i + 1 >= len(body) or body[i + 1] not in _ESCAPES:
                raise PoError(f"line {line_no}: unknown escape in {text[:40]!r}")
            out.append(_ESCAPES[body[i + 1]])
            i += 2
            continue
        if ch == '"':
            raise PoError(f"line {line_no}: unescaped quote in {text[:40]!r}")
        out.append(ch)
        i += 1
    return "".join(out)


def read_po(text: str) -> dict[str, str]:
    """The entries of a ``.po`` file: msgid → msgstr (the header under ``""``). Raises
    PoError on a syntax error or a message id given twice."""
    entries: dict[str, str] = {}
    msgid: str | None = None
    msgstr: str | None = None
    field: str | None = None

    def flush(line_no: int) -> None:
        nonlocal msgid, msgstr, field
        if msgid is not None:
            if msgstr is None:
                raise PoError(f"line {line_no}: msgid {msgid!r} has no msgstr")
            if msgid in entries:
                raise PoError(f"line {line_no}: msgid {msgid!r} given twice")
            entries[msgid] = msgstr
        msgid = msgstr = field = None

    for line_no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("msgid "):
            flush(line_no)
            msgid, field = _unquote(line[6:], line_no), "msgid"
        elif line.startswith("msgstr "):
            if msgid is None or msgstr is not None:
                raise PoError(f"line {line_no}: msgstr without its msgid")
            msgstr, field = _unquote(line[7:], line_no), "msgstr"
        elif line.startswith('"'):
            if field == "msgid":
                msgid = (msgid or "") + _unquote(line, line_no)
            elif field == "msgstr":
                msgstr = (msgstr or "") + _unquote(line, line_no)
            else:
                raise PoError(f"line {line_no}: a string outside an entry")
        else:
            raise PoError(f"line {line_no}: cannot read {line[:40]!r} (only singular entries)")
    flush(len(text.splitlines()) + 1)
    return entries


def compile_mo(entries: dict[str, str]) -> bytes:
    """The GNU ``.mo`` bytes of ``entries`` (msgid → msgstr, UTF-8). A missing header
    gets one saying the charset."""
    entries = dict(entries)
    entries.setdefault("", "Content-Type: text/plain; charset=UTF-8\n")
    keys = sorted(entries)
    ids = [k.encode("utf-8") for k in keys]
    strs = [entries[k].encode("utf-8") for k in keys]
    n = len(keys)
    header = 7 * 4
    ids_table = header
    strs_table = ids_table + n * 8
    data_start = strs_table + n * 8
    offsets: list[tuple[int, int]] = []
    blob = b""
    for b in ids + strs:
        offsets.append((len(b), data_start + len(blob)))
        blob += b + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, n, ids_table, strs_table, 0, data_start)
    for length, offset in offsets:
        out += struct.pack("<2I", length, offset)
    return out + blob
