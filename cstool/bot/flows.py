"""Multi-turn flows of the knowledge bot over the commerce data (pure: no storage).

A knowledge entry tagged ``flow:order_status``, ``flow:product`` or ``flow:coupons``
starts its flow when the bot answers with it and knows the customer:

* **order status**: which order (asked when the customer has several and the message
  does not say), then its status and logistics timeline;
* **product**: which model (from the message, the product page the chat started on,
  or asked), then its price, stock and the attributes asked about (sizes, colours);
* **coupons**: the coupons the customer can use now and the shop's running
  promotions, and for a product the price after them (asked which product if none).

The flow's *slots* (``order``, ``product``) are remembered for later turns of the
conversation; a question the customer has not answered yet is *pending*: the next
message may answer it ("2", "第二个", the order number, the product's name) or ask
something else (then the flow is dropped and the message is a new question).

Data comes from a :class:`Commerce` object (money in fen, times in epoch ms).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..values import yuan

FLOW_PREFIX = "flow:"
FLOWS = ("order_status", "product", "coupons")
MAX_OPTIONS = 5
LOW_STOCK = 20

STATUS_NAMES = {
    "zh": {"created": "待付款", "paid": "已付款，待发货", "shipped": "已发货",
           "delivered": "已签收", "refund_requested": "退款处理中", "refunded": "已退款",
           "cancelled": "已取消"},
    "en": {"created": "awaiting payment", "paid": "paid, not shipped yet", "shipped": "shipped",
           "delivered": "delivered", "refund_requested": "refund in progress",
           "refunded": "refunded", "cancelled": "cancelled"},
}


class Commerce(Protocol):
    """What flows read about one customer in one shop (None customer: unknown)."""

    customer: str | None

    def orders(self) -> list[dict]:
        """The customer's orders in the shop, newest first: key, status, created_at,
        delivered_at, total, items [{product, title, quantity}], carrier, tracking_no,
        logistics [{at, status, detail}] (oldest first)."""

    def products(self) -> list[dict]:
        """The shop's products on sale: key, title, category, price, stock, attributes."""

    def product(self, key: str | None) -> dict | None:
        """One product of the shop by key."""

    def entry_product(self) -> str | None:
        """The product whose page the conversation started on."""

    def coupons(self) -> list[dict]:
        """Coupons the customer holds, unused and valid now, in this shop."""

    def promotions(self) -> list[dict]:
        """The shop's promotions running now."""

    def quote(self, product: str) -> dict | None:
        """One unit of ``product`` priced after promotions and the customer's best
        coupon: subtotal, total (fen), promotions (names), coupon (name or None),
        gifts (titles)."""

    def when(self, ms: int) -> str:
        """A time as the customer reads it: ``11-19 18:00`` in the shop's zone."""


@dataclass
class FlowTurn:
    """One reply of a flow: the message, what to remember, what is still asked."""

    flow: str
    step: str
    text: str
    kind: str = "text"
    payload: dict[str, Any] = field(default_factory=dict)
    slots: dict[str, Any] = field(default_factory=dict)
    pending: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """The flow step for ``bot ask --json``: name, step, slots and the options."""
        out: dict[str, Any] = {"name": self.flow, "step": self.step, "slots": dict(self.slots)}
        if self.pending and self.pending.get("options"):
            out["options"] = [o["key"] for o in self.pending["options"]]
        return out


def flow_of(entry: Mapping[str, Any] | None) -> str | None:
    """The flow an entry starts (its ``flow:NAME`` tag), or None."""
    for tag in (entry or {}).get("tags") or ():
        if isinstance(tag, str) and tag.startswith(FLOW_PREFIX):
            name = tag[len(FLOW_PREFIX):].strip()
            if name in FLOWS:
                return name
    return None


def lang_of(text: str) -> str:
    """``zh`` when the text has Chinese characters or no letters at all, else ``en``."""
    if any("\u3400" <= ch <= "\u9fff" for ch in text):
        return "zh"
    return "en" if re.search(r"[A-Za-z]", text) else "zh"


# -- picking one of the options -----------------------------------------------------------

_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9, "十": 10}
_EN_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3,
                "fourth": 4, "4th": 4, "fifth": 5, "5th": 5, "one": 1, "two": 2, "three": 3,
                "four": 4, "five": 5}
