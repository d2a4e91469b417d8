"""The Chinese line breaker and cutter (cstool.cjk_wrap), measured in terminal cells."""

from __future__ import annotations

import pytest
from rich.cells import cell_len

from cstool.cjk_wrap import NO_END, NO_START, break_offsets, cut, wrap


@pytest.mark.parametrize("text", [
    "这个会话不在你这里（只读），不能回复：Ctrl+↓ 回到我的会话",
    "您好，请问这条裙子有M码吗？我平时穿M码，身高165，体重52公斤。",
    "当前排队第 1 位，预计等待约 3 分钟。",
    "「限时」满200减20的券，今天23:59到期！",
    "international shipping to 上海市浦东新区 takes 3 days",
])
@pytest.mark.parametrize("width", [1, 2, 3, 7, 11, 16, 23, 40])
def test_lines_fit_keep_every_character_and_obey_the_punctuation_rules(text, width):
    lines = wrap(text, width)
    assert all(cell_len(line) <= max(width, 2) for line in lines), lines
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    if width >= 4:
        for line in lines[1:]:
            assert line[:1] not in NO_START, (width, lines)
        for line in lines[:-1]:
            assert line[-1:] not in NO_END, (width, lines)


def test_a_question_mark_never_starts_a_line():
    assert wrap("这条裙子有M码吗？", 16) == ["这条裙子有M码", "吗？"]


def test_spaces_inside_chinese_text_are_not_breaks():
    lines = wrap("当前排队第 1 位，预计等待约 3 分钟。", 11)
    assert any("第 1 位" in line for line in lines), lines
    assert not any(line.endswith("1") for line in lines)
    assert not any(line.startswith("位") for line in lines)


def test_latin_words_and_amounts_stay_whole_when_they_fit():
    assert wrap("hello world again", 11) == ["hello world", "again"]
    assert any("¥2,471.50" in line for line in wrap("销售额 ¥2,471.50 元", 10))


def test_opening_bracket_goes_with_what_follows():
    assert wrap("请稍等（我查一下）", 8) == ["请稍等", "（我查一", "下）"]


def test_newlines_are_kept_and_offsets_point_into_the_text():
    text = "第一行\n\n第二行很长很长"
    assert wrap(text, 6) == ["第一行", "", "第二行", "很长很", "长"]
    assert [text[a:b] for a, b in break_offsets(text, 6)] == wrap(text, 6)


@pytest.mark.parametrize(("text", "width", "want"), [
    ("短", 5, "短"),
    ("这是一段很长的客户留言", 9, "这是一段…"),
    ("这是一段很长的客户留言", 10, "这是一段…"),
    ("international shipping", 16, "international…"),
    ("abc（def", 5, "abc…"),
    ("多行\n文本", 20, "多行 文本"),
])
def test_cut_fits_the_cells_and_ends_with_an_ellipsis(text, width, want):
    got = cut(text, width)
    assert got == want
    assert cell_len(got) <= width
