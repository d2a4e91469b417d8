"""`cstool bot info` in words a merchant reads: which ranker, and what it means for the
questions their customers ask (zh and en)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("lang,head,meaning", [
    ("en", "ranker: lexical (CSTOOL_BOT_RANKER=lexical)",
     "matches a question by its words only, so other wordings are missed more often"),
    ("zh", "排序器：仅词法（CSTOOL_BOT_RANKER=lexical）",
     "只按字词匹配顾客的问题，换种说法时更容易答不上"),
])
def test_bot_info_says_what_the_ranker_means(cli, monkeypatch, lang, head, meaning):
    monkeypatch.setenv("CSTOOL_LANG", lang)
    monkeypatch.setenv("CSTOOL_BOT_RANKER", "lexical")
    r = cli("bot", "info")
    assert r.exit_code == 0, r.output
    first = r.stdout.splitlines()[0]
    assert first.startswith(head) and first.endswith(meaning), first


@pytest.mark.parametrize("lang,question,head", [
    ("zh", "怎么开发票", "回答（条目 invoice，置信度"),
    ("zh", "转人工", "转人工（"),
    ("en", "转人工", "handoff ("),
])
def test_bot_ask_says_its_reason_in_the_language(cli, tmp_path, monkeypatch, lang, question,
                                                 head):
    from .test_bot_flow import write_fixture

    cli.json("apply", "-f", str(write_fixture(tmp_path)))
    monkeypatch.setenv("CSTOOL_LANG", lang)
    r = cli("bot", "ask", question, "--shop", "s")
    assert r.exit_code == 0, r.output
    first = r.stdout.splitlines()[0]
    assert first.startswith(head), first
    words = {("zh", "怎么开发票"): "，有把握）", ("zh", "转人工"): "顾客要求人工）",
             ("en", "转人工"): "asked for a person)"}[(lang, question)]
    assert first.endswith(words), first
    assert "_" not in first.split("（")[-1].split("(")[-1]  # no raw reason code


def test_a_did_you_mean_is_not_called_a_recommendation_in_chinese(cli, tmp_path, monkeypatch):
    from .test_bot_flow import write_fixture

    cli.json("apply", "-f", str(write_fixture(tmp_path)))
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    r = cli("bot", "ask", "价格", "--shop", "s")
    assert r.exit_code == 0 and r.stdout.startswith("猜您想问（条目 "), r.stdout