_FILLER = re.compile(r"[吧呢啊呀哦喔嗯的个亲就好要选是那这查看请帮我]|please|the|number|option|"
                     r"no\.?|#")
_LATEST = re.compile(r"最近|最新|刚买|刚下单|最后一|latest|most recent|newest|last one")


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def _number(text: str) -> int | None:
    """A 1-based choice number in a reply: "2", "第二个", "选3", "the second one"."""
    t = _clean(text)
    m = re.search(r"第\s*([0-9]{1,2}|[一二两三四五六七八九十])\s*[个单笔项款条件张种]?", t)
    if m:
        g = m.group(1)
        return int(g) if g.isdigit() else _CN_DIGITS[g]
    bare = re.sub(r"[\s\W_]+", "", _FILLER.sub("", t))
    if re.fullmatch(r"[0-9]{1,2}", bare):
        return int(bare)
    if bare in _CN_DIGITS:
        return _CN_DIGITS[bare]
    for word, n in _EN_ORDINALS.items():
        if re.search(rf"(?<![a-z0-9]){word}(?![a-z0-9])", t) and len(t) <= 30:
            return n
    return None


def _label_features(label: str) -> set[str]:
    t = _clean(label)
    feats = {t[i:i + 2] for i in range(len(t) - 1)
             if all("\u3400" <= ch <= "\u9fff" for ch in t[i:i + 2])}
    feats |= {w for w in re.findall(r"[a-z0-9]{2,}", t)}
    return feats


def by_id(text: str, options: Sequence[Mapping[str, Any]]) -> int | None:
    """The option whose key or an alias (a tracking number) the text contains."""
    t = _clean(text)
    for i, o in enumerate(options):
        if str(o["key"]).lower() in t:
            return i
        if any(a and str(a).lower() in t for a in o.get("aliases") or ()):
            return i
    return None


def pick(text: str, options: Sequence[Mapping[str, Any]]) -> int | None:
    """Which option (0-based) a reply chooses, or None: by key, alias (a tracking
    number), position ("2", "第二个", "the second"), "the latest", or by the words of
    its label (product names) when one option clearly matches best."""
    if not options:
        return None
    t = _clean(text)
    i = by_id(text, options)
    if i is not None:
        return i
    n = _number(text)
    if n is not None:
        return n - 1 if 1 <= n <= len(options) else None
    if _LATEST.search(t):
        return 0
    scores = []
    for o in options:
        feats = _label_features(str(o.get("label", "")))
        scores.append(sum(1 for f in feats if f in t))
    best = max(scores)
    if best >= 2 and scores.count(best) == 1:
        return scores.index(best)
    return None


# -- finding products in a message ---------------------------------------------------------

def products_in_text(text: str, products: Sequence[Mapping[str, Any]]) -> list[dict]:
    """Products a message names, best first: its key, words of its title, its category.

    One clear winner comes back alone; several equally named (a category word, say)
    come back together for the customer to choose from.
    """
    t = _clean(text)
    if not t:
        return []
    scored: list[tuple[int, int, Mapping[str, Any]]] = []
    for i, p in enumerate(products):
        if str(p["key"]).lower() in t:
            return [dict(p)]
        score = sum(1 for f in _label_features(p.get("title") or "") if f in t)
        cat = (p.get("category") or "").lower()
        if cat and cat in t:
            score += 2
        if score >= 2:
            scored.append((score, -i, p))
    if not scored:
        return []
    scored.sort(key=lambda s: (s[0], s[1]), reverse=True)
    best = scored[0][0]
    top = [dict(p) for s, _, p in scored if s == best]
    if len(top) == 1 and (len(scored) == 1 or best >= scored[1][0] + 2 or best >= 4):
        return top
    return [dict(p) for _, _, p in scored[:MAX_OPTIONS]]


# -- texts ---------------------------------------------------------------------------------

def _short(title: str, n: int = 14) -> str:
    return title if len(title) <= n else title[:n] + "…"


def _numbered(lines: Sequence[str]) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, start=1))


