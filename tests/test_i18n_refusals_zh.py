"""Refusals keyed in #17 (files, simulation, staffing, the clock, the key file, the remote
backend): in Chinese on a Chinese screen, exit codes unchanged, and the English screen shows
exactly the English message the error carries (the en catalog renders the same text)."""

from __future__ import annotations

import math

import pytest

from cstool import i18n
from cstool.errors import CstoolError, InvalidInput
from cstool.staffing.erlang import Workload, check_workload
from tui.console import default_keys
from tui.keys import load_keymap

REFUSALS = [  # (args, env, exit code, the Chinese line)
    (["apply", "-f", "{tmp}/none.yaml"], {}, 1, "错误：{tmp}/none.yaml：没有这个文件或文件夹\n"),
    (["staffing", "erlang", "--arrivals", "100", "--aht", "180", "--target-s", "20",
      "--shrinkage", "1.5"], {}, 2, "错误：损耗率应在 0 到 1 之间（不含 1），实为 1.5\n"),
    (["staffing", "erlang", "--arrivals", "100", "--aht", "180", "--target-s", "20",
      "--sl", "1.5"], {}, 2, "错误：服务水平应大于 0 且不超过 1，实为 1.5\n"),
    (["shop", "list"], {"CSTOOL_NOW": "soon"}, 2,
     "错误：$CSTOOL_NOW 不是时间：'soon'（应为 ISO 8601 格式，例如 2026-12-07T03:00+08:00）\n"),
    (["simulate", "--shop", "x", "--curve", "zigzag"], {}, 2,
     "错误：curve：只能是 flat, ordinary, promotion 之一，实为 'zigzag'\n"),
]


@pytest.mark.parametrize("args,env,code,zh", REFUSALS)
def test_refusals_in_chinese_and_the_same_english(cli, monkeypatch, tmp_path, args, env, code,
                                                  zh):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    result = cli(*args)
    assert (result.exit_code, result.stderr) == (code, zh.replace("{tmp}", str(tmp_path)))
    assert not any(w in result.stderr for w in ("输入有误", "用法有误", "找不到：", "操作被拒绝"))
    monkeypatch.setenv("CSTOOL_LANG", "en")
    english = cli(*args)
    assert english.exit_code == code and english.stderr.startswith("Error: ")
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in english.stderr)


def _both(error: CstoolError) -> tuple[str, str]:
    return i18n.error_text(error, lang="zh"), i18n.error_text(error, lang="en")


def test_an_erlang_check_names_its_key_and_speaks_both_languages():
    with pytest.raises(InvalidInput) as e:
        check_workload(Workload(arrivals=math.nan, interval_s=1800, aht_s=180, target_s=20))
    assert e.value.key == "erlang_arrivals_range"
    zh, en = _both(e.value)
    assert en == str(e.value) == "arrivals must be from 0 to 10,000,000 per interval, got nan"
    assert zh == "每个时段的到达量应在 0 到 10,000,000 之间，实为 nan"


@pytest.mark.parametrize("text,zh_tail", [
    ('accept = "f2"\nacept = "f3"\n', "：没有这个操作 'acept'（可用的操作："),
    ('# mine\naccept = "f2"\nclose_chat = "F2"\n',
     "：close_chat：'f2' 已经是 accept 的按键（在这个文件里改过）"),
])
def test_a_bad_key_file_is_refused_in_chinese_naming_file_and_line(tmp_path, text, zh_tail):
    path = tmp_path / "keys.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as e:
        load_keymap(path, default_keys())
    zh, en = _both(e.value)
    assert en == str(e.value)
    assert zh.startswith(f"{path}:") and zh_tail in zh and "输入有误" not in zh
