"""The CLI's own output in one language at a time: table headers on a terminal, the
lines that say what was done, "no such command"; --json (and the tab-separated form
for scripts) the same in both languages."""

from __future__ import annotations

import json
import re

import pytest

import commands.output as output

SHOP = ["shop", "create", "s", "--name", "翎衣女装"]


@pytest.fixture
def terminal(monkeypatch):
    """stdout counts as a terminal: tables are drawn, not tab-separated."""
    monkeypatch.setattr(output, "is_terminal", lambda: True)


def latin_words(text: str, allowed: set[str]) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in allowed}


@pytest.mark.parametrize("lang,header,none", [
    ("zh", ["键", "名称", "模式", "3分钟目标"], "（无）"),
    ("en", ["key", "name", "mode", "3-min target"], "(none)"),
])
def test_table_headers_on_a_terminal_are_in_the_language(cli, monkeypatch, terminal, lang,
                                                        header, none):
    monkeypatch.setenv("CSTOOL_LANG", lang)
    result = cli("group", "list")
    assert result.exit_code == 0 and result.stderr == none + "\n"
    cli(*SHOP)
    result = cli("shop", "list")
    assert result.exit_code == 0
    for word in header:
        assert word in result.stdout, result.stdout
    if lang == "zh":  # the data only (a shop's mode is a stored value)
        assert latin_words(result.stdout, {"human", "first", "zh"}) == set(), result.stdout


def test_scripts_read_the_same_in_both_languages(cli, monkeypatch):
    """--json keys and values, and the tab-separated table, never translated."""
    cli(*SHOP)
    seen = {}
    for lang in ("zh", "en"):
        monkeypatch.setenv("CSTOOL_LANG", lang)
        seen[lang] = (json.loads(cli("shop", "list", "--json").stdout),
                      cli("shop", "list").stdout)
    assert seen["zh"] == seen["en"]
    assert seen["zh"][1].split("\n", 1)[0].startswith("key\t")


@pytest.mark.parametrize("lang,created,status,nothing", [
    ("zh", "已创建店铺 s\n", "a 现在是在线\n", "没有在等你的客户\n"),
    ("en", "created shop s\n", "a is online\n", "nothing is waiting for you\n"),
])
def test_what_was_done_is_said_in_the_language(cli, monkeypatch, lang, created, status,
                                              nothing):
    monkeypatch.setenv("CSTOOL_LANG", lang)
    result = cli(*SHOP)
    assert (result.exit_code, result.stderr) == (0, created)
    cli("agent", "create", "a", "--name", "小美", "--shop", "s")
    result = cli("agent", "status", "a", "online")
    assert (result.exit_code, result.stderr) == (0, status)
    result = cli("conv", "accept", "--agent", "a")
    assert (result.exit_code, result.stderr) == (0, nothing)


def test_a_conversation_in_chinese_has_no_english_of_ours(cli, monkeypatch):
    cli(*SHOP)
    cli("shop", "update", "s", "--service-mode", "human_first")
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    posted = cli("conv", "post", "在吗", "--shop", "s", "--customer", "c1")
    assert posted.exit_code == 0
    shown = cli("conv", "show", re.match(r"会话 (\d+)（", posted.stdout).group(1))
    assert shown.exit_code == 0
    text = posted.stdout + posted.stderr + shown.stdout
    assert "排队中" in text and "queued" not in text
    assert latin_words(text, {"c"}) == set(), text


@pytest.mark.parametrize("lang,args,expected", [
    ("zh", ["shop", "lst"],
     "错误：没有这个命令：lst。是不是想用 'list'？（见 'cstool shop --help'）\n"),
    ("en", ["shop", "lst"],
     "Error: No such command 'lst'. Did you mean 'list'? (see 'cstool shop --help')\n"),
    ("zh", ["shp"], "错误：没有这个命令：shp。是不是想用 'shop'？（见 'cstool --help'）\n"),
    ("zh", ["shop", "zzzzzz"], "错误：没有这个命令：zzzzzz。（见 'cstool shop --help'）\n"),
    ("en", ["token", "zzzzzz"], "Error: No such command 'zzzzzz'. (see 'cstool token --help')\n"),
])
def test_no_such_command_in_the_language(cli, monkeypatch, lang, args, expected):
    monkeypatch.setenv("CSTOOL_LANG", lang)
    result = cli(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected)


def test_yes_and_no_in_a_table_but_not_for_scripts(cli, monkeypatch, terminal):
    cli(*SHOP)
    cli("product", "create", "p1", "--shop", "s", "--title", "裙子", "--price", "99")
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    cli("coupon", "create", "k1", "--shop", "s", "--name", "券", "--kind", "amount",
        "--amount", "5", "--stackable")
    table = cli("coupon", "list").stdout
    assert "是" in table and "yes" not in table
    monkeypatch.setattr(output, "is_terminal", lambda: False)
    assert "\tyes" in cli("coupon", "list").stdout
