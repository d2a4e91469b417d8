"""Tests of the knowledge bot's retrieval engine (cstool.bot): text handling, ranking,
decisions at the thresholds, handoff, shops, serialisation and the quality benchmark."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cstool.bot import (
    Decision,
    IndexConfig,
    KnowledgeIndex,
    SynonymTable,
    Thresholds,
    choose_action,
    default_synonyms,
    features,
    is_handoff_request,
    normalise,
    normalise_entry,
    tokens,
)
from cstool.bot.model import Calibrator

ROOT = Path(__file__).resolve().parents[1]

# A small Chinese shop knowledge base with a few English entries.
ZH_KB = [
    {
        "key": "ship_track",
        "question": "怎么查物流信息？",
        "similar": ["快递到哪了", "物流单号在哪里看", "怎么查我的快递"],
        "answer": "在“我的订单”里点开订单即可查看物流轨迹。",
        "category": "shipping",
        "tags": ["物流"],
    },
    {
        "key": "ship_not_arrived",
        "question": "物流好几天没更新怎么办？",
        "similar": ["快递一直不动", "包裹卡在中转站了", "快递怎么还没到"],
        "answer": "超过48小时未更新我们会联系快递公司催件。",
        "category": "shipping",
        "tags": ["催件"],
    },
    {
        "key": "exchange_size",
        "question": "尺码不合适可以换吗？",
        "similar": ["大了想换小一码", "能换大一号吗", "尺码买错了能换吗"],
        "answer": "签收7天内吊牌完好可申请换码。",
        "category": "returns",
        "tags": ["换货"],
    },
    {
        "key": "refund_time",
        "question": "退款多久到账？",
        "similar": ["钱什么时候退回来", "退款几天能到", "退款一般要多久"],
        "answer": "仓库验收后24小时内原路退款。",
        "category": "returns",
        "tags": ["退款"],
    },
    {
        "key": "invoice_how",
        "question": "怎么开发票？",
        "similar": ["可以开发票吗", "需要发票怎么办", "发票怎么申请"],
        "answer": "确认收货后在订单详情点“申请开票”。",
        "category": "invoice",
        "tags": ["发票"],
    },
    {
        "key": "coupon_use",
        "question": "优惠券怎么用？",
        "similar": ["领了券怎么抵扣", "下单时怎么用券", "优惠券在哪里使用"],
        "answer": "提交订单时会自动选择最优优惠券。",
        "category": "promotion",
        "tags": ["优惠券"],
    },
    {
        "key": "ship_free",
        "question": "包邮吗？运费多少？",
        "similar": ["满多少包邮", "运费怎么算", "需要付运费吗"],
        "answer": "全店满99元包邮。",
        "category": "shipping",
        "tags": ["包邮"],
    },
    {
        "key": "warranty_period",
        "question": "保修多久？",
        "similar": ["质保期多长", "有保修吗", "保修一年吗"],
        "answer": "电器类商品全国联保1年。",
        "category": "warranty",
        "tags": ["保修"],
    },
    {
        "key": "en_refund",
        "question": "When will I get my refund?",
        "similar": ["How long does a refund take?", "I haven't received my refund yet"],
        "answer": "Refunds are issued within 24 hours of receiving your return.",
        "category": "returns",
        "tags": ["english"],
    },
    {
        "key": "en_track",
        "question": "Where is my order?",
        "similar": ["How can I track my package?", "Where can I find my tracking number?"],
        "answer": "Open the order under My Orders to see the tracking number.",
        "category": "shipping",
        "tags": ["english"],
    },
]


@pytest.fixture(scope="module")
def zh_index() -> KnowledgeIndex:
    idx = KnowledgeIndex(ZH_KB)
    idx.build_scope()
    return idx


# --------------------------------------------------------------------------- text


def test_normalise_fullwidth_case_punctuation_traditional() -> None:
    assert normalise("ＡＢＣ１２３！ Hello，World。") == "abc123 hello world"
    assert normalise("優惠卷怎麼用？？") == "优惠卷怎么用"
    assert normalise("don't") == "dont"
    # long digit runs (order numbers, phones) collapse to one token
    assert normalise("订单 202311220001 到哪了") == "订单 0 到哪了"


def test_tokens_chinese_english_and_mixed() -> None:
    assert tokens("我要退货") == ["我", "要", "退", "货"]
    assert tokens("Cards charged twice") == ["card", "charg", "twic"]
    assert tokens("XL码偏大吗") == ["xl", "码", "偏", "大", "吗"]
    assert tokens("iPhone15 的 壳") == ["iphone15", "的", "壳"]


def test_features_bigrams_char_ngrams_and_glue() -> None:
    f = features("快递到了 refund")
    assert "y:快递" in f and "y:递到" in f and "z:快" in f
    assert "w:refund" in f and "c:<ref" in f and "c:und>" in f
    g = features("xl码")
    assert "x:xl码" in g
    # bigrams do not cross a boundary between two Chinese runs
    assert "y:递我" not in features("快递 我")


def test_default_synonyms_rewrite_to_canonical() -> None:
    syn = default_synonyms()
    assert syn.apply(normalise("物流到哪了")) == "快递 到哪了"
    assert syn.apply(normalise("快件")) == "快递"
    assert "退款" in syn.apply(normalise("什么时候退钱"))
    assert "发票" in syn.apply(normalise("能开票吗"))
    # the longest variant wins: 优惠券 is not half rewritten by the group holding 券
    assert syn.apply("优惠卷") == "优惠券"
    assert syn.apply("优惠券") == "优惠券"
    # Latin variants only as whole words
    assert syn.apply("i want my money back") == "i want my refund"
    assert syn.apply("packaged") == "packaged"
    # fillers are removed
    assert syn.apply(normalise("亲 在吗 包邮吗")) == "包邮吗"


def test_shop_synonyms_extend_and_override() -> None:
    base = default_synonyms()
    shop = base.extended([["连衣裙", "裙子", "小裙子"], ["运费险", "退货险"]])
    assert shop.apply("裙子大了") == "连衣裙 偏大"
    assert shop.apply("有退货险吗") == "有 运费险 吗"
    assert base.apply("裙子") == "裙子"  # the default table is untouched
    t = SynonymTable([["a1", "b1"]]).extended([["c1", "b1"]])
    assert t.apply("b1") == "c1"


def test_synonyms_make_different_words_match(zh_index: KnowledgeIndex) -> None:
    # "物流" in the question, "快件" in the customer's words; "退钱" for "退款"
    assert zh_index.search("我的快件到哪里了", 1)[0][0] == "ship_track"
    assert zh_index.search("退钱要几天", 1)[0][0] == "refund_time"
    assert zh_index.search("能不能开票", 1)[0][0] == "invoice_how"


def test_typo_tolerance_english_and_chinese(zh_index: KnowledgeIndex) -> None:
    # English typos are caught by character n-grams
    assert zh_index.search("how long dose a refnud take", 1)[0][0] == "en_refund"
    assert zh_index.search("wher is my oder", 1)[0][0] == "en_track"
    # Chinese: a wrong character (homophone typo) still shares the other characters
    assert zh_index.search("优惠卷咋用", 1)[0][0] == "coupon_use"
    assert zh_index.search("保休多长时间", 1)[0][0] == "warranty_period"


# --------------------------------------------------------------------------- thresholds


def test_choose_action_exact_boundaries() -> None:
    th = Thresholds(answer=0.8, suggest=0.4)
    assert choose_action(0.8, th) == "answer"
    assert choose_action(math.nextafter(0.8, 0), th) == "suggest"
    assert choose_action(0.4, th) == "suggest"
    assert choose_action(math.nextafter(0.4, 0), th) == "handoff"
    assert choose_action(1.0, th) == "answer"
    assert choose_action(0.0, th) == "handoff"
    assert choose_action(0.0, Thresholds(answer=0.0, suggest=0.0)) == "answer"


def test_thresholds_validation() -> None:
    with pytest.raises(ValueError):
        Thresholds(answer=0.3, suggest=0.5)
    with pytest.raises(ValueError):
        Thresholds(answer=1.2, suggest=0.5)


def test_decide_actions_at_threshold_boundaries(zh_index: KnowledgeIndex) -> None:
    q = "衣服大了能换小一码不"
    conf = zh_index.confidence(q)
    assert 0.0 < conf < 1.0
    up = math.nextafter(conf, 1.0)
    d = zh_index.decide(q, thresholds=Thresholds(answer=conf, suggest=conf))
    assert (d.action, d.entry, d.reason) == ("answer", "exchange_size", "confident")
    assert d.answer == "签收7天内吊牌完好可申请换码。"
    d = zh_index.decide(q, thresholds=Thresholds(answer=up, suggest=conf))
    assert d.action == "suggest" and d.answer is None
    assert d.choices[0] == "exchange_size" and 1 <= len(d.choices) <= 3
    d = zh_index.decide(q, thresholds=Thresholds(answer=up, suggest=up))
    assert d.action == "handoff" and d.reason == "low_confidence"
    assert d.entry == "exchange_size"  # still named, for agent assist
    assert d.confidence == pytest.approx(conf)


def test_per_shop_thresholds() -> None:
    entries = [dict(e, shop=None) for e in ZH_KB]
    idx = KnowledgeIndex(
        entries,
        thresholds=Thresholds(answer=0.0, suggest=0.0),
        shop_thresholds={"strict": Thresholds(answer=1.0, suggest=1.0)},
    )
    assert idx.decide("发票怎么开", shop="easy").action == "answer"
    assert idx.decide("发票怎么开", shop="strict").action == "handoff"


# --------------------------------------------------------------------------- handoff


@pytest.mark.parametrize(
    "text",
    [
        "转人工",
        "人工客服在吗",
        "我要找真人 别用机器人",
        "亲 帮我转人工！！",
        "叫你们人工服务出来",
        "I want to talk to a human",
        "agent please",
        "Can I speak to a real person?",
        "TALK TO SOMEONE now",
        "live agent",
    ],
)
def test_handoff_phrases_hand_off_at_once(zh_index: KnowledgeIndex, text: str) -> None:
    assert is_handoff_request(text)
    d = zh_index.decide(text, thresholds=Thresholds(answer=0.0, suggest=0.0))
    assert d.action == "handoff" and d.reason == "handoff_phrase"
    assert d.confidence == 0.0


@pytest.mark.parametrize(
    "text", ["退款多久到账", "human resources department", "where is my agent code", "人工费多少"]
)
def test_not_handoff_phrases(text: str) -> None:
    assert not is_handoff_request(text)


def test_extra_handoff_phrases() -> None:
    assert not is_handoff_request("店长出来")
    assert is_handoff_request("店长出来", ["店长"])
    idx = KnowledgeIndex(ZH_KB, shop_handoff_phrases={"s1": ["店长"]})
    assert idx.decide("店长出来", shop="s1").reason == "handoff_phrase"
    assert idx.decide("店长出来", shop="s2").reason != "handoff_phrase"


def test_empty_and_unmatched_questions_hand_off(zh_index: KnowledgeIndex) -> None:
    assert zh_index.decide("   ").reason == "empty"
    assert zh_index.decide("？？？").action == "handoff"
    d = zh_index.decide("qwxz zzkv")
    assert d.action != "answer"
    assert KnowledgeIndex([]).decide("退款").reason in ("no_entries", "no_match")


# --------------------------------------------------------------------------- ranking


@pytest.mark.parametrize(
    ("question", "key"),
    [
        ("亲 在吗 我的快递咋还没到", "ship_not_arrived"),
        ("物流三天没动了是咋回事", "ship_not_arrived"),
        ("单号发我一下 想看看包裹到哪了", "ship_track"),
        ("衣服大了能换小一码不", "exchange_size"),
        ("裤子小了 想换个大点的", "exchange_size"),
        ("开发票要咋弄", "invoice_how"),
        ("退的钱多久到我卡上", "refund_time"),
        ("买一件包不包邮", "ship_free"),
        ("券咋用不上去", "coupon_use"),
        ("质保几年啊", "warranty_period"),
        ("still waiting for my refund", "en_refund"),
        ("how do i track my parcel", "en_track"),
    ],
)
def test_colloquial_chinese_questions_find_their_entry(
    zh_index: KnowledgeIndex, question: str, key: str
) -> None:
    ranked = zh_index.search(question, 3)
    assert ranked[0][0] == key, ranked


def test_search_scores_are_sorted_probabilities(zh_index: KnowledgeIndex) -> None:
    ranked = zh_index.search("退款几天到", 5)
    assert len(ranked) == 5
    scores = [s for _, s in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert len(zh_index.search("退款几天到", 1)) == 1
    assert 0.0 <= zh_index.confidence("退款几天到") <= 1.0


def test_classifier_learns_from_similar_questions() -> None:
    # The customer's words appear only in similar questions, and each word is shared
    # with the other entry's texts, so only learning from the texts separates them.
    entries = [
        {"key": "a", "question": "red apple", "similar": ["red cherry", "red apple pie"]},
        {"key": "b", "question": "green pear", "similar": ["green apple", "green cherry"]},
        {"key": "c", "question": "blue sky", "similar": ["blue sea", "blue whale"]},
    ]
    idx = KnowledgeIndex(entries)
    assert idx.build_scope()["classifier"] is True
    assert idx.search("red", 1)[0][0] == "a"
    assert idx.search("green", 1)[0][0] == "b"


def test_disabled_entries_are_not_found() -> None:
    entries = [dict(e) for e in ZH_KB]
    entries[4]["enabled"] = False  # invoice_how
    idx = KnowledgeIndex(entries)
    assert all(k != "invoice_how" for k, _ in idx.search("怎么开发票", 10))


def test_shop_scopes_and_overrides() -> None:
    platform = [dict(e, shop=None) for e in ZH_KB]
    shop_a = {
        "key": "ship_free",
        "shop": "A",
        "question": "包邮吗？",
        "similar": ["运费多少"],
        "answer": "A店全场包邮。",
    }
    shop_b_only = {
        "key": "b_dress",
        "shop": "B",
        "question": "连衣裙有几个颜色？",
        "similar": ["裙子有什么颜色"],
        "answer": "有黑白两色。",
    }
    idx = KnowledgeIndex(
        [*platform, shop_a, shop_b_only], shop_synonyms={"B": [["连衣裙", "小裙子"]]}
    )
    th = Thresholds(answer=0.0, suggest=0.0)
    assert idx.decide("包邮吗", shop="A", thresholds=th).answer == "A店全场包邮。"
    assert idx.decide("包邮吗", shop="C", thresholds=th).answer == "全店满99元包邮。"
    assert all(k != "b_dress" for k, _ in idx.search("连衣裙颜色", 20, shop="A"))
    assert idx.search("小裙子有啥颜色", 1, shop="B")[0][0] == "b_dress"


# --------------------------------------------------------------------------- entries & io


def test_normalise_entry_fills_fields() -> None:
    e = normalise_entry({"key": " k1 ", "question": "q", "similar": "a|b\nc", "enabled": "no"})
    assert e["key"] == "k1" and e["similar"] == ["a", "b", "c"]
    assert e["enabled"] is False and e["shop"] is None and e["tags"] == []
    with pytest.raises(ValueError):
        normalise_entry({"question": "no key"})


def test_round_trip_through_json(zh_index: KnowledgeIndex) -> None:
    blob = json.dumps(zh_index.to_dict())
    again = KnowledgeIndex.from_dict(json.loads(blob))
    assert again._scopes, "the trained scope must be restored, not rebuilt"
    for q in ("快递咋还没到", "开发票要咋弄", "refund please"):
        a, b = zh_index.decide(q), again.decide(q)
        assert (a.action, a.entry, a.choices) == (b.action, b.entry, b.choices)
        assert a.confidence == pytest.approx(b.confidence, abs=0.02)
    assert again.fingerprint() == zh_index.fingerprint()


def test_fingerprint_changes_with_knowledge() -> None:
    a = KnowledgeIndex(ZH_KB, config=IndexConfig(calibration_folds=0))
    changed = [dict(e) for e in ZH_KB]
    changed[0]["similar"] = [*changed[0]["similar"], "单号呢"]
    b = KnowledgeIndex(changed, config=IndexConfig(calibration_folds=0))
    assert a.fingerprint() != b.fingerprint()
    assert a.fingerprint("shop1") == a.fingerprint(None)


def test_decision_to_dict_fields(zh_index: KnowledgeIndex) -> None:
    d = zh_index.decide("开发票要咋弄")
    assert isinstance(d, Decision)
    assert set(d.to_dict()) >= {"question", "action", "entry", "confidence", "answer", "choices"}


def test_calibrator_is_monotone_in_top_probability() -> None:
    cal = Calibrator((3.6, 2.8, 1.0, 0.0, -2.2))
    lo = cal(Calibrator.signals(0.3, 0.2, 0.3, True))
    hi = cal(Calibrator.signals(0.95, 0.02, 0.6, True))
    assert 0.0 < lo < hi < 1.0


# --------------------------------------------------------------------------- benchmark


def test_bench_bot_quick_runs_and_prints_figures() -> None:
    data = ROOT.parent / "shared" / "data" / "banking77"
    if not (data / "train.csv").exists():
        pytest.skip("banking77 data not available")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_bot.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    figures = dict(
        line.split(": ", 1) for line in proc.stdout.splitlines() if re.match(r"^[^:]+: ", line)
    )
    for name in (
        "banking77 test bot top-1 accuracy",
        "banking77 test bot top-3 accuracy",
        "banking77 test bot confident-wrong share (action=answer, wrong entry)",
        "banking77 test baseline tfidf-nn words top-1 accuracy",
        "zh bot top-1 accuracy",
        "zh2 bot top-1 accuracy",
        "zh2 bot out-of-scope answered confidently",
        "zh2 bot 转人工 handed off",
        "zh2 bot confident-answer precision",
        "zh2 baseline char-bigram bm25 top-1 accuracy",
        "latency 2000 entries p95 ms",
    ):
        assert name in figures, name
    top1 = float(figures["banking77 test bot top-1 accuracy"])
    top3 = float(figures["banking77 test bot top-3 accuracy"])
    assert 0.5 < top1 <= top3 <= 1.0
    assert float(figures["zh bot top-1 accuracy"]) > 0.5
    assert float(figures["zh2 bot top-1 accuracy"]) > 0.5
    assert "held out" in figures["zh tuning"]
    assert "train.csv only" in figures["tuning"]