def _order_items(o: Mapping[str, Any], lang: str) -> str:
    items = o.get("items") or []
    if not items:
        return o["key"]
    first = _short(items[0].get("title") or items[0]["product"])
    n = sum(i.get("quantity", 1) for i in items)
    if lang == "en":
        return first + (f" and {len(items) - 1} more" if len(items) > 1 else f" x{n}")
    return first + (f"等{n}件" if len(items) > 1 else f"×{n}")


def order_label(o: Mapping[str, Any], commerce: Commerce, lang: str) -> str:
    """One line naming an order: date, items, total, status."""
    date = commerce.when(o["created_at"])[:5]
    status = STATUS_NAMES[lang].get(o["status"], o["status"])
    return f"{date} {_order_items(o, lang)} {yuan(o.get('total') or 0)} {status}"


def _order_card(o: Mapping[str, Any], commerce: Commerce, lang: str) -> FlowTurn:
    status = STATUS_NAMES[lang].get(o["status"], o["status"])
    track = list(o.get("logistics") or [])
    zh = lang == "zh"
    head = (f"订单 {o['key']}（{_order_items(o, lang)}）：{status}" if zh
            else f"Order {o['key']} ({_order_items(o, lang)}): {status}")
    lines = [head]
    if o.get("carrier") or o.get("tracking_no"):
        lines.append(f"{o.get('carrier') or ''} {o.get('tracking_no') or ''}".strip())
    if track:
        lines.append("最新物流：" if zh else "Latest tracking:")
        for e in reversed(track[-4:]):
            lines.append(f"· {commerce.when(e['at'])} {e['status']} {e.get('detail') or ''}"
                         .rstrip())
    elif o["status"] == "paid":
        lines.append("仓库正在备货，付款后48小时内发出，发出后这里就能看到物流哦~" if zh else
                     "The warehouse is packing it; it ships within 48 hours of payment.")
    elif o["status"] == "created":
        lines.append("还没有付款哦，请在「我的订单」里完成付款，超时未付款的订单会自动关闭。" if zh
                     else "It is not paid yet: pay under My orders before it closes itself.")
    if o["status"] == "shipped" and track:
        lines.append("包裹正在路上，有异常我们会第一时间联系您~" if zh else
                     "It is on its way; we will tell you if anything goes wrong.")
    payload = {
        "order": o["key"], "status": o["status"], "status_name": status,
        "items": [{"product": i["product"], "title": i.get("title"),
                   "quantity": i.get("quantity", 1)} for i in o.get("items") or []],
        "total": yuan(o.get("total") or 0), "carrier": o.get("carrier"),
        "tracking_no": o.get("tracking_no"),
        "logistics": [{"at": commerce.when(e["at"]), "status": e["status"],
                       "detail": e.get("detail")} for e in track],
    }
    return FlowTurn("order_status", "timeline", "\n".join(lines), kind="order", payload=payload,
                    slots={"order": o["key"]})


def _stock_text(p: Mapping[str, Any], lang: str) -> str:
    zh = lang == "zh"
    if p.get("status") == "off_shelf":
        return "已下架" if zh else "no longer sold"
    stock = int(p.get("stock") or 0)
    if stock <= 0:
        return "暂时缺货" if zh else "out of stock for now"
    if stock < LOW_STOCK:
        return f"库存紧张，仅剩{stock}件" if zh else f"only {stock} left"
    return "现货充足" if zh else "in stock"


_SIZE_ASKED = re.compile(
    r"(?<![a-z0-9])(?:([0-9]?x{0,3}[sml])\s*(?:码|号)|([0-9]{2,3})\s*码)"
    r"|size\s+([0-9]?x{0,3}[sml]|[0-9]{1,3})(?![a-z0-9])")


def _mentioned(value: str, t: str) -> bool:
    v = value.lower()
    if re.fullmatch(r"[a-z0-9.]+", v):
        return re.search(rf"(?<![a-z0-9]){re.escape(v)}(?![a-z0-9])", t) is not None
    return v in t


