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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..values import format_money, yuan
from .flows import FlowTurn, lang_of
from .request_words import (  # noqa: F401 - the request's words are read there
    _AGE,
    _AROUND,
    _BARE,
    _CHEAPER,
    _COLOUR,
    _CONCEPT_KEYS,
    _EN_STOP,
    _FILLER,
    _MAX,
    _MIN,
    _OTHERS,
    _PRICIER,
    _RANGE,
    _SIZE,
    _STRONG,
    _SUFFIXES,
    _THIS,
    _WEAK,
    CLASSES,
    CONCEPTS,
    OPPOSITE,
    clean,
    number,
    parse_age,
    parse_budget,
)

LIMIT = 3
FLOW = "recommend"
PRICED = 200  # the best-matching products priced (the budget is on the price paid)

# -- reading the message (the words themselves: cstool/bot/request_words.py) -------------

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


def _title_words(run: str, longest: int = 6) -> list[str]:
    """The pieces of a CJK run that could be a product's word: every substring of two to
    ``longest`` characters (a Latin or digit word as it is)."""
    if not re.match(r"[\u3400-\u9fff]", run):
        return [run] if len(run) > 1 else []
    return [run[i:j] for i in range(len(run))
            for j in range(i + 2, min(len(run), i + longest) + 1)]


def _names_another_kind(runs: Sequence[str], word: str | None,
                        items: Sequence[tuple[dict, str]]) -> bool:
    """Whether the request's own head noun is a kind the shop does not sell, so that the
    type found (``word``) is only a modifier of it or a loose match: the last words, where
    Chinese puts the head (孕妇睡觉用的枕头: 枕头, while 孕妇 is in a title). Known words, as
    a product's text or the request's concepts have them, never count. (A word before a
    category's head character is not checked: 约会裙子 asks for dresses, though no product
    names 约会.)"""
    texts = [text for _, text in items]

    def unknown(piece: str) -> bool:
        return (len(piece) > 1 and piece not in _CONCEPT_KEYS
                and not any(piece in text for text in texts))

    cjk = [r for r in runs if re.match(r"[\u3400-\u9fff]", r)]
    last = cjk[-1] if cjk else ""
    if last and (word is None or word not in last) and all(
            unknown(g) for g in [last, *_grams(last)]):
        return True  # the last words (the filler 用的 / 的 splits them off) name the kind
    return False


def _compound_of_unknown(runs: Sequence[str], head: str,
                         items: Sequence[tuple[dict, str]]) -> bool:
    """Whether the head character found (衣 of 卫衣) ends, in the request, a word of its
    own that the shop never names: two or more characters glued before it that no
    product's text has, nor the head with the one before it (防晒衣, 冲锋衣: other kinds
    than a 卫衣). A bare head with its suffix (裙子 of 约会裙子), a head a separate word
    follows (约会穿的裙子) or one character before it (长裙, 白裙) keeps the head's kind."""
    texts = [text for _, text in items]
    for run in runs:
        at = run.rfind(head)
        if at < 2 or (at + 1 < len(run) and run[at + 1] in _SUFFIXES):
            continue
        before, pair = run[at - 2:at], run[at - 1:at + 1]
        if before in _CONCEPT_KEYS or any(before in t or pair in t for t in texts):
            continue
        return True
    return False


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
         limit: int = LIMIT, *, keep_features: bool = False) -> Result:
    """Up to ``limit`` products (only those on sale and in stock) that match ``ask``,
    best first, each priced after discounts by ``quote(key)`` (subtotal, total,
    promotions, coupon). ``keep_features`` (a follow-up such as 便宜点的): only products
    matching as much of the request as the best match does, whatever their price, so that
    "cheaper" never trades the asked feature (降噪 of 降噪耳机) for a lower price."""
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
        # a title word of two characters or more, the longest one ending at a place (吸奶器
        # of 电动双边吸奶器, not its 奶器 that 恒温调奶器 shares)
        for g in dict.fromkeys(w for r in runs for w in _title_words(r)):
            if g not in _CONCEPT_KEYS and any(g in tt for tt in title_of.values()):
                found.append((t.rfind(g) + len(g), len(g), g, False))
        for r in runs:
            for i, ch in enumerate(r):
                if ch in heads and not (i and ch in _SUFFIXES):  # 子 of 裙子 is no head
                    found.append((t.rfind(ch) + 1, 1, ch, True))
        if found:
            _, _, word, by_head = max(found)
            types = [word]
            if _names_another_kind(runs, word, items) or (
                    by_head and _compound_of_unknown(runs, word, items)):
                return Result([], why="no_type")
    if not types and _names_another_kind(runs, None, items):
        return Result([], why="no_type")  # 夏天戴的墨镜 in a shop with no 墨镜: not summer wear
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
    if keep_features:
        most = max(x.hits for x in priced)
        priced = [x for x in priced if x.hits == most]
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
    if ask.order == "cheap" and ask.high is not None and ask.low is None:
        return f"比{yuan(ask.high + 1)}便宜" if zh else f"cheaper than {yuan(ask.high + 1)}"
    if ask.order == "dear" and ask.low is not None and ask.high is None:
        return f"比{yuan(ask.low - 1)}贵" if zh else f"dearer than {yuan(ask.low - 1)}"
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
                   prices_before: Sequence[int] = (),
                   before: Mapping[str, Any] | None = None) -> FlowTurn | None:
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
        if follow_up and before is not None:
            # a follow-up that found nothing leaves the last list's request as it was: the
            # next one ("有白色吗" after "便宜点的" found nothing) refines what was shown
            slots_ask = dict(before)
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
        result = rank(ask, _for_sale(commerce), commerce.quote, keep_features=True)
        return recommend_turn(ask, result, question, follow_up=True,
                              shown_before=list(prev.get("shown") or []), prices_before=prices,
                              before=prev)
    how = intent(question)
    if how is None or (how == "weak" and faq_confident):
        return None
    ask = parse(question)
    return recommend_turn(ask, rank(ask, _for_sale(commerce), commerce.quote), question)
