"""Confidence that means something: the signals of one ranking and the data the
calibrator learns P(the top entry is right) from.

The calibrator (:class:`cstool.bot.model.Calibrator`, a small logistic regression) is
fitted when a scope is built, on the shop's own knowledge only:

* **in-scope questions**: each entry's similar questions, held out in turns (the entry's
  main question always stays), ranked by a scope trained on the rest; the label is
  whether the top entry is the question's own entry;
* **uncovered questions** (leave-entries-out): in each fold some entries are left out
  *entirely* and their questions are asked: whatever the top entry is, it is wrong. This
  is the out-of-scope question that looks like the shop's (an invoice question in a
  shop without an invoice entry);
* **other domains**: a bundled list of questions no shop FAQ answers
  (:data:`OTHER_DOMAIN_QUESTIONS`: weather, homework, banking, travel, chit-chat ...),
  label wrong; those too close to one of the shop's own texts are skipped.

The signals (:data:`SIGNALS`) are the fused probability of the top entry, its margin to
the runner-up, the lexical cosine of the top entry, whether classifier and lexical
ranking agree, the absolute embedding similarity of the top entry and its margin to the
next entry, whether the embedding ranking agrees with the fused one, and how short the
question is. Raw probabilities are relative (they sum to 1 over the shop's entries), so
an unrelated question can still get a peaked distribution; the absolute similarities
are what tell it apart. Pure functions over numpy arrays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "OTHER_DOMAIN_QUESTIONS",
    "PRIOR_CLASSIFIER",
    "PRIOR_LEXICAL",
    "PRIOR_SEMANTIC",
    "prior_for",
    "SIGNALS",
    "dropped_entries",
    "signals",
]

#: Signal names, in the calibrator's order (followed by the bias).
SIGNALS = ("p_top", "margin", "lex_top", "agree", "sem_top", "sem_margin", "sem_agree",
           "short")

#: Prior coefficients (the signals, then the bias). The fit of each scope pulls them
#: towards its own data (L2 towards the prior with :data:`SEMANTIC_STRENGTH`, see
#: ``Calibrator.fit``). The hybrid prior was fitted on the leave-entries-out study of
#: the first Chinese set (``benchmarks/bench_bot.py``: a quarter of its entries removed
#: in turn, their questions then out of scope); the held-out set was never used.
PRIOR_SEMANTIC = (2.97, 2.87, 1.79, 0.24, -1.09, 1.73, 0.44, -1.02, -3.78)
#: How strongly a hybrid scope's own calibration data pulls (in examples): chosen by
#: the same study (5: 39 %, 20: 55 %, 80: 55 % of in-scope questions answered at the
#: cross-validated threshold).
SEMANTIC_STRENGTH = 20.0
PRIOR_CLASSIFIER = (3.6, 2.8, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, -2.2)
PRIOR_LEXICAL = (1.4, 2.5, 2.0, 0.0, 0.0, 0.0, 0.0, 0.0, -2.3)


def prior_for(semantic: bool, classifier: bool) -> tuple[float, ...]:
    """The prior coefficients of a scope with embeddings / a classifier or neither."""
    if semantic:
        return PRIOR_SEMANTIC
    return PRIOR_CLASSIFIER if classifier else PRIOR_LEXICAL


def signals(probs: np.ndarray, lex: np.ndarray, agree: bool, sem: np.ndarray | None,
            n_chars: int) -> np.ndarray:
    """The signal vector of one ranking (with a trailing 1 for the bias).

    ``probs`` the fused entry probabilities, ``lex`` the lexical cosines, ``sem`` the
    best embedding cosine of each entry (None for a lexical scope), ``n_chars`` the
    length of the normalised question."""
    n = len(probs)
    if n == 0:
        return np.zeros(len(SIGNALS) + 1)
    top2 = np.argsort(-probs)[:2]
    top = int(top2[0])
    p_top = float(probs[top])
    p_second = float(probs[int(top2[1])]) if n > 1 else 0.0
    sem_top = sem_margin = 0.0
    sem_agree = 0.0
    if sem is not None and len(sem) == n:
        sem_top = float(sem[top])
        best = int(np.argmax(sem))
        sem_agree = 1.0 if best == top else 0.0
        if n > 1:
            others = np.delete(sem, top)
            sem_margin = sem_top - float(others.max())
    short = 1.0 / math.sqrt(1.0 + max(0, n_chars)) if sem is not None else 0.0
    return np.array([p_top, p_top - p_second, float(lex[top]), 1.0 if agree else 0.0,
                     sem_top, sem_margin, sem_agree, short, 1.0])


#: The confidence of a question that is, word for word, one of a single entry's own
#: questions (the merchant wrote it there): see :func:`exact_match`.
EXACT_CONFIDENCE = 0.99


def exact_match(lex: np.ndarray, top: int, at: float = 0.999) -> bool:
    """True when the question's features are those of one of entry ``top``'s texts
    (lexical cosine 1) and of no other entry's."""
    if len(lex) == 0 or float(lex[top]) < at:
        return False
    return int((lex >= at).sum()) == 1