def _product_card(p: Mapping[str, Any], question: str, lang: str) -> FlowTurn:
    zh = lang == "zh"
    t = _clean(question)
    lines = [f"{p['title']}：{yuan(p['price'])}，{_stock_text(p, lang)}" if zh
             else f"{p['title']}: {yuan(p['price'])}, {_stock_text(p, lang)}"]
    attrs = p.get("attributes") or {}
    found: list[str] = []
    missing: list[str] = []
    for name, vals in attrs.items():
        values = vals if isinstance(vals, list) else [vals]
        lines.append(f"{name}：{' / '.join(values)}" if zh else f"{name}: {' / '.join(values)}")
        found += [v for v in values if isinstance(vals, list) and _mentioned(v, t)]
        if isinstance(vals, list) and any(k in name.lower() for k in ("尺码", "码", "size")):
            sizes = {v.lower() for v in values}
            for m in _SIZE_ASKED.finditer(t):
                tok = (m.group(1) or m.group(2) or m.group(3) or "").lower()
                if tok and tok not in sizes and tok.upper() not in missing:
                    missing.append(tok.upper())
    stock_ok = p.get("status") != "off_shelf" and int(p.get("stock") or 0) > 0
    if found and stock_ok:
        lines.insert(0, f"有的亲，{'、'.join(found)}有货哦~" if zh
                     else f"Yes, {', '.join(found)} is available.")
    if missing:
        lines.insert(0, f"抱歉亲，这款暂时没有{'、'.join(missing)}码。" if zh
                     else f"Sorry, this one has no size {', '.join(missing)}.")
    payload = {"product": p["key"], "title": p["title"], "price": yuan(p["price"]),
               "stock": p.get("stock"), "attributes": attrs}
    return FlowTurn("product", "details", "\n".join(lines), kind="product", payload=payload,
                    slots={"product": p["key"]})


def _coupon_text(c: Mapping[str, Any], commerce: Commerce, lang: str) -> str:
    zh = lang == "zh"
    threshold = int(c.get("threshold") or 0)
    if c["kind"] == "discount":
        rate = float(c["rate"])
        what = f"{rate * 10:g}折" if zh else f"{round((1 - rate) * 100)}% off"
    else:
        what = f"减{yuan(c.get('amount') or 0)}" if zh else f"{yuan(c.get('amount') or 0)} off"
    cond = (f"满{yuan(threshold)}" if threshold else "无门槛") if zh else (
        f"over {yuan(threshold)}" if threshold else "no minimum")
    until = ""
    if c.get("valid_to"):
        until = (f"，{commerce.when(c['valid_to'])[:5]}到期" if zh
                 else f", until {commerce.when(c['valid_to'])[:5]}")
    return f"{c['name']}（{cond}{what}{until}）" if zh else f"{c['name']} ({what}, {cond}{until})"


def _price_turn(p: Mapping[str, Any], commerce: Commerce, lang: str) -> FlowTurn | None:
    q = commerce.quote(p["key"])
    if q is None:
        return None
    zh = lang == "zh"
    bits = []
    if q.get("promotions"):
        bits.append(("已享" if zh else "with ") + "、".join(f"「{n}」" for n in q["promotions"]))
    if q.get("coupon"):
        bits.append(f"用券「{q['coupon']}」" if zh else f"coupon \"{q['coupon']}\"")
    saving = q["subtotal"] - q["total"]
    if not saving and not q.get("gifts"):
        text = (f"{p['title']} 现价{yuan(q['total'])}，目前没有能用在这款上的优惠哦。" if zh
                else f"{p['title']} is {yuan(q['total'])}; no discount applies to it right now.")
    elif zh:
        text = f"{p['title']} 原价{yuan(q['subtotal'])}"
        text += (("，" + "，".join(bits)) if bits else "")
        text += f"，到手价{yuan(q['total'])}" + (f"（立省{yuan(saving)}）" if saving else "") + "。"
        if q.get("gifts"):
            text += "另赠" + "、".join(q["gifts"]) + "。"
    else:
        text = f"{p['title']}: list price {yuan(q['subtotal'])}"
        text += ((", " + ", ".join(bits)) if bits else "")
        text += f", you pay {yuan(q['total'])}" + (f" (save {yuan(saving)})" if saving else "")
        text += "."
    payload = {"product": p["key"], "title": p["title"], "subtotal": yuan(q["subtotal"]),
               "total": yuan(q["total"]), "promotions": list(q.get("promotions") or []),
               "coupon": q.get("coupon"), "gifts": list(q.get("gifts") or [])}
    return FlowTurn("coupons", "price", text, payload=payload, slots={"product": p["key"]})


