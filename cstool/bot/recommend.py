"""Product recommendations (pure: a message and the shop's products in, a short list out).

"有没有适合夏天穿的裙子 200以内", "给一岁宝宝买什么奶粉好", "降噪耳机哪个好",
"推荐一款300左右的跑鞋": :func:`parse` reads what is asked (the product *type*, the
wanted *attributes*, the budget, a baby's age, a colour or size), :func:`rank` picks up
to three of the shop's products on sale and in stock that match it, priced after the
shop's promotions and the customer's best coupon, and :func:`recommend_turn` writes the
reply as a product card. Follow-ups in the same chat ("便宜点的", "有白色吗",
"还有别的吗", "200以内的呢") refine the last list: :func:`refine` merges them into the
request kept in the flow's slots.

Words are matched on the product's own text (title, category, attribute names and
values), so nothing here is tied to one catalogue: a query's *type* is a word (or the
head character, 裙 of 裙子) that names some category or title of the shop; the other
words, and a few concepts (a season, an age), are attributes. Traditional characters
are read as Simplified (opencc when installed).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..values import format_money, yuan
from .embeddings import to_simplified
from .flows import FlowTurn, lang_of

LIMIT = 3
FLOW = "recommend"
PRICED = 200  # the best-matching products priced (the budget is on the price paid)
AROUND = 0.2  # "300左右": 240 to 360

# -- reading the message ---------------------------------------------------------------------

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


def intent(text: str) -> str | None:
    """``strong`` (推荐, 哪个好, a budget), ``weak`` (有没有, 想买, 适合) or None: how
    clearly the message asks for products to buy."""
    t = clean(text)
    if _THIS.search(t):
        return None
    if _STRONG.search(t) or parse_budget(t)[3]:
        return "strong"
    return "weak" if _WEAK.search(t) else None


@dataclass
class Ask:
    """What the customer asks for: the message's words (``text``, accumulated over the
    follow-ups), a budget in fen (``low``/``high``/``target``), an age in months, and
    the products to leave out (``exclude``: shown already, "还有别的吗")."""

    text: str
    low: int | None = None
    high: int | None = None
    target: int | None = None
    age: int | None = None
    exclude: list[str] = field(default_factory=list)
    order: str = ""  # "cheap": cheapest first; "dear": dearest first
    asked: str = ""  # what the last follow-up asked: "cheap", "dear", "others" (not kept)

    def to_dict(self) -> dict[str, Any]:
        """The form kept in the conversation's slots."""
        return {"text": self.text, "low": self.low, "high": self.high, "target": self.target,
                "age": self.age, "exclude": list(self.exclude), "order": self.order}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Ask:
        """Back from :meth:`to_dict`."""
        return cls(text=str(d.get("text") or ""), low=d.get("low"), high=d.get("high"),
                   target=d.get("target"), age=d.get("age"),
                   exclude=list(d.get("exclude") or []), order=str(d.get("order") or ""))


def parse(text: str) -> Ask:
    """What a recommendation request asks for (see :class:`Ask`)."""
    t = clean(text)
    low, high, target, _ = parse_budget(t)
    return Ask(text=t, low=low, high=high, target=target, age=parse_age(t))


def is_refinement(text: str) -> bool:
    """A short follow-up that narrows or changes the last list: cheaper, dearer, other
    ones, a colour, a size, a budget."""
    t = clean(text)
    if len(re.sub(r"\s+", "", t)) > 24:
        return False
    return bool(_CHEAPER.search(t) or _PRICIER.search(t) or _OTHERS.search(t)
                or _COLOUR.search(t) or _SIZE.search(t) or parse_budget(t)[3])


