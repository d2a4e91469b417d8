"""The words of a request for products, read: the budget ("200以内", "三百左右"), a
child's age ("一岁半"), a colour, a size, the words that ask for a list (推荐, 哪个好) or
that say nothing about the goods (有没有, 适合 …), and a few concepts a customer names in
other words than a product (a season, a baby). Pure; :mod:`cstool.bot.recommend` matches
them against a shop's products.
"""

from __future__ import annotations

import re
import unicodedata

from .embeddings import to_simplified

AROUND = 0.2  # "300左右": 240 to 360

_STRONG = re.compile(
    r"推荐|哪个好|哪款好|哪个比较好|哪款比较好|哪种好|哪个牌子|什么牌子|买什么|买哪|选哪|"
    r"该买|求推|帮我挑|帮我选|给个建议|(?:穿|用|买|选|送|戴|吃|喝)什么|recommend|suggest|which\b.*\b(?:best|good|better)|"
    r"what\b.*\bshould i (?:buy|get)")
_WEAK = re.compile(r"有没有|有无|有什么|想买|想要|要买|打算买|适合|找一?[款个条件双台]|"
                   r"^有.{1,16}[吗嘛么][?？!！~。]*$|"
                   r"do you (?:have|sell)|looking for|any\b|i want")
# words about one product or order already there: "这款有M码吗" is not a request for a list
_THIS = re.compile(r"这款|这件|这个|这条|这双|这台|这套|那款|那件|它|订单|我的|我买的|已经买|"
                   r"this one|my order")
_NUM = r"(?:\d+(?:\.\d+)?\s*(?:k|千|w|万)?|[零〇一二两三四五六七八九十百千万]+)"
_CUR = r"\s*(?:元|块钱|块|rmb|¥|￥|yuan)?\s*"
_NOT_MONEY = r"(?!\s*(?:岁|周岁|个月|月|码|号|cm|mm|kg|g|ml|l\b|寸|天|段|小时|h\b|mah|w\b|米|斤))"
_AROUND = re.compile(rf"(?:预算|价位|价格|around|about)?\s*[¥￥]?({_NUM}){_CUR}"
                     rf"(?:左右|上下|附近|前后)|(?:around|about|roughly)\s*[¥￥$]?({_NUM})")
_RANGE = re.compile(rf"[¥￥]?({_NUM}){_CUR}(?:-|~|～|—|到|至|to)\s*[¥￥]?({_NUM}){_NOT_MONEY}"
                    rf"|between\s*[¥￥$]?({_NUM})\s*and\s*[¥￥$]?({_NUM})")
_MAX = re.compile(rf"[¥￥]?({_NUM}){_CUR}(?:以内|以下|之内|之下|内|封顶)"
                  rf"|(?:不超过|不要超过|别超过|不高于|低于|少于|不到|最多|预算|under|below|"
                  rf"less than|within|max|<)\s*[¥￥$]?({_NUM}){_NOT_MONEY}")
_MIN = re.compile(rf"[¥￥]?({_NUM}){_CUR}(?:以上|起)"
                  rf"|(?:高于|超过|不低于|至少|over|above|more than|>)\s*[¥￥$]?({_NUM})"
                  rf"{_NOT_MONEY}")
_BARE = re.compile(rf"[¥￥]({_NUM})|({_NUM})\s*(?:元|块钱|块|rmb|yuan)")
_AGE = re.compile(rf"(?<![-~～到至\d])({_NUM}|半)\s*(岁半|周岁|岁|个月|月龄|月)")
_NEWBORN = re.compile(r"新生儿|刚出生|newborn")
_CHEAPER = re.compile(r"便宜|实惠|划算|低价|更低|cheaper|less expensive|lower price")
_PRICIER = re.compile(r"贵一?点|好一?点|高端|更好|高档|pricier|better|premium|more expensive")
_OTHERS = re.compile(r"别的|其他|其它|换一批|换一换|换几个|还有吗|还有没有|更多|more|other|else")
_COLOURS = "白黑红蓝绿灰粉紫黄棕咖橙金银米杏驼青"
_COLOUR = re.compile(rf"([{_COLOURS}])色|(white|black|red|blue|green|grey|gray|pink|purple|"
                     r"yellow|brown|orange|gold|silver)")
_SIZE = re.compile(r"(?<![a-z0-9])([0-9]?x{0,3}[sml]|[0-9]{2,3})\s*(?:码|号)"
                   r"|size\s+([a-z0-9]{1,4})")
_FILLER = re.compile(
    r"有没有|有无|有什么|推荐|推薦|哪个好|哪款好|哪个比较好|哪款比较好|哪种好|哪个牌子|什么牌子|"
    r"比较好|买什么|买哪|选哪|该买|求推|帮我挑|帮我选|给个建议|想买|想要|要买|打算买|适合|"
    r"一款|一个|一条|一件|一双|一台|哪款|哪个|什么|给我|帮我|请问|麻烦|一下|可以|能不能|"
    r"穿的|用的|吃的|喝的|戴的|好用|好看|好的|的|吗|呢|啊|呀|吧|么|嘛|亲|我|你们|你|给|买|"
    r"穿|用|好|有|找|要|款|个|些|点|还|请|店|里|家|"
    r"\b(?:recommend|suggest|please|any|some|do you have|do you sell|looking for|which|what|"
    r"should|buy|get|best|good|i want|a|an|the|for|me|my|is|are|one|ones|i|you|can|need)\b")