# -- the flows -------------------------------------------------------------------------------

def _recent_products(commerce: Commerce) -> list[dict]:
    seen: list[str] = []
    for o in commerce.orders():
        for i in o.get("items") or []:
            if i["product"] not in seen:
                seen.append(i["product"])
    out = []
    for key in seen:
        p = commerce.product(key)
        if p is not None:
            out.append(p)
        if len(out) == MAX_OPTIONS:
            break
    return out


def _product_options(products: Sequence[Mapping[str, Any]]) -> list[dict]:
    return [{"key": p["key"], "label": p["title"]} for p in products[:MAX_OPTIONS]]


def _ask_product(flow: str, question: str, options: list[dict], lang: str,
                 entry: str | None, lead: str = "") -> FlowTurn:
    zh = lang == "zh"
    if options:
        text = (lead + "请问您问的是哪一款呢？回复序号或商品名称即可：\n" if zh
                else lead + "Which product do you mean? Reply with its number or name:\n")
        text += _numbered([o["label"] for o in options])
    else:
        text = lead + ("请问您问的是哪一款呢？把商品名称或链接发给我就好~" if zh
                       else "Which product do you mean? Send me its name or link.")
    pending = {"flow": flow, "step": "which_product", "options": options,
               "question": question, "entry": entry}
    return FlowTurn(flow, "which_product", text, payload={"options": options}, pending=pending)


def start(name: str, text: str, commerce: Commerce, slots: Mapping[str, Any],
          entry: str | None = None) -> FlowTurn | None:
    """Run flow ``name`` for a new question; None when it has nothing better to say
    than the entry's own answer (no customer, no data)."""
    if commerce is None:
        return None
    lang = lang_of(text)
    if name == "order_status":
        return _order_status(text, commerce, slots, lang, entry)
    if name == "product":
        return _product(text, commerce, slots, lang, entry)
    if name == "coupons":
        return _coupons(text, commerce, slots, lang, entry)
    return None


def resume(pending: Mapping[str, Any], text: str, commerce: Commerce,
           slots: Mapping[str, Any]) -> FlowTurn | None:
    """Continue a flow waiting for an answer; None when ``text`` does not answer it."""
    if commerce is None:
        return None
    lang = lang_of(pending.get("question") or text)
    options = pending.get("options") or []
    flow, step = pending.get("flow"), pending.get("step")
    if flow == "order_status" and step == "which_order":
        i = pick(text, options)
        if i is None:
            return None
        order = next((o for o in commerce.orders() if o["key"] == options[i]["key"]), None)
        return None if order is None else _order_card(order, commerce, lang)
    if step == "which_product":
        i = pick(text, options)
        product = commerce.product(options[i]["key"]) if i is not None else None
        if product is None:
            named = products_in_text(text, commerce.products())
            product = named[0] if len(named) == 1 else None
        if product is None:
            return None
        question = f"{pending.get('question') or ''} {text}"
        if flow == "coupons":
            return _price_turn(product, commerce, lang)
        return _product_card(product, question, lang)
    return None


def _order_status(text: str, commerce: Commerce, slots: Mapping[str, Any], lang: str,
                  entry: str | None) -> FlowTurn | None:
    if commerce.customer is None:
        return None
    orders = commerce.orders()
    zh = lang == "zh"
    if not orders:
        return FlowTurn("order_status", "no_orders",
                        "没有查到您在本店的订单哦，请确认下单的账号；有订单号的话直接发给我~" if zh
                        else "I cannot find any order of yours in this shop. Is it another "
                             "account? Send me the order number if you have it.")
    options = [{"key": o["key"], "label": order_label(o, commerce, lang),
                "aliases": _order_aliases(o)} for o in orders]
    i = by_id(text, options)
    if i is None and _LATEST.search(_clean(text)):
        i = 0
    if i is not None:
        return _order_card(orders[i], commerce, lang)
    named = products_in_text(text, [{"key": o["key"], "title": " ".join(
        it.get("title") or "" for it in o.get("items") or [])} for o in orders])
    if len(named) == 1:
        return _order_card(next(o for o in orders if o["key"] == named[0]["key"]), commerce, lang)
    remembered = next((o for o in orders if o["key"] == slots.get("order")), None)
    if remembered is not None:
        return _order_card(remembered, commerce, lang)
    if len(orders) == 1:
        return _order_card(orders[0], commerce, lang)
    keys = {n["key"] for n in named}
    shown = [o for o in options if o["key"] in keys] if len(named) > 1 else options
    shown = shown[:MAX_OPTIONS]
    text_out = (f"您在本店有 {len(orders)} 个订单，想查询哪一个呢？回复序号即可：\n" if zh
                else f"You have {len(orders)} orders here. Which one? Reply with its number:\n")
    text_out += _numbered([o["label"] for o in shown])
    pending = {"flow": "order_status", "step": "which_order", "options": shown,
               "question": text, "entry": entry}
    return FlowTurn("order_status", "which_order", text_out, payload={"options": shown},
                    pending=pending)


