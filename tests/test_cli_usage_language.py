"""CLI usage errors and refused control characters in the interface language, chosen by
the error's class and key (never its English text), each one line with its exit code."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("lang,expected", [
    ("zh", "错误：缺少参数 'status'。可选：online, busy, away, offline"
           "（见 'cstool agent status --help'）\n"),
    ("en", "Error: Missing argument 'status'. Choose from: online, busy, away, offline "
           "(see 'cstool agent status --help')\n"),
])
def test_a_missing_status_is_one_line_in_the_language(cli, monkeypatch, lang, expected):
    monkeypatch.setenv("CSTOOL_LANG", lang)
    result = cli("agent", "status", "a")
    assert result.exit_code == 2 and result.stderr == expected and result.stdout == ""


def test_an_unknown_option_and_a_bad_value_in_chinese(cli, monkeypatch):
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    result = cli("shop", "list", "--bogus")
    assert result.exit_code == 2
    assert result.stderr == "错误：没有这个选项：--bogus（见 'cstool shop list --help'）\n"
    result = cli("conv", "list", "--limit", "0")
    assert result.exit_code == 2 and result.stderr.startswith("错误：'--limit' 的值无效：")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("lang,expected", [
    ("zh", "错误：name：含有控制字符 U+001B (ESC)；文本里不能有控制字符\n"),
    ("en", "Error: name: contains a control character U+001B (ESC); text may not hold "
           "control characters\n"),
])
def test_a_control_character_is_refused_in_the_language(cli, monkeypatch, lang, expected):
    monkeypatch.setenv("CSTOOL_LANG", lang)
    result = cli("customer", "create", "c77777", "--name", "\x1b[31mRED\x07")
    assert result.exit_code == 1 and result.stderr == expected
    assert cli("customer", "list", "--json").stdout.strip() == "[]"  # nothing stored
