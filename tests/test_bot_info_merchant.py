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