_EN_STOP = {"with", "and", "or", "to", "in", "of", "on", "it", "that", "this"}

# Concepts a customer names that a product says in other words (a season's fabrics).
CONCEPTS: dict[str, tuple[str, ...]] = {
    "夏": ("夏", "清凉", "冰丝", "雪纺", "短袖", "薄款", "轻薄", "透气", "防晒", "亚麻", "凉"),
    "冬": ("冬", "加厚", "羽绒", "绒", "保暖", "羊毛", "毛呢", "呢", "棉服", "灯芯绒"),
    "秋": ("秋", "针织", "毛衣", "开衫", "卫衣", "风衣", "长袖", "灯芯绒"),
    "春": ("春", "风衣", "开衫", "长袖", "薄款", "针织"),
    "宝宝": ("婴儿", "幼儿", "儿童", "宝宝", "婴幼儿", "童"),
    "summer": ("summer", "夏", "轻薄", "透气"),
    "winter": ("winter", "冬", "保暖", "加厚"),
}
OPPOSITE = {"夏": "冬", "冬": "夏", "summer": "winter", "winter": "summer"}
_CONCEPT_KEYS = {"夏天": "夏", "夏季": "夏", "夏": "夏", "冬天": "冬", "冬季": "冬", "冬": "冬",
                 "保暖": "冬", "秋天": "秋", "秋季": "秋", "春天": "春", "春季": "春",
                 "宝宝": "宝宝", "婴儿": "宝宝", "孩子": "宝宝", "小孩": "宝宝",
                 "summer": "summer", "winter": "winter"}


# Words for a whole class of goods, and the heads of the categories that belong to it.
CLASSES = {"衣服": "衣服衫裙裤套恤", "衣裳": "衣服衫裙裤套恤", "clothes": "衣服衫裙裤套恤"}
_SUFFIXES = set("子儿头")  # noun suffixes: 裙子, 鞋子, 罐头 name 裙, 鞋, 罐


def clean(text: str) -> str:
    """NFKC, Simplified characters, lower case: the form every match is made on."""
    return to_simplified(unicodedata.normalize("NFKC", text or "")).lower().strip()


_CN = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
       "八": 8, "九": 9}
_UNIT = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def number(s: str) -> float | None:
    """A number as a customer writes it: ``200``, ``1.5k``, ``2千``, ``三百``, ``三百五``,
    ``两千五``, ``一万``. None when it is not one."""
    s = s.strip().lower().replace(" ", "")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|千|w|万)?", s)
    if m:
        mult = {"k": 1000, "千": 1000, "w": 10000, "万": 10000}.get(m.group(2) or "", 1)
        return float(m.group(1)) * mult
    if not s or any(ch not in _CN and ch not in _UNIT for ch in s):
        return None
    total, section, digit, last_unit = 0, 0, None, 1
    for ch in s:
        if ch in _CN:
            digit = _CN[ch]
            continue
        unit = _UNIT[ch]
        if unit == 10000:
            section = (section + (digit or 0)) * unit
            total, section, digit = total + section, 0, None
            last_unit = unit
            continue
        section += (1 if digit is None else digit) * unit
        digit, last_unit = None, unit
    if digit is not None:  # 三百五 = 350, 两千五 = 2500
        section += digit * (last_unit // 10 if last_unit >= 100 and len(s) > 1
                            and s[-2] in _UNIT else 1)
    return float(total + section)


def _first(m: re.Match) -> list[float]:
    out = []
    for g in m.groups():
        if g is not None:
            v = number(g)
            if v is not None:
                out.append(v)
    return out


def parse_budget(text: str) -> tuple[int | None, int | None, int | None, str]:
    """The budget a message states, in fen: (lowest, highest, target, the words that
    said it). "200以内" → (None, 20000, None); "三百左右" → (24000, 36000, 30000);
    "100-200" → (10000, 20000, None); "不超过150" → (None, 15000, None)."""
    t = clean(text)
    m = _AROUND.search(t)
    if m and _first(m):
        v = _first(m)[0] * 100
        return int(v * (1 - AROUND)), int(v * (1 + AROUND)), int(v), m.group(0)
    m = _RANGE.search(t)
    if m and len(_first(m)) == 2:
        a, b = sorted(_first(m))
        return int(a * 100), int(b * 100), None, m.group(0)
    m = _MAX.search(t)
    if m and _first(m):
        return None, int(_first(m)[0] * 100), None, m.group(0)
    m = _MIN.search(t)
    if m and _first(m):
        return int(_first(m)[0] * 100), None, None, m.group(0)
    m = _BARE.search(t)
    if m and _first(m):
        v = _first(m)[0] * 100
        return int(v * (1 - AROUND)), int(v * (1 + AROUND)), int(v), m.group(0)
    return None, None, None, ""


def parse_age(text: str) -> int | None:
    """A child's age in months: "一岁" → 12, "一岁半" → 18, "8个月" → 8, "新生儿" → 0."""
    t = clean(text)
    if _NEWBORN.search(t):
        return 0
    m = _AGE.search(t)
    if not m:
        return None
    v = 0.5 if m.group(1) == "半" else number(m.group(1))
    if v is None:
        return None
    unit = m.group(2)
    months = v * 12 if "岁" in unit else v
    return int(months + (6 if unit == "岁半" else 0))