def refine(prev: Mapping[str, Any], text: str, shown_prices: Sequence[int]) -> Ask:
    """The last request (``prev``, from the slots) changed by a follow-up: its words
    added, a new budget replacing the old, "便宜点的" (below the cheapest shown),
    "贵一点的" (above the dearest shown), "还有别的吗" (leave out those shown)."""
    ask = Ask.from_dict(prev)
    t = clean(text)
    shown = list(prev.get("shown") or [])
    low, high, target, said = parse_budget(t)
    if said:
        ask.low, ask.high, ask.target, ask.order = low, high, target, ""
    if _CHEAPER.search(t) and shown_prices:
        ask.high, ask.target, ask.order = min(shown_prices) - 1, None, "cheap"
        ask.low, ask.asked = None, "cheap"
    elif _PRICIER.search(t) and shown_prices:
        ask.low, ask.target, ask.order = max(shown_prices) + 1, None, "dear"
        ask.high, ask.asked = None, "dear"
    if _OTHERS.search(t):
        ask.exclude = list(dict.fromkeys([*ask.exclude, *shown]))
        ask.asked = "others"
    rest = _FILLER.sub(" ", _OTHERS.sub(" ", _CHEAPER.sub(" ", _PRICIER.sub(" ", t))))
    if said:
        rest = rest.replace(clean(said), " ")
    ask.text = f"{ask.text} {rest}".strip()
    age = parse_age(t)
    if age is not None:
        ask.age = age
    return ask


# -- matching products -----------------------------------------------------------------------

def _runs(text: str) -> list[str]:
    """The CJK runs and the Latin/digit words of a cleaned text, budget and age removed."""
    t = _AROUND.sub(" ", text)
    t = _RANGE.sub(" ", t)
    t = _MAX.sub(" ", t)
    t = _MIN.sub(" ", t)
    t = _BARE.sub(" ", t)
    t = _AGE.sub(" ", t)
    t = _SIZE.sub(" ", t)
    t = _COLOUR.sub(" ", t)
    t = _FILLER.sub(" ", t)
    return [r for r in re.findall(r"[\u3400-\u9fff]+|[a-z0-9]+", t)
            if r not in _EN_STOP and not re.fullmatch(r"[0-9]+", r)]


def _grams(run: str) -> list[str]:
    if not re.match(r"[\u3400-\u9fff]", run):
        return [run]
    if len(run) == 1:
        return [run]
    return [run[i:i + 2] for i in range(len(run) - 1)]


def _ptext(p: Mapping[str, Any]) -> str:
    attrs = p.get("attributes") or {}
    bits = [str(p.get("title") or ""), str(p.get("category") or "")]
    for k, v in attrs.items():
        bits.append(str(k))
        bits.extend(str(x) for x in (v if isinstance(v, list) else [v]))
    return clean(" ".join(bits))


def _colour_values(p: Mapping[str, Any]) -> str:
    attrs = p.get("attributes") or {}
    vals = [str(x) for k, v in attrs.items() if "色" in str(k) or "colo" in str(k).lower()
            for x in (v if isinstance(v, list) else [v])]
    return clean(" ".join(vals) if vals else str(p.get("title") or ""))


def _sizes(p: Mapping[str, Any]) -> set[str] | None:
    attrs = p.get("attributes") or {}
    for k, v in attrs.items():
        if any(w in str(k).lower() for w in ("尺码", "码", "size", "鞋码")):
            return {clean(str(x)) for x in (v if isinstance(v, list) else [v])}
    return None


_AGE_RANGE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|~|～|至|到)\s*(\d+(?:\.\d+)?)\s*(个月|月|岁)")


def _age_fits(ptext: str, months: int) -> bool | None:
    """Whether a product's stated age range ("12-36个月", "1-3岁") holds ``months``;
    None when it states none."""
    found = None
    for m in _AGE_RANGE.finditer(ptext):
        k = 12 if m.group(3) == "岁" else 1
        lo, hi = float(m.group(1)) * k, float(m.group(2)) * k
        if lo <= months < hi or (months == hi and hi == lo):
            return True
        found = False
    return found


@dataclass
class Pick:
    """One recommended product with its price after discounts (fen)."""

    product: dict
    price: int
    total: int
    promotions: list[str]
    coupon: str | None
    hits: int
    score: float

    def card(self) -> dict[str, Any]:
        """The product card in the message's payload (money in yuan, as numbers)."""
        p = self.product
        return {"product": p["key"], "title": p.get("title"), "category": p.get("category"),
                "price": format_money(self.price),
                "price_after_discount": format_money(self.total),
                "saving": format_money(self.price - self.total),
                "promotions": list(self.promotions),
                "coupon": self.coupon, "stock": p.get("stock"),
                "attributes": p.get("attributes") or {}}


