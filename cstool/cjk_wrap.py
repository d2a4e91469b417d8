"""Line breaking and cutting for Chinese text on a terminal, measured in cells.

Rules (the common subset of GB/T 15834 and JIS X 4051 "kinsoku"):

* a line may break between two Chinese characters, and at a space between Latin words;
* a line never starts with closing punctuation (，。、？！：；）」』】》… and their ASCII
  forms) and never ends with opening punctuation (（「『【《 ¥ …): such a character moves
  to the next line together with its neighbour;
* a space next to a Chinese character is not a break ("当前排队第 1 位" stays together
  around its number), nor is anything inside a Latin word or number ("¥2,471.50");
* a piece wider than the whole line is broken at the last character that fits.

Widths come from ``rich.cells.cell_len``, the measure the terminal front ends draw with.
"""

from __future__ import annotations

from rich.cells import cell_len

# No line starts with these.
NO_START = set("，。、？！：；）」』】》〉〕］｝〗〙”’…‥・·～ー％‰℃°"
               ",.!?:;)]}>%") | {"\u3001", "\u3002"}
# No line ends with these.
NO_END = set("（「『【《〈〔［｛〖〘“‘¥￥$＄#＃@" "([{<")
ELLIPSIS = "…"


def is_wide(char: str) -> bool:
    """True for a character drawn two cells wide (Chinese, full-width forms)."""
    return cell_len(char) == 2


def _units(text: str, glue_spaces: bool = True) -> list[str]:
    """``text`` (one line, no newline) as pieces no line may break inside, each with
    the spaces that follow it (``glue_spaces=False``: a space next to a Chinese character
    is a break too, the fallback for a piece wider than the line)."""
    units: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == " ":
            # leading spaces (or spaces glued below) stay with what comes before
            if units:
                units[-1] += ch
            else:
                units.append(ch)
            i += 1
            continue
        if is_wide(ch) or ch in NO_START or ch in NO_END:
            j = i + 1
        else:  # a Latin word or a number: up to the next space or wide character
            j = i + 1
            while j < n and text[j] != " " and not is_wide(text[j]) and text[j] not in NO_END:
                j += 1
        units.append(text[i:j])
        i = j
    # Glue: closing punctuation to what precedes, opening punctuation to what follows, and
    # a space next to a Chinese character to both sides.
    glued: list[str] = []
    join_next = False
    for unit in units:
        head = unit.lstrip(" ")[:1] or unit[:1]
        if glued and (join_next or head in NO_START
                       or (glue_spaces and _cjk_space(glued[-1], unit))):
            glued[-1] += unit
        else:
            glued.append(unit)
        core = glued[-1].rstrip(" ")
        join_next = bool(core) and core[-1] in NO_END and not glued[-1].endswith(" ")
    return glued


def _cjk_space(before: str, unit: str) -> bool:
    """Whether the space(s) ending ``before`` sit next to a Chinese character (then it is
    spacing inside Chinese text, not a place to break)."""
    if not before.endswith(" ") or not before.strip(" "):
        return False
    left = before.rstrip(" ")[-1]
    right = unit.lstrip(" ")[:1]
    return is_wide(left) or (bool(right) and is_wide(right))


def _hard_split(unit: str, width: int) -> list[str]:
    """A piece wider than the line, in slices of at most ``width`` cells (a wide character
    alone on a 1-cell line still takes its own line)."""
    out, line, used = [], "", 0
    for ch in unit:
        w = cell_len(ch)
        if line and used + w > width:
            out.append(line)
            line, used = "", 0
        line += ch
        used += w
    if line:
        out.append(line)
    return out


def _pack(units: list[str], width: int, lines: list[str], fallback: bool,
          line: str = "") -> str:
    """Put ``units`` on lines of ``width`` cells after ``line`` (full lines go to
    ``lines``); returns the last, unfinished line. A unit wider than a line is split at
    its weaker breaks (``fallback``), then by cells."""
    used = cell_len(line)
    for unit in units:
        core = unit.rstrip(" ")
        w_core, w_all = cell_len(core), cell_len(unit)
        if used + w_core <= width:
            line += unit
            used += w_all
            continue
        inner = _units(core, glue_spaces=False) if fallback and w_core > width else []
        if len(inner) > 1:
            line = _pack(inner, width, lines, False, line) + unit[len(core):]
            used = cell_len(line)
            continue
        if line.strip(" "):
            lines.append(line.rstrip(" "))
        if w_core <= width:
            line, used = unit, w_all
            continue
        *full, last = _hard_split(core, width)
        lines.extend(full)
        line, used = last + unit[len(core):], cell_len(last) + (w_all - w_core)
    return line


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` cells by the rules above; newlines
    in ``text`` are kept, spaces at a break are dropped. Always at least one line."""
    width = max(1, width)
    lines: list[str] = []
    for para in text.split("\n"):
        lines.append(_pack(_units(para), width, lines, True).rstrip(" "))
    return lines


def break_offsets(text: str, width: int) -> list[tuple[int, int]]:
    """Where ``wrap`` breaks ``text``: (start, end) character offsets of each line in
    ``text`` (the dropped spaces and newlines fall between them), for styled text."""
    spans: list[tuple[int, int]] = []
    pos = 0
    for line in wrap(text, width):
        start = text.find(line, pos) if line else pos
        spans.append((start, start + len(line)))
        pos = start + len(line)
    return spans


def cut(text: str, width: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` on one line of at most ``width`` cells: whole if it fits, else cut and
    ended with ``ellipsis``. A cut inside a Latin word goes back to the word's start when
    that keeps at least half the line; opening punctuation never ends the cut text."""
    text = text.replace("\n", " ")
    if cell_len(text) <= width:
        return text
    room = width - cell_len(ellipsis)
    if room <= 0:
        return ellipsis[:max(0, width)]
    kept, used = "", 0
    for ch in text:
        w = cell_len(ch)
        if used + w > room:
            break
        kept += ch
        used += w
    rest = text[len(kept):]
    if kept and rest and kept[-1].isalnum() and rest[0].isalnum() and not is_wide(rest[0]):
        start = len(kept)
        while start > 0 and kept[start - 1].isalnum() and not is_wide(kept[start - 1]):
            start -= 1
        if start > 0 and cell_len(kept[:start]) * 2 >= room:
            kept = kept[:start]
    kept = kept.rstrip(" ")
    while kept and kept[-1] in NO_END:
        kept = kept[:-1].rstrip(" ")
    return kept + ellipsis