def _order_aliases(o: Mapping[str, Any]) -> list[str]:
    """Other ways a customer writes an order: its number without the shop prefix, its
    tracking number."""
    out = []
    digits = re.sub(r"^[a-z]+(-[a-z]+)*-", "", str(o["key"]).lower())
    if len(digits) >= 8 and digits != o["key"]:
        out += [digits, digits.replace("-", "")]
    if o.get("tracking_no"):
        out.append(str(o["tracking_no"]))
    return out


def _product(text: str, commerce: Commerce, slots: Mapping[str, Any], lang: str,
             entry: str | None) -> FlowTurn | None:
    products = commerce.products()
    if not products:
        return None
    named = products_in_text(text, products)
    if len(named) == 1:
        return _product_card(named[0], text, lang)
    if len(named) > 1:
        # "这件连衣裙…" on a dress's page: the page's (or the chat's) product when it is
        # among those the words name, rather than asking which
        for key in (slots.get("product"), commerce.entry_product()):
            p = commerce.product(key) if key else None
            if p is not None and any(n.get("key") == p.get("key") for n in named):
                return _product_card(p, text, lang)
        return _ask_product("product", text, _product_options(named), lang, entry)
    for key in (slots.get("product"), commerce.entry_product()):
        p = commerce.product(key) if key else None
        if p is not None:
            return _product_card(p, text, lang)
    recent = _recent_products(commerce) if commerce.customer else []
    return _ask_product("product", text, _product_options(recent), lang, entry)


def _coupons(text: str, commerce: Commerce, slots: Mapping[str, Any], lang: str,
             entry: str | None) -> FlowTurn | None:
    if commerce.customer is None:
        return None
    zh = lang == "zh"
    named = products_in_text(text, commerce.products())
    product = named[0] if len(named) == 1 else None
    if product is None:
        for key in (slots.get("product"), commerce.entry_product()):
            product = commerce.product(key) if key else None
            if product is not None:
                break
    coupons = commerce.coupons()
    promos = commerce.promotions()
    lines = []
    if coupons:
        lines.append("您现在可以用的优惠券：" if zh else "Coupons you can use now:")
        lines.append(_numbered([_coupon_text(c, commerce, lang) for c in coupons]))
    else:
        lines.append("您目前没有可用的优惠券哦。" if zh else "You hold no usable coupon right now.")
    if promos:
        lines.append(("店铺活动：" if zh else "Running promotions: ")
                     + "、".join(p["name"] for p in promos))
    listing = "\n".join(lines)
    payload = {"coupons": [c["key"] for c in coupons], "promotions": [p["key"] for p in promos]}
    if product is not None:
        turn = _price_turn(product, commerce, lang)
        if turn is not None:
            turn.text = listing + "\n" + turn.text
            turn.payload.update(payload)
            return turn
    if not coupons and not promos:
        return FlowTurn("coupons", "none", listing, payload=payload)
    options = _product_options(named) if len(named) > 1 else []
    ask = _ask_product("coupons", text, options, lang, entry, lead=listing + "\n")
    if not options:
        ask.text = listing + "\n" + (
            "想买哪一款？告诉我商品名称，我帮您算好用券后的到手价~" if zh else
            "Which product would you like? Tell me its name and I will work out the price "
            "after discounts.")
    ask.payload.update(payload)
    return ask