@dataclass
class Result:
    """What :func:`rank` found: the picks (best first) and why there are none
    (``no_type``: nothing of that kind on sale; ``budget``/``filters``: some of that
    kind, none within the budget or with that colour/size/age)."""

    picks: list[Pick]
    matched: int = 0
    why: str = ""
    cheapest: int | None = None


Quote = Callable[[str], Mapping[str, Any] | None]


def _sellable(p: Mapping[str, Any]) -> bool:
    return p.get("status", "on_sale") == "on_sale" and int(p.get("stock") or 0) > 0


def rank(ask: Ask, products: Sequence[Mapping[str, Any]], quote: Quote,
         limit: int = LIMIT) -> Result:
    """Up to ``limit`` products (only those on sale and in stock) that match ``ask``,
    best first, each priced after discounts by ``quote(key)`` (subtotal, total,
    promotions, coupon)."""
    items = [(dict(p), _ptext(p)) for p in products if _sellable(p)]
    cat_of = {p["key"]: clean(str(p.get("category") or "")) for p, _ in items}
    title_of = {p["key"]: clean(str(p.get("title") or "")) for p, _ in items}
    t = ask.text
    runs = _runs(t)
    grams = list(dict.fromkeys(g for r in runs for g in _grams(r)))
    cats = set(cat_of.values()) - {""}
    heads = {c[-1] for c in cats if re.match(r"[\u3400-\u9fff]", c[-1])}
    # the type: the words naming a category of the shop; else the head noun, the last
    # of: a word (two characters or more, not a season or an age) some titles use (毛衣
    # in 麻花纹宽松毛衣) and the head character of a category (服 of 衣服 → 运动服, 裙 of
    # 裙子 → 连衣裙, 半身裙). Chinese puts the head noun last: 夏天跑步穿的衣服 asks for
    # clothes (跑步 is then an attribute). A head character matches categories only (衣
    # of 毛衣 is not 连衣裙).
    types = [g for g in grams if any(g in c for c in cats)]
    by_head = False
    if not types:
        for word, heads_of in CLASSES.items():
            if word in t:  # 衣服: whatever category ends like clothes (卫衣, 衬衫, 连衣裙 …)
                types, by_head = [ch for ch in heads_of if ch in heads], True
                break
    if not types:
        found = []
        for g in grams:
            if len(g) > 1 and g not in _CONCEPT_KEYS and any(g in tt for tt in
                                                             title_of.values()):
                found.append((t.rfind(g) + len(g), len(g), g, False))
        for r in runs:
            for i, ch in enumerate(r):
                if ch in heads and not (i and ch in _SUFFIXES):  # 子 of 裙子 is no head
                    found.append((t.rfind(ch) + 1, 1, ch, True))
        if found:
            _, _, word, by_head = max(found)
            types = [word]
    concepts = list(dict.fromkeys(k for w, k in _CONCEPT_KEYS.items() if w in t))
    # the attributes: what is left of the words once the type and the concepts are out
    said = sorted({*types, *(w for w in _CONCEPT_KEYS if w in t)}, key=len, reverse=True)
    attrs = []
    for r in runs:
        for w in said:
            r = r.replace(w, " ")
        attrs += [g for piece in r.split() if len(piece) > 1 for g in _grams(piece)]
        # one character left beside the type (壳 of 手机壳) counts when titles use it
        attrs += [piece for piece in r.split() if len(piece) == 1 and not by_head
                  and re.match(r"[\u3400-\u9fff]", piece)
                  and any(piece in tt for tt in title_of.values())]
    attrs = list(dict.fromkeys(attrs))
    colour = _COLOUR.search(t)
    size = _SIZE.search(t)
    if not types and not attrs and not concepts:
        return Result([], why="no_type")

    def kind_of(p: dict, text: str) -> bool:
        if not types:
            return True
        cat, title = cat_of[p["key"]], title_of[p["key"]]
        if by_head:
            return any(cat.endswith(ty) if cat else ty in title for ty in types)
        return any(ty in cat or ty in title for ty in types)

    kind = [(p, text) for p, text in items if kind_of(p, text)]
    # 充电宝: the power banks (充电, 电宝), not the chargers (充电)
    if len(types) > 1 and kind and not by_head:
        def named(p: dict) -> int:
            where = f"{cat_of[p['key']]} {title_of[p['key']]}"
            return sum(1 for ty in types if ty in where)
        most = max(named(p) for p, _ in kind)
        kind = [(p, text) for p, text in kind if named(p) == most]
    if not types:  # no type named: whatever the attributes find
        kind = [(p, text) for p, text in kind
                if any(a in text for a in attrs) or any(
                    w in text for k in concepts for w in CONCEPTS[k])]
    if not kind:
        return Result([], why="no_type")
    fitted = []
    for p, text in kind:
        if p["key"] in ask.exclude:
            continue
        if colour:
            want = colour.group(1) or colour.group(2)
            if want not in _colour_values(p):
                continue
        if size:
            want = (size.group(1) or size.group(2) or "").lower()
            sizes = _sizes(p)
            if sizes is None or want not in sizes:
                continue
        if ask.age is not None and _age_fits(text, ask.age) is False:
            continue
        hits = sum(1 for a in attrs if a in text) + sum(
            1 for k in concepts if any(w in text for w in CONCEPTS[k]))
        if any(k in OPPOSITE and OPPOSITE[k] not in concepts and not any(
                w in text for w in CONCEPTS[k]) and any(w in text for w in CONCEPTS[OPPOSITE[k]])
               for k in concepts):
            continue  # a winter coat for a summer question
        if ask.age is not None and _age_fits(text, ask.age):
            hits += 1
        score = hits + 0.1 * sum(1 for ty in types if ty in cat_of[p["key"]])
        fitted.append((p, hits, score))
    if not fitted:
        return Result([], matched=len(kind), why="filters")
    fitted.sort(key=lambda f: (-f[2], -int(f[0].get("stock") or 0), f[0]["key"]))
    priced: list[Pick] = []
    for p, hits, score in fitted[:PRICED]:
        q = quote(p["key"]) or {}
        total = int(q.get("total", p.get("price") or 0))
        priced.append(Pick(p, int(q.get("subtotal", p.get("price") or 0)), total,
                           list(q.get("promotions") or []), q.get("coupon"), hits, score))
    cheapest = min(x.total for x in priced)
    inside = [x for x in priced if (ask.low is None or x.total >= ask.low)
              and (ask.high is None or x.total <= ask.high)]
    if not inside:
        return Result([], matched=len(priced), why="budget", cheapest=cheapest)
    best = max(x.hits for x in inside)  # those matching the most of what was asked
    inside = [x for x in inside if x.hits == best]

    def key(x: Pick) -> tuple:
        if ask.order == "cheap":
            return (x.total, -x.score, x.product["key"])
        if ask.order == "dear":
            return (-x.total, -x.score, x.product["key"])
        near = abs(x.total - ask.target) if ask.target is not None else 0
        return (-x.score, near, -int(x.product.get("stock") or 0), x.product["key"])

    inside.sort(key=key)
    return Result(inside[:limit], matched=len(priced))


