"""The quality-inspection (质检) rules of a shop: which rules are on, what each finding
costs, and the word lists the rules match, as shop-editable data with defaults (pure).

A shop sets them in its settings under ``qa`` (``apply``/``export`` carry them)::

    settings:
      qa:
        off: [closed_while_typing]          # rules switched off
        points: {banned_word: 30}           # what one finding costs (0..100)
        allowed_words: [假一赔十]            # the shop does offer it: not a forbidden promise
        banned_words: [保证, 绝对, 秒发]     # replaces the default list
        sample_rate: 0.2                    # share of unflagged chats sampled for review
        low_score: 80                       # a chat or agent below this is "low" (alert)
        typing_grace_s: 120                 # closed this soon after the customer wrote

Every list replaces its default when given (``allowed_words`` is taken out of the
banned words). Texts are compared after normalisation (``engine.normalise``: full-width
to half-width, lower case, Traditional to Simplified), so a list may be written in
either script.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

VERDICTS = ("confirmed", "overturned")  # a reviewer's word on a finding
BY = ("agent", "shop")  # the groupings of the QA figures

RULES = ("slow_first_response", "unanswered_question", "banned_word", "rude_reply",
         "negative_unacknowledged", "closed_while_typing")

DEFAULT_POINTS = {"slow_first_response": 10, "unanswered_question": 15, "banned_word": 20,
                  "rude_reply": 25, "negative_unacknowledged": 10, "closed_while_typing": 15}

# Forbidden promises and absolute claims (广告法 / platform rules): an agent may not write
# them unless the shop allows the word (``allowed_words``). A word negated within the eight
# characters before it in its clause (不保证, 无法百分百保证, 不敢说绝对) is not a promise;
# 不用担心 / 别着急 / 不客气 negate nothing.
BANNED_WORDS = ("保证", "绝对", "假一赔十", "假一罚十", "百分之百", "百分百", "100%",
                "全网最低", "最低价", "肯定没问题", "包好", "零风险", "无副作用", "根治",
                "永不褪色", "终身保修")
NEGATIONS = ("不", "没", "无法", "不能", "不敢", "没法", "未", "无")

# Rude or dismissive phrases of an agent, anywhere in a message.
RUDE_PHRASES = ("我不知道", "我也不知道", "不知道啊", "自己看", "自己去看", "自己查",
                "爱买不买", "不买就算", "随便你", "别问了", "烦不烦", "说了多少遍",
                "听不懂吗", "看不懂吗", "关我什么事", "不归我管", "你有病", "神经病",
                "滚开", "给我滚", "你懂不懂", "早就说了", "怎么这么多问题", "问那么多",
                "爱咋咋地", "找别人去", "没空", "我说过了", "不是跟你说了", "我也不清楚",
                "不清楚啊", "不关我事", "关我啥事", "你自己看", "烦死了", "有完没完",
                "听不懂人话", "跟你说了", "能不能别问", "爱要不要", "急什么", "催什么",
                "催也没用", "你是不是傻", "看不见吗", "没看到吗", "没看见吗", "不会自己",
                "别烦我", "我在忙", "不想买就别", "买不起就别", "嫌贵别买", "爱信不信",
                "不是我的问题", "你自己的问题", "等着吧")
# A whole reply that is only one of these (punctuation aside) brushes the customer off.
CURT_REPLIES = ("哦", "噢", "嗯", "额", "呵呵", "随便", "不知道", "不清楚", "看详情",
                "看详情页", "自己看", "没办法", "?", "不行")

# A customer turn that is upset (besides two or more ! in a row).
# Words that are upset only as a whole: 还没发货 alone states a fact (想换个颜色还没发货),
# 到底 asks (到底哪个好), 服了 ends 衣服了, 搞什么 asks about 活动: the impatient forms are
# listed instead (怎么还没, 都三天了还…, 到底什么时候, 真服了, 搞什么鬼).
NEGATIVE_WORDS = ("生气", "气死", "失望", "太差", "很差", "真差", "垃圾", "投诉", "骗子",
                  "骗人", "差评", "恶心", "坑人", "被坑", "坑爹", "不满意", "糟糕", "无语",
                  "太慢", "怎么还没", "为什么还没", "咋还没", "还不发", "还不到", "天了还",
                  "天了都", "这么久", "等了好久", "等了很久", "烂了", "过分", "欺骗", "假货",
                  "12315", "退钱", "什么破", "破玩意", "受不了", "离谱", "等了半天",
                  "没人管", "没人理", "上当", "搞什么鬼", "搞什么啊", "你们在搞什么", "真服了",
                  "我服了", "服了你们", "太坑", "气人", "什么态度", "态度差", "态度太差", "差劲",
                  "不靠谱", "怎么回事", "发错货", "给我发错", "你们发错", "发错颜色", "发错尺码",
                  "发错码", "发错款", "坏了", "破了", "急死", "崩溃", "郁闷", "心累", "烦死",
                  "有完没完", "到底什么时候", "到底还要", "到底有没有", "到底能不能", "到底怎么",
                  "说好的", "敷衍", "不太满意", "不是很满意", "很不满", "催了好几", "催了几次",
                  "催了很多", "质量有问题", "质量问题", "有质量问题", "破损", "少发", "漏发",
                  "缺件", "少了一件", "天没动", "一直没更新", "一直没发", "一直没到",
                  "一直没人", "一直没回", "一直没收到", "天都没")
# Longer words that hold a banned or negative word without meaning it (保证金 is a
# deposit, 打包好 is packing, 垃圾袋 is goods): a match inside one of these is no finding.
BENIGN_PHRASES = ("保证金", "打包好", "包装好", "包好了", "给您包好", "帮您包好", "包好发",
                  "包好再", "垃圾袋", "垃圾桶", "垃圾分类")
# An agent's reply acknowledges the customer's feelings when it holds one of these.
ACKNOWLEDGEMENTS = ("抱歉", "不好意思", "对不起", "歉意", "理解您", "理解你", "明白您",
                    "体谅", "添麻烦", "久等", "辛苦", "遗憾", "放心", "别着急", "不要着急",
                    "消消气", "马上为您", "马上帮您", "立即为您", "帮您处理", "为您处理",
                    "帮您查", "为您核实", "帮您核实", "心情", "给您补偿", "给您解决", "非常理解",
                    "能理解", "不便", "困扰", "见谅", "包涵", "sorry", "别急", "别担心",
                    "不要担心", "尽快", "加急", "催促", "帮您催", "为您催", "跟进", "耐心",
                    "给您造成", "apolog")
# A customer's last words that end the talk (the chat may close right after them).
SIGN_OFFS = ("谢谢", "多谢", "谢了", "感谢", "好的", "好滴", "好哒", "好", "嗯", "ok", "okay",
             "拜拜", "再见", "没有了", "没了", "没事了", "知道了", "收到", "明白了", "行", "可以",
             "可以了", "了解", "亲", "哈", "啦", "呀", "的", "哦", "嗯嗯", "好吧", "thanks",
             "thank you", "bye", "辛苦了", "辛苦", "麻烦了", "麻烦你了", "麻烦您了", "好嘞",
             "晚安", "先这样", "就这样", "那就这样", "没问题", "明白", "懂了", "知道啦")
# A customer's message asks something when it holds a question mark, ends with a question
# particle, or holds one of these.
QUESTION_WORDS = ("怎么", "怎样", "什么", "多少", "几天", "几号", "几点", "哪", "为什么", "为啥",
                  "能不能", "可不可以", "可以吗", "有没有", "是不是", "会不会", "要不要",
                  "何时", "啥时候", "什么时候", "多久", "多长时间", "如何", "咋", "请问")
QUESTION_ENDS = ("吗", "么", "呢", "没")

LISTS = {"banned_words": BANNED_WORDS, "allowed_words": (), "rude_phrases": RUDE_PHRASES,
         "benign_phrases": BENIGN_PHRASES,
         "curt_replies": CURT_REPLIES, "negative_words": NEGATIVE_WORDS,
         "acknowledgements": ACKNOWLEDGEMENTS, "sign_offs": SIGN_OFFS,
         "question_words": QUESTION_WORDS}
NUMBERS = {"sample_rate": (0.0, 1.0, 0.1), "low_score": (0, 100, 80),
           "typing_grace_s": (1, 3600, 120)}
KEYS = ("off", "points", *LISTS, *NUMBERS)
MAX_ITEMS, MAX_ITEM_CHARS = 500, 32


class RulesError(ValueError):
    """A ``qa`` setting that cannot be used: ``code`` (a stable key) and its fields."""

    def __init__(self, message: str, code: str, **fields: Any):
        super().__init__(message)
        self.code, self.fields = code, fields


@dataclass(frozen=True)
class Rules:
    """One shop's rules, ready for ``engine.inspect`` (lists normalised)."""

    off: frozenset[str] = frozenset()
    points: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_POINTS))
    banned_words: tuple[str, ...] = BANNED_WORDS
    allowed_words: tuple[str, ...] = ()
    rude_phrases: tuple[str, ...] = RUDE_PHRASES
    curt_replies: tuple[str, ...] = CURT_REPLIES
    negative_words: tuple[str, ...] = NEGATIVE_WORDS
    benign_phrases: tuple[str, ...] = BENIGN_PHRASES
    acknowledgements: tuple[str, ...] = ACKNOWLEDGEMENTS
    sign_offs: tuple[str, ...] = SIGN_OFFS
    question_words: tuple[str, ...] = QUESTION_WORDS
    sample_rate: float = 0.1
    low_score: int = 80
    typing_grace_s: int = 120
    response_target_s: int = 180

    def on(self, rule: str) -> bool:
        """Whether ``rule`` is checked."""
        return rule not in self.off


