"""Type-to-filter matching for Chinese lists: the letters typed may be the characters
themselves or the pinyin initials of Chinese characters ("fh" finds 发货, "kfp" finds
可以开发票吗 as 开发票), in order, case-blind, with gaps allowed.

Every reading of a character with several counts (行 is x and h), so a search never
depends on guessing the reading. The initials come from pypinyin's dictionary.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=8192)
def _initials(ch: str) -> frozenset[str]:
    """The pinyin initials of one Chinese character (empty for anything else)."""
    if not ("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff"):
        return frozenset()
    from pypinyin import Style, pinyin

    readings = pinyin(ch, style=Style.FIRST_LETTER, heteronym=True, errors="ignore")
    return frozenset(r[0].lower() for group in readings for r in group if r)


@lru_cache(maxsize=4096)
def _letters(text: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """Each character of ``text`` (lower case) with its pinyin initials."""
    low = text.lower()
    return tuple((ch, _initials(ch)) for ch in low)


def fuzzy_match(query: str, text: str) -> bool:
    """True when every character of ``query`` (spaces ignored) appears in ``text`` in
    order, each as itself or as the pinyin initial of a Chinese character."""
    letters = _letters(text)
    pos = 0
    for ch in query.lower():
        if ch.isspace():
            continue
        while pos < len(letters) and ch != letters[pos][0] and ch not in letters[pos][1]:
            pos += 1
        if pos == len(letters):
            return False
        pos += 1
    return True