# -- the reply -------------------------------------------------------------------------------

def _budget_words(ask: Ask, zh: bool) -> str:
    if ask.target is not None:
        return f"{yuan(ask.target)}左右" if zh else f"around {yuan(ask.target)}"
    if ask.low is not None and ask.high is not None:
        return f"{yuan(ask.low)}–{yuan(ask.high)}" if zh else \
            f"between {yuan(ask.low)} and {yuan(ask.high)}"
    if ask.high is not None:
        return f"{yuan(ask.high)}以内" if zh else f"under {yuan(ask.high)}"
    if ask.low is not None:
        return f"{yuan(ask.low)}以上" if zh else f"over {yuan(ask.low)}"
    return ""


def recommend_turn(ask: Ask, result: Result, question: str, *, follow_up: bool = False,
                   shown_before: Sequence[str] = (),
                   prices_before: Sequence[int] = ()) -> FlowTurn | None:
    """The reply to a request: the list as a product card (kind ``product``, payload
    ``products``), or why there is none. None when the shop sells nothing of the kind
    asked and this is a first request (the knowledge answers instead)."""
    zh = lang_of(question) == "zh"
    slots_ask = ask.to_dict()
    if not result.picks:
        if result.why == "no_type" and not follow_up:
            return None
        if follow_up and ask.asked == "cheap" and result.why != "filters":
            text = ("刚才那几款已经是最实惠的了哦~" if zh else
                    "Those were already the cheapest ones.")
        elif follow_up and ask.asked == "dear" and result.why != "filters":
            text = ("暂时没有更高端的了，刚才那几款就是最好的哦~" if zh else
                    "There is nothing dearer; those were the best.")
        elif follow_up and ask.asked == "others" and result.why != "filters":
            text = ("暂时只有这几款符合要求哦，可以换个要求试试~" if zh else
                    "Those are all that match for now; try asking another way.")
        elif result.why == "budget" and result.cheapest is not None:
            text = (f"抱歉亲，{_budget_words(ask, True)}暂时没有合适的，这类商品到手价最低"
                    f"{yuan(result.cheapest)}，要不要看看？" if zh else
                    f"Sorry, nothing fits {_budget_words(ask, False)}; the lowest price for "
                    f"these is {yuan(result.cheapest)}.")
        else:
            text = ("抱歉亲，暂时没有符合这些要求的有货商品，可以换个颜色、尺码或预算试试~" if zh
                    else "Sorry, nothing in stock matches that; try another colour, size or "
                         "budget.")
        slots_ask["shown"], slots_ask["prices"] = list(shown_before), list(prices_before)
        return FlowTurn(FLOW, "none", text, payload={"products": []},
                        slots={FLOW: slots_ask})
    cards = [x.card() for x in result.picks]
    budget = _budget_words(ask, zh)
    if zh:
        lines = [f"为您挑了{len(cards)}款" + (f"（{budget}）" if budget else "") + "："]
        for i, (x, c) in enumerate(zip(result.picks, cards, strict=True), start=1):
            extra = f"（原价{yuan(x.price)}）" if x.total != x.price else ""
            lines.append(f"{i}. {c['title']} 到手价{yuan(x.total)}{extra}")
        lines.append("想看便宜点的、换个颜色，或者还有别的，直接告诉我~")
    else:
        lines = [f"Here are {len(cards)} picks" + (f" ({budget})" if budget else "") + ":"]
        for i, (x, c) in enumerate(zip(result.picks, cards, strict=True), start=1):
            extra = f" (list {yuan(x.price)})" if x.total != x.price else ""
            lines.append(f"{i}. {c['title']}: {yuan(x.total)}{extra}")
        lines.append("Ask for cheaper ones, another colour, or more.")
    slots_ask["shown"] = [c["product"] for c in cards]
    slots_ask["prices"] = [x.total for x in result.picks]
    first = cards[0]
    payload = {"product": first["product"], "title": first["title"],
               "price": first["price_after_discount"], "products": cards}
    return FlowTurn(FLOW, "list", "\n".join(lines), kind="product", payload=payload,
                    slots={FLOW: slots_ask, "product": first["product"]})