def dropped_entries(n_entries: int, folds: int, fold: int, share: float = 0.125,
                    seed: int = 2024) -> np.ndarray:
    """Entry indices left out entirely in ``fold`` (about ``share`` of the entries,
    disjoint across folds): their questions are asked as uncovered questions. None when
    the scope is too small to lose any (fewer than 4 entries)."""
    if n_entries < 4 or folds < 1 or share <= 0:
        return np.zeros(0, dtype=np.int64)
    perm = np.random.default_rng(seed).permutation(n_entries)
    per = max(1, int(round(share * n_entries)))
    per = min(per, max(1, n_entries // (folds + 1)))
    start = (fold % folds) * per
    return np.sort(perm[start : start + per]).astype(np.int64)


def far_enough(sem_best: float, lex_best: float, max_sem: float = 0.93,
               max_lex: float = 0.6) -> bool:
    """True when an other-domain question is far from every text of the shop (so it
    can be labelled "no entry answers this" without doubt)."""
    return sem_best < max_sem and lex_best < max_lex


def sample(items: Sequence[str], k: int, seed: int = 7) -> list[str]:
    """``k`` of ``items`` (all when fewer), in a fixed pseudo-random order."""
    if len(items) <= k:
        return list(items)
    idx = np.random.default_rng(seed).choice(len(items), size=k, replace=False)
    return [items[int(i)] for i in sorted(idx)]


#: Questions from other domains, in Chinese and English, that no shop's FAQ answers:
#: the calibrator's "other domains" negatives. Written for this purpose; none is taken
#: from an evaluation set.
OTHER_DOMAIN_QUESTIONS: tuple[str, ...] = (
    "明天北京会下雨吗", "今天气温多少度", "这周末适合去爬山吗", "台风什么时候登陆",
    "帮我写一首关于春天的诗", "讲个笑话听听", "你喜欢什么颜色", "你今年几岁了",
    "你是男的还是女的", "你吃饭了吗", "晚上睡不着怎么办", "失恋了好难过",
    "一元二次方程怎么解", "三角形内角和是多少", "帮我翻译一下这句英语", "作文怎么写开头",
    "高考分数线什么时候出", "考研英语怎么复习", "孩子不爱写作业怎么办", "四六级报名入口在哪",
    "信用卡逾期了怎么办", "房贷利率现在多少", "股票明天会涨吗", "基金亏了要不要割肉",
    "比特币还能买吗", "个人所得税怎么申报", "社保断缴有什么影响", "公积金怎么提取",
    "去三亚旅游有什么推荐", "火车票怎么改签", "机票行李额是多少", "护照过期了怎么办",
    "酒店可以提前入住吗", "签证要准备什么材料", "地铁几点停运", "去机场坐什么车最快",
    "红烧肉怎么做好吃", "米饭煮多久", "减肥吃什么好", "感冒了吃什么药",
    "头疼发烧要去医院吗", "牙疼怎么缓解", "猫不吃东西怎么回事", "狗狗打疫苗多少钱",
    "世界杯谁是冠军", "今晚有什么电影好看", "推荐几首好听的歌", "王者荣耀怎么上分",
    "手机内存满了怎么清理", "电脑蓝屏怎么办", "wifi密码忘了怎么办", "怎么注册微信小号",
    "驾照考试科目二技巧", "汽车保养多久一次", "违章怎么在网上处理", "加油站几点关门",
    "装修选什么风格好", "租房合同要注意什么", "房东不退押金怎么办", "物业费怎么交",
    "离婚财产怎么分", "劳动仲裁怎么申请", "被公司辞退有赔偿吗", "年假有几天",
    "简历怎么写", "面试自我介绍怎么说", "工资条在哪里看", "明天上班吗",
    "宇宙有多大", "恐龙是怎么灭绝的", "月亮为什么有阴晴圆缺", "长城有多长",
    "现在几点了", "今天星期几", "农历几月几号", "春节放几天假",
    "你好", "在吗", "哈哈哈", "嗯嗯", "好的谢谢", "晚安", "早上好", "？？？",
    "你们老板是谁", "你叫什么名字", "我想交个朋友", "陪我聊聊天吧",
    "what's the weather like tomorrow", "tell me a joke", "how old are you",
    "who won the football game last night", "how do I solve a quadratic equation",
    "what is the capital of australia", "recommend a good movie for tonight",
    "how do I cook rice", "my cat is not eating", "how do I renew my passport",
    "what time does the subway close", "how do I file my taxes",
    "is bitcoin a good investment", "how do I reset my wifi router",
    "can you write a poem about the sea", "what's the meaning of life",
    "how far is the moon", "good morning", "thanks, bye", "are you a robot",
    "how do I get a driving licence", "what should I cook for dinner",
    "best exercises to lose weight", "how to fix a blue screen on windows",
)