def check_setting(value: Any) -> dict:
    """The ``qa`` shop setting checked and kept as given (lists stripped and without
    repeats); raises ``RulesError`` naming what is wrong."""
    if not isinstance(value, Mapping):
        raise RulesError("expected a mapping of QA settings", "qa_not_mapping")
    out: dict = {}
    for k, v in value.items():
        if k not in KEYS:
            raise RulesError(f"unknown QA setting {k!r} (known: {', '.join(KEYS)})",
                             "qa_unknown_key", key=str(k)[:64], known=", ".join(KEYS))
        if k == "off":
            items = _texts(k, v)
            bad = [r for r in items if r not in RULES]
            if bad:
                raise RulesError(f"unknown QA rule {bad[0]!r} (rules: {', '.join(RULES)})",
                                 "qa_unknown_rule", rule=bad[0][:64], rules=", ".join(RULES))
            out[k] = items
        elif k == "points":
            if not isinstance(v, Mapping):
                raise RulesError("points: expected a mapping of rule to points",
                                 "qa_points_not_mapping")
            points = {}
            for rule, n in v.items():
                if rule not in RULES:
                    raise RulesError(f"unknown QA rule {rule!r} (rules: {', '.join(RULES)})",
                                     "qa_unknown_rule", rule=str(rule)[:64],
                                     rules=", ".join(RULES))
                if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= 100:
                    raise RulesError(f"points.{rule}: expected a whole number 0..100",
                                     "qa_bad_points", rule=rule)
                points[rule] = n
            out[k] = points
        elif k in LISTS:
            out[k] = _texts(k, v)
        else:
            lo, hi, _ = NUMBERS[k]
            whole = k != "sample_rate"
            ok = not isinstance(v, bool) and isinstance(v, int if whole else int | float)
            if not ok or not lo <= v <= hi:
                raise RulesError(f"{k}: expected a number from {lo} to {hi}", "qa_bad_number",
                                 key=k, lo=lo, hi=hi)
            out[k] = float(v) if not whole else v
    return out