# -- the bot's step ---------------------------------------------------------------------------

def _for_sale(commerce: Any) -> list[dict]:
    fn = getattr(commerce, "for_sale", None)
    return list(fn() if fn is not None else commerce.products())


def answer(question: str, commerce: Any, slots: Mapping[str, Any], last: Mapping[str, Any],
           faq_confident: bool) -> FlowTurn | None:
    """The knowledge bot's recommendation step: a follow-up refining the last list
    (the last reply was one and the message is a short refinement), or a new request
    (``intent`` strong, or weak while the knowledge has no confident answer) that
    finds products of the shop. None: not a recommendation; the knowledge answers."""
    if commerce is None:
        return None
    prev = slots.get(FLOW)
    if isinstance(prev, Mapping) and last.get("flow") == FLOW and is_refinement(question):
        prices = [int(x) for x in prev.get("prices") or []]
        ask = refine(prev, question, prices)
        result = rank(ask, _for_sale(commerce), commerce.quote)
        return recommend_turn(ask, result, question, follow_up=True,
                              shown_before=list(prev.get("shown") or []), prices_before=prices)
    how = intent(question)
    if how is None or (how == "weak" and faq_confident):
        return None
    ask = parse(question)
    return recommend_turn(ask, rank(ask, _for_sale(commerce), commerce.quote), question)
