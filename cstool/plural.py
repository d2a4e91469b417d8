"""Counted nouns: "1 group", "2 groups", "1 entry", "3 entries"; and Chinese with the
noun's measure word ("1 位客户", "3 个分组", "2 条消息")."""

from __future__ import annotations

IRREGULAR = {"person": "people", "policy": "policies", "reply": "replies",
             "entry": "entries", "SLA policy": "SLA policies"}

# The measure word (量词) of nouns the product counts in Chinese.
MEASURE_WORDS = {"客户": "位", "顾客": "位", "客服": "位", "坐席": "位", "会话": "个",
                 "分组": "个", "店铺": "家", "商品": "件", "订单": "笔", "消息": "条",
                 "工单": "张", "优惠券": "张", "规则": "条", "回复": "条", "条目": "条",
                 "记录": "条"}


def plural(noun: str) -> str:
    """The English plural of ``noun`` (its last word: 'quick reply' -> 'quick replies')."""
    if noun in IRREGULAR:
        return IRREGULAR[noun]
    head, _, last = noun.rpartition(" ")
    if last in IRREGULAR:
        word = IRREGULAR[last]
    elif last.endswith("y") and last[-2:-1] not in tuple("aeiou"):
        word = last[:-1] + "ies"
    elif last.endswith(("s", "x", "z", "ch", "sh")):
        word = last + "es"
    else:
        word = last + "s"
    return f"{head} {word}" if head else word


def count(n: int, noun: str, several: str | None = None) -> str:
    """``n`` with ``noun`` agreeing: ``count(1, "group")`` is "1 group", else "n groups"
    (``several`` when the plural is irregular). Thousands get a comma."""
    return f"{n:,} {noun if n == 1 else (several or plural(noun))}"


def count_zh(n: int, noun: str) -> str:
    """``n`` with the noun's measure word: ``count_zh(3, "客户")`` is "3 位客户"
    (个 for a noun not listed)."""
    return f"{n:,} {MEASURE_WORDS.get(noun, '个')}{noun}"