def _texts(k: str, v: Any) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise RulesError(f"{k}: expected a list of texts", "qa_not_list", key=k)
    if len(v) > MAX_ITEMS:
        raise RulesError(f"{k}: at most {MAX_ITEMS} items", "qa_list_too_long", key=k,
                         n=MAX_ITEMS)
    out: list[str] = []
    for x in v:
        x = x.strip()
        if any(ord(c) < 32 for c in x) or len(x) > MAX_ITEM_CHARS:
            raise RulesError(f"{k}: an item is one line of at most {MAX_ITEM_CHARS} "
                             "characters", "qa_bad_item", key=k, n=MAX_ITEM_CHARS)
        if x and x not in out:
            out.append(x)
    return out


def rules_of(setting: Mapping | None, *, response_target_s: int = 180,
             normalise=None) -> Rules:
    """A shop's ``Rules`` from its (checked) ``qa`` setting and response target;
    ``normalise`` (``engine.normalise``) is applied to every list."""
    s = dict(setting or {})
    norm = normalise or (lambda t: t)
    lists = {k: tuple(dict.fromkeys(norm(x) for x in s.get(k, LISTS[k]) if norm(x)))
             for k in LISTS}
    nums = {k: s.get(k, default) for k, (_, _, default) in NUMBERS.items()}
    rules = Rules(off=frozenset(s.get("off", ())),
                  points={**DEFAULT_POINTS, **s.get("points", {})},
                  response_target_s=int(response_target_s), **lists, **nums)
    allowed = set(rules.allowed_words)
    return replace(rules, banned_words=tuple(w for w in rules.banned_words
                                             if w not in allowed))
