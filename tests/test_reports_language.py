"""The long text reports (`staffing erlang/forecast/plan`, `simulate`) in one language at
a time: in Chinese no English words of ours (names, keys and units aside); in English the
same lines as before (their other tests read them)."""

from __future__ import annotations

import re

import pytest

from tests.test_simulate import PLAIN
from tests.test_staffing import seeded  # noqa: F401  (the fixture: a shop with history)

# Latin words a Chinese report may hold: data (shop and rule keys), names of methods and
# units, and option names quoted in hints.
ALLOWED = {"lf", "plain", "Erlang", "Erl", "MAPE", "WAPE", "p90", "fallback", "cstool",
           "db", "metrics", "report", "shop", "erlang", "x"}


def english_words(text: str) -> set[str]:
    words = set(re.findall(r"[A-Za-z][A-Za-z_-]+", text))
    return {w for w in words if w not in ALLOWED and not w.startswith(("lf-", "pa-"))}


@pytest.mark.parametrize("args,zh_bits", [
    (["staffing", "forecast", "--shop", "lf", "--date", "2026-11-21"],
     ["（周六）", "预测", "历史 2026-", "误差"]),
    (["staffing", "plan", "--shop", "lf", "--date", "2026-11-21"],
     ["目标 30 秒内应答 80%", "来自店铺历史", "时间", "排班", "人·小时"]),
    (["staffing", "erlang", "--arrivals", "100", "--aht", "180", "--target-s", "20",
      "--patience", "60"], ["客服人数", "达到目标", "Erlang A（顾客会放弃）"]),
])
def test_staffing_reports_in_chinese(cli, seeded, monkeypatch, args, zh_bits):  # noqa: F811
    import commands.output as output

    monkeypatch.setattr(output, "is_terminal", lambda: True)  # tables drawn, in the language
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    result = cli(*args)
    assert result.exit_code == 0, result.output
    for bit in zh_bits:
        assert bit in result.stdout, result.stdout
    assert english_words(result.stdout) == set(), result.stdout


def test_staffing_plan_in_english_is_as_it_was(cli, seeded, monkeypatch):  # noqa: F811
    monkeypatch.setenv("CSTOOL_LANG", "en")
    out = cli("staffing", "plan", "--shop", "lf", "--date", "2026-11-21").stdout
    assert re.search(r"^lf · 2026-11-21 · target 80% in 30s · AHT 240s \(history\) · "
                     r"3 chats/agent \(agents\)$", out, re.M), out
    assert "time     chats  agents   pos  sched  █ needed ░ extra" in out
    assert re.search(r"^\d+ agents, [\d.]+ agent-hours \(lower bound [\d.]+, efficiency "
                     r"[\d.]+%\), peak \d+ positions, [\d.]+ chats$", out, re.M), out


def test_simulate_report_in_chinese(tmp_path, monkeypatch):
    from tests.conftest import Cli

    (tmp_path / "plain.yaml").write_text(PLAIN, encoding="utf-8")
    cli = Cli(str(tmp_path / "plain.db"))
    assert cli("apply", "-f", str(tmp_path / "plain.yaml")).exit_code == 0
    args = ["simulate", "--shop", "plain", "--date", "2026-11-11", "--arrivals", "40",
            "--roster", "09:00-18:00=2", "--patience", "120"]
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    zh = cli(*args)
    assert zh.exit_code == 0, zh.output
    head = zh.stdout.splitlines()[0]
    assert "排班：时段 09:00-18:00=2" in head and "耐心 120 秒" in head, head
    assert zh.stdout.splitlines()[2].split()[:5] == ["时间", "会话", "机器人", "人工", "客服"]
    assert "全天：" in zh.stdout and "路由：" in zh.stdout
    assert english_words(zh.stdout) == set(), zh.stdout
    monkeypatch.setenv("CSTOOL_LANG", "en")
    en = cli(*args)
    assert en.stdout.splitlines()[0].startswith("plain · 2026-11-11 · ordinary · ")
    assert "roster spans 09:00-18:00=2 · AHT 300s · patience 120s" in en.stdout
    assert en.stdout.splitlines()[2].split()[:5] == ["time", "chats", "bot", "human", "agents"]


def test_fixtures_generate_progress_in_the_language(cli, monkeypatch):
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    result = cli("fixtures", "generate", "--shops", "1", "--customers", "30", "--orders",
                 "30", "--seed", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert any(line.startswith("客户 ") and "30/30" in line for line in lines), result.stdout
    assert any(line.startswith("订单 ") and "30/30" in line for line in lines), result.stdout
    assert "customers" not in result.stdout and "orders" not in result.stdout
    assert result.stderr.endswith("已生成 1 家店铺，30 位客户，30 笔订单（前缀 g3）\n")


def test_bot_info_in_the_language(cli, monkeypatch):
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    zh = cli("bot", "info")
    assert zh.exit_code == 0, zh.output
    first, second = zh.stdout.splitlines()
    assert first.startswith("排序器：") and second.startswith("繁体→简体：")
    monkeypatch.setenv("CSTOOL_LANG", "en")
    en = cli("bot", "info").stdout.splitlines()
    assert en[0].startswith("ranker: ") and en[1].startswith("traditional→simplified: ")
