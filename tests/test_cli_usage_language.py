"""Usage errors (typer's) in one language at a time: each kind said by its class and
fields, never by matching typer's English; English exactly as typer says it (without
pydantic's "Value error," wrapper); exit 2, one line, nothing on stdout."""

from __future__ import annotations

import re

import pytest

SHOP = ["shop", "create", "s", "--name", "翎衣女装"]

CASES = [
    (["shop", "list", "extra"],
     "错误：多出了参数：extra（见 'cstool shop list --help'）",
     "Error: Got unexpected extra argument(s) (extra) (see 'cstool shop list --help')"),
    (["customer", "list", "--shop"],
     "错误：选项 '--shop' 后面要跟一个值。（见 'cstool customer list --help'）",
     "Error: Option '--shop' requires an argument. (see 'cstool customer list --help')"),
    (["shop", "list", "--json=1"],
     "错误：选项 '--json' 不带值。（见 'cstool shop list --help'）",
     "Error: Option '--json' does not take a value. (see 'cstool shop list --help')"),
    (["conv", "list", "--limit", "abc"],
     "错误：'--limit' 的值无效：应为整数，而不是 abc（见 'cstool conv list --help'）",
     "Error: Invalid value for '--limit': Input should be a valid integer, unable to parse "
     "string as an integer (see 'cstool conv list --help')"),
    (["conv", "list", "--limit", "0"],
     "错误：'--limit' 的值无效：应不小于 1，而不是 0（见 'cstool conv list --help'）",
     "Error: Invalid value for '--limit': Input should be greater than or equal to 1 "
     "(see 'cstool conv list --help')"),
    (["agent", "status", "a", "zz"],
     "错误：'status' 的值无效：zz 不是可选值之一：online, busy, away, offline"
     "（见 'cstool agent status --help'）",
     "Error: Invalid value for 'status': 'zz' is not one of 'online', 'busy', 'away', "
     "'offline'. (see 'cstool agent status --help')"),
    (["shop", "update", "s", "--service-mode", "bad"],
     "错误：'--service-mode' 的值无效：bad 不是可选值之一：bot_only, bot_first, human_first, "
     "human_only（见 'cstool shop update --help'）",
     "Error: Invalid value for '--service-mode': 'bad' is not one of 'bot_only', "
     "'bot_first', 'human_first', 'human_only'. (see 'cstool shop update --help')"),
    (["--lang", "xx", "shop", "list"],
     "错误：'--lang'（环境变量 'CSTOOL_LANG'） 的值无效：'xx' 不是 cstool 的界面语言：zh 或 en"
     "（见 'cstool --help'）",
     "Error: Invalid value for '--lang' (env var: 'CSTOOL_LANG'): 'xx' is not a language "
     "of cstool: zh or en (see 'cstool --help')"),
    (["shop", "create"],
     "错误：缺少参数 'KEY'。（见 'cstool shop create --help'）",
     "Error: Missing argument 'KEY'. (see 'cstool shop create --help')"),
]


@pytest.mark.parametrize("args,zh,en", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_usage_errors_in_each_language(cli, monkeypatch, args, zh, en):
    cli(*SHOP)
    for lang, expected in (("zh", zh), ("en", en)):
        monkeypatch.setenv("CSTOOL_LANG", lang)
        result = cli(*args)
        assert (result.exit_code, result.stdout, result.stderr) == (2, "", expected + "\n")


def test_no_english_of_typers_in_chinese_usage_errors(cli, monkeypatch):
    """Other wrong inputs too: the only Latin words are what the user typed, option names
    and the choices."""
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    for args in (["metrics", "report", "--shop"], ["conv", "list", "--limit", "2.5"],
                 ["shop", "list", "--json", "x", "y"], ["--db"],
                 ["metrics", "report", "--since", "yesterday-ish"]):
        result = cli(*args)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
        words = set(re.findall(r"(?<![-'\w])[A-Za-z]{3,}(?![\w'])", result.stderr))
        assert not words & {"Error", "Invalid", "Missing", "Option", "Input", "should",
                            "unexpected", "argument", "requires", "value", "Value"}, \
            result.stderr
