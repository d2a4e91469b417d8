"""The bot that acts on orders, with confirmation (pure: no storage, no clock).

What a customer may ask the bot to *do*, and how it asks before doing it:

* **cancel** an order not paid yet (取消订单, 不想要了, cancel my order);
* **change the address or phone** of an order not shipped yet (地址写错了，改成…);
* **open an after-sale request** (申请退货, 收到的杯子碎了): a ticket with the order and
  the photos the customer sent in the chat;
* and, answered at once, **how an order is doing** when the message names which one
  («我昨天買的衣服進度如何»: by time words and the goods' words).

Which order: the customer's own orders only (the commerce reads nobody else's; a
number that is not one of theirs is refused as "not found among your orders"), picked
by order number, time words (昨天, 前天, 今天, 上周, 11月19日 …) and the words of the goods
(their titles, categories, 衣服 for any garment); the orders the action can apply to
first. Several left: the customer chooses (a number, "第二个", the product's name).

Each action first refuses with the reason when the order's state forbids it (the
guards of :mod:`cstool.order_rules`, the ones a person meets), else asks
"确认…吗？" with the order's summary and waits: a yes (是 / 确认 / 好的 / 对 / yes …)
carries it out, anything else, or no answer within ``CONFIRM_TIMEOUT_MS``, drops it.

The bot never does it itself: on a yes its reply carries ``payload["do"]`` (the action,
the order, the changes) and the bot's turn in the desk
(:mod:`cstool.services.bot_actions`) does it through the orders and tickets services,
then words the outcome with :func:`done_text` or :func:`refused_text`. Texts come from
the message catalogs (``bot.act.*``), in the shop's language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from .. import order_rules
from ..i18n import t
from . import flows
from .embeddings import to_simplified
from .flows import FlowTurn

FLOW = "act"
CONFIRM_TIMEOUT_MS = 10 * 60_000
DAY_MS = 86_400_000
ACTIONS = ("cancel", "address", "after_sale")

# -- reading the message ---------------------------------------------------------------------

_CANCEL = re.compile(
    r"(取消|撤销|撤回|作废|关闭|退掉)(一下|掉)?(这个|那个|我的|刚才的|刚刚的|昨天的|今天的)?.{0,8}"
    r"(订单|单子|这单|那单|下的单|买的|order)"
    r"|(订单|单子|这单|那单|这个单|下的单).{0,8}(取消|不要了|不想要了|撤销|作废)"
    r"|^(帮我|我要|我想|请)?(取消|撤单|退单)(吧|了|一下)?$|撤单|退单"
    r"|(不想要了|不要了|不买了|拍错了|买错了|下错单|下错了)"
    r"|\bcancel\b")
_ADDRESS = re.compile(
    r"(改|修改|更改|更换|换|变更|更新|update|change).{0,8}"
    r"(地址|收货人|收件人|电话|手机|联系方式|号码|address|phone)"
    r"|(地址|电话|手机号|手机号码|收货人|收件人|号码).{0,6}(写错|填错|错了|有误|不对|要改|改一下|改成|改为|换成)"
    r"|(新地址|新的地址|新号码|新手机号)")
_AFTER_SALE = re.compile(
    r"(我要|我想|申请|帮我|给我|要求|麻烦)(办理|处理|申请)?(退货|退款|换货|售后|退换|维修|返修)"
    r"|(破损|坏了|碎了|破了|裂了|有洞|开线|掉色|起球|瑕疵|质量问题|少发|漏发|发错|少件|缺件"
    r"|不能用|用不了|不工作|开不了机|充不进电|有污渍|发霉|过期)"
    r"|\b(return|refund|exchange)\b.{0,20}\b(order|item|it|this)\b"
    r"|\b(broken|damaged|defective|faulty|missing item|wrong item)\b")
_POLICY_QUESTION = re.compile(r"怎么|如何|怎样|政策|规则|流程|多久|运费|要不要钱"
                              r"|可以.{0,6}吗|能.{0,6}吗|\bhow\b|\bpolicy\b|\bcan i\b")
_PROGRESS = re.compile(
    r"进度|到哪|到了吗|到了没|发货了吗|发了吗|发了没|发货没|发货了没|物流|快递|什么时候到|啥时候到|几时到"
    r"|(什么时候|啥时候|何时|几时|多久|哪天)(能|可以|才能|会)?(发货|发出|发|寄出|寄|到货|送到)"
    r"|发出了(吗|没)|寄出了(吗|没)"
    r"|状态|怎么样了|咋样了|如何了|还没到|还没收到|没收到|送到|派送|签收"
    r"|\bwhere is\b|\bstatus\b|\btrack|\bshipped\b|\barrive|\bhow('?s| is) my\b"
    r"|\border\b.{0,20}\b(doing|going)\b")
_TIME_WORDS = (("大前天", 3), ("前天", 2), ("昨天", 1), ("昨晚", 1), ("今天", 0), ("今早", 0),
               ("刚刚", 0), ("刚才", 0), ("yesterday", 1), ("today", 0))
_WEEK = re.compile(r"上周|上星期|上个星期|上礼拜|last week")
_DATE = re.compile(r"(?<!\d)(?:(\d{1,2})\s*月\s*)?(?<!\d)(\d{1,2})\s*[日号]")
_ORDERISH = re.compile(r"[a-z]{1,6}(?:-[a-z]{1,6})*-?\d{6,}(?:-\d{1,6})?|\d{10,}")
_PHONE = re.compile(r"(?<![\w\-])(\+?\d[\d\- ]{5,18}\d)(?![\w\-])")
_ADDRESS_AFTER = re.compile(r"(?:改成|改为|换成|更改为|变更为|修改为|改到|寄到|送到|新地址是"
                            r"|新地址[:：]|地址是|地址[:：]|\bto\b)\s*[:：]?\s*(.+)$")
_YES = re.compile(r"(是|是的|确认|确定|好|好的|对|对的|嗯|嗯嗯|可以|行|没问题"
                  r"|ok|okay|yes|yep|y|sure|confirm|确认修改|确认提交|确认申请|提交|改吧|申请吧)+")
_YES_CANCEL = re.compile(r"(确认|确定|是|是的|好|好的|对)?取消(吧|掉|订单)?")
_FILLER = re.compile(r"[\s\W_]+|亲|呀|啊|吧|哦|喔|呢|的|了|啦|哈|请|麻烦|帮我|谢谢|please|thanks")

# words for kinds of goods that name no category of their own
_GENERIC_GOODS = {
    "衣服": ("衣", "衫", "裙", "裤", "服", "外套", "大衣", "风衣", "T恤", "t恤", "卫衣"),
    "衣裳": ("衣", "衫", "裙", "裤", "服", "外套"),
    "裤子": ("裤",), "裙子": ("裙",), "上衣": ("衣", "衫", "T恤", "t恤", "外套"),
    "鞋子": ("鞋",), "包": ("包",), "奶粉": ("奶粉",), "耳机": ("耳机",),
}
_STATUS_OK = {"cancel": order_rules.CANCELLABLE, "address": order_rules.ADDRESS_CHANGEABLE,
              "after_sale": ("shipped", "delivered", "paid"), "progress": None}


# homophone slips of the words the actions read (拼音 input picks the wrong character):
# 定单 for 订单, 作天 for 昨天 …; a slip is read as the word it stands for
_TYPOS = {"定单": "订单", "订丹": "订单", "取销": "取消", "取肖": "取消", "作天": "昨天",
          "昨添": "昨天", "坐天": "昨天", "地止": "地址", "地扯": "地址", "物留": "物流",
          "快第": "快递", "进渡": "进度", "近度": "进度", "收获地址": "收货地址",
          "发获": "发货", "退贷": "退货", "手机后": "手机号", "电化": "电话", "到那了": "到哪了",
          "到拿了": "到哪了"}
_TYPO_RE = re.compile("|".join(sorted(map(re.escape, _TYPOS), key=len, reverse=True)))


def clean(text: str) -> str:
    """The message as the actions read it: Simplified, NFKC, lower case, the common
    homophone slips (定单, 作天 …) read as the words they stand for."""
    q = unicodedata.normalize("NFKC", to_simplified(text or "")).lower().strip()
    return _TYPO_RE.sub(lambda m: _TYPOS[m.group(0)], q)


def intent(text: str) -> str | None:
    """What the message asks the bot to do: ``cancel``, ``address``, ``after_sale``,
    ``progress`` (of a named order), or None."""
    q = clean(text)
    if not q:
        return None
    named = _ORDERISH.search(q) is not None
    q = " ".join(_ORDERISH.sub(" ", q).split())  # 取消 s-o-…-0004 这个订单: the words around
    if _ADDRESS.search(q):
        return "address"
    asks_cancel = _CANCEL.search(q) or named and re.search(r"取消|撤销|作废|不要了", q)
    if asks_cancel and not re.search(r"取消.{0,4}(订阅|推送|通知|关注|退款|售后)", q):
        return "cancel"
    if _AFTER_SALE.search(q) and not (_POLICY_QUESTION.search(q) and not re.search(
            r"破损|坏了|碎了|破了|裂了|瑕疵|质量问题|少发|漏发|发错|broken|damaged", q)):
        return "after_sale"
    if _PROGRESS.search(q):
        return "progress"
    return None


def is_yes(text: str, action: str | None = None) -> bool:
    """A clear yes to "确认…吗？": 是 / 确认 / 好的 / 对 / yes … (and nothing else); to
    "确认取消…吗？" also 取消吧 / 确认取消."""
    q = _FILLER.sub("", clean(text))
    if not q:
        return False
    return _YES.fullmatch(q) is not None or (
        action == "cancel" and _YES_CANCEL.fullmatch(q) is not None)


def language(text: str, languages: Sequence[str] | None) -> str:
    """The shop's language (its first), or the customer's when the shop speaks it too;
    without a shop, the customer's."""
    mine = flows.lang_of(text)
    if not languages:
        return mine
    return mine if mine in languages else ("en" if languages[0] == "en" else "zh")


# -- which order --------------------------------------------------------------------------

def _day(commerce: Any, ms: int) -> str:
    return commerce.when(ms)[:5]


def _by_time(q: str, orders: list[dict], commerce: Any) -> list[dict] | None:
    """The orders the time words name (None: the message names no time)."""
    now = getattr(commerce, "now", None)
    if now is None:
        return None
    for word, back in _TIME_WORDS:
        if word in q:
            day = _day(commerce, now - back * DAY_MS)
            return [o for o in orders if _day(commerce, o["created_at"]) == day]
    if _WEEK.search(q):
        return [o for o in orders if 3 * DAY_MS <= now - o["created_at"] <= 14 * DAY_MS]
    m = _DATE.search(q)
    if m:
        month = int(m.group(1)) if m.group(1) else int(_day(commerce, now)[:2])
        want = f"{month:02d}-{int(m.group(2)):02d}"
        return [o for o in orders if _day(commerce, o["created_at"]) == want]
    return None


def _goods_words(o: Mapping[str, Any]) -> str:
    return " ".join(f"{i.get('title') or ''} {i.get('category') or ''}"
                    for i in o.get("items") or []).lower()


def _by_goods(q: str, orders: list[dict]) -> list[dict] | None:
    """The orders whose goods the message names (None: it names none)."""
    for word, parts in _GENERIC_GOODS.items():
        if word in q:
            hit = [o for o in orders if any(p.lower() in _goods_words(o) for p in parts)]
            if hit:
                return hit
    scores = []
    for o in orders:
        score = 0
        for it in o.get("items") or []:
            cat = (it.get("category") or "").lower()
            if cat and cat in q:
                score += 2
            score += sum(1 for f in flows._label_features(it.get("title") or "") if f in q)
        scores.append(score)
    best = max(scores, default=0)
    if best == 0:
        return None
    return [o for o, sc in zip(orders, scores, strict=True) if sc == best]


def _options(orders: Sequence[dict], commerce: Any, lang: str) -> list[dict]:
    return [{"key": o["key"], "label": flows.order_label(o, commerce, lang),
             "aliases": flows._order_aliases(o)} for o in orders[:flows.MAX_OPTIONS]]


def choose(text: str, orders: list[dict], commerce: Any, action: str
           ) -> tuple[str, list[dict]]:
    """Which of the customer's orders the message means, for ``action``:
    ``("one", [order])``, ``("several", orders)`` to choose from, ``("foreign", [])``
    when it names an order number that is not theirs, ``("none", [])`` when no order
    fits (``("none_then", orders)``: none on the day named, these otherwise)."""
    q = clean(text)
    options = [{"key": o["key"], "aliases": flows._order_aliases(o)} for o in orders]
    i = flows.by_id(q, options)
    if i is not None:
        return "one", [orders[i]]
    named = _ORDERISH.search(q)
    if named:  # one of theirs older than those read, or nobody's they may see
        older = getattr(commerce, "order", None)
        found = older(named.group(0)) if older is not None else None
        return ("one", [found]) if found is not None else ("foreign", [])
    pool = list(orders)
    timed = _by_time(q, pool, commerce)
    goods = _by_goods(q, pool)
    if timed is not None and goods is not None:
        both = [o for o in timed if o in goods]
        if both:
            pool = both
        elif timed:
            pool = timed
        else:
            return "none_then", goods
    elif timed is not None:
        if not timed:
            return "none_then", pool[:flows.MAX_OPTIONS]
        pool = timed
    elif goods is not None:
        pool = goods
    elif action == "progress":
        return "none", []  # names no order: the knowledge's order-status flow asks
    allowed = _STATUS_OK.get(action)
    if action == "after_sale" and after_sale_kind(text) == "damaged_goods":
        allowed = ("shipped", "delivered")  # what arrived broken has arrived
    if len(pool) > 1 and allowed is not None:
        fit = [o for o in pool if o["status"] in allowed]
        if fit:
            pool = fit
        elif timed is None and goods is None:
            return "unfit", pool[:flows.MAX_OPTIONS]
    if len(pool) == 1:
        return "one", pool
    if not pool:
        return "none", []
    return "several", pool[:flows.MAX_OPTIONS]


# -- what the bot says ----------------------------------------------------------------------

def summary(o: Mapping[str, Any], commerce: Any, lang: str) -> str:
    """One line naming an order for a confirmation: number, date, goods, total, status."""
    return f"{o['key']}（{flows.order_label(o, commerce, lang)}）" if lang == "zh" \
        else f"{o['key']} ({flows.order_label(o, commerce, lang)})"


def _refusal(action: str, o: Mapping[str, Any], commerce: Any, lang: str) -> str | None:
    status = o["status"]
    if action == "cancel":
        reason = order_rules.cancel_refusal(status)
    elif action == "address":
        reason = order_rules.address_refusal(status)
    elif action == "after_sale":
        reason = None if status in _STATUS_OK["after_sale"] else (
            "cancelled" if status == "cancelled" else "refund" if status.startswith("refund")
            else "unpaid")
    else:
        reason = None
    if reason is None:
        return None
    return t(f"bot.act.refuse_{action}.{reason}", lang, order=summary(o, commerce, lang),
             status=flows.STATUS_NAMES[lang].get(status, status))


def _turn(step: str, text: str, *, pending: dict | None = None, slots: dict | None = None,
          payload: dict | None = None) -> FlowTurn:
    return FlowTurn(FLOW, step, text, payload=payload or {}, slots=slots or {},
                    pending=pending)


def _new_address(text: str) -> dict[str, str]:
    """The address and / or phone a message gives (``{}``: none)."""
    raw = unicodedata.normalize("NFKC", text or "").strip()
    out: dict[str, str] = {}
    m = _PHONE.search(raw)
    if m and not _ORDERISH.fullmatch(m.group(1).replace(" ", "").replace("-", "")) \
            or (m and re.fullmatch(r"1[3-9]\d{9}", re.sub(r"[ \-]", "", m.group(1)))):
        try:
            out["phone"] = order_rules.normal_phone(m.group(1))
        except Exception:  # noqa: BLE001 - not a phone after all
            pass
    rest = _PHONE.sub(" ", raw) if "phone" in out else raw
    a = _ADDRESS_AFTER.search(rest)
    addr = a.group(1) if a else ""
    if not addr and len(re.findall(r"[\u4e00-\u9fff]", rest)) >= 6 and re.search(
            r"省|市|区|县|镇|路|街|号|栋|室|村|道", rest) and not intent(rest):
        addr = rest
    addr = re.sub(r"^(收货)?地址\s*[:：]?\s*|[。！!~]+$", "", addr.strip()).strip(" ，,")
    addr = re.sub(r"\s*(电话|手机|手机号)\s*[:：]?\s*$", "", addr)
    if len(addr) >= 5 and re.search(r"[\u4e00-\u9fff]{2}|\d+\s*\w+\s+(st|street|road|rd|ave)",
                                    addr, re.I):
        out["address"] = " ".join(addr.split())[:order_rules.ADDRESS_MAX]
    return out


def _confirm(action: str, o: Mapping[str, Any], commerce: Any, lang: str, question: str,
             changes: dict | None = None) -> FlowTurn:
    kind = after_sale_kind(question) if action == "after_sale" else None
    fields = {"order": summary(o, commerce, lang)}
    if action == "address":
        fields["change"] = "；".join(
            t(f"bot.act.field.{f}", lang, value=v) for f, v in sorted((changes or {}).items())
        ) if lang == "zh" else "; ".join(
            t(f"bot.act.field.{f}", lang, value=v) for f, v in sorted((changes or {}).items()))
    if kind is not None:
        fields["kind"] = t(f"bot.act.kind.{kind}", lang)
    text = t(f"bot.act.confirm_{action}", lang, **fields)
    pending = {"flow": FLOW, "step": "confirm", "action": action, "order": o["key"],
               "changes": dict(changes or {}), "kind": kind, "question": question,
               "lang": lang, "at": getattr(commerce, "now", None)}
    return _turn("confirm", text, pending=pending, slots={"order": o["key"]},
                 payload={"order": o["key"], "action": action})


def after_sale_kind(text: str) -> str:
    """The ticket type of an after-sale request: damaged_goods, return_refund or other."""
    q = clean(text)
    if re.search(r"破损|坏了|碎了|破了|裂了|有洞|开线|掉色|瑕疵|质量问题|不能用|用不了|不工作|"
                 r"开不了机|充不进电|污渍|发霉|broken|damaged|defective|faulty", q):
        return "damaged_goods"
    if re.search(r"退货|退款|退换|换货|return|refund|exchange", q):
        return "return_refund"
    return "other"


def _for_order(action: str, o: Mapping[str, Any], commerce: Any, lang: str, question: str,
               changes: dict | None = None) -> FlowTurn:
    """The next step for one order: a refusal, the question for the new address, or
    the confirmation."""
    if action == "progress":
        card = flows._order_card(o, commerce, lang)
        card.flow, card.step = FLOW, "progress"
        return card
    refused = _refusal(action, o, commerce, lang)
    if refused is not None:
        return _turn("refused", refused, slots={"order": o["key"]},
                     payload={"order": o["key"], "action": action, "refused": o["status"]})
    if action == "address":
        changes = changes if changes is not None else _new_address(question)
        if not changes:
            pending = {"flow": FLOW, "step": "ask_address", "action": action,
                       "order": o["key"], "question": question, "lang": lang,
                       "at": getattr(commerce, "now", None)}
            return _turn("ask_address", t("bot.act.ask_address", lang,
                                          order=summary(o, commerce, lang)),
                         pending=pending, slots={"order": o["key"]})
    return _confirm(action, o, commerce, lang, question, changes)


def _ask_which(action: str, orders: list[dict], commerce: Any, lang: str, question: str,
               lead: str = "", changes: dict | None = None) -> FlowTurn:
    options = _options(orders, commerce, lang)
    text = lead + t(f"bot.act.which_{action}", lang) + "\n" + flows._numbered(
        [o["label"] for o in options])
    pending = {"flow": FLOW, "step": "which_order", "action": action, "options": options,
               "question": question, "lang": lang, "changes": changes,
               "at": getattr(commerce, "now", None)}
    return _turn("which_order", text, pending=pending, payload={"options": options})


def start(text: str, commerce: Any, slots: Mapping[str, Any],
          languages: Sequence[str] | None = None) -> FlowTurn | None:
    """The bot's turn for a new message that asks it to act (or how a named order is
    doing); None when the message asks nothing of the kind or the customer is unknown."""
    if commerce is None or getattr(commerce, "customer", None) is None:
        return None
    action = intent(text)
    if action is None:
        return None
    lang = language(text, languages)
    orders = commerce.orders()
    if not orders:
        if action == "progress":
            return None
        return _turn("no_orders", t("bot.act.no_orders", lang))
    changes = None
    which = text
    if action == "address":  # the new address names no order (its 100号 is not a date)
        changes = _new_address(text) or None
        cut = _ADDRESS_AFTER.search(unicodedata.normalize("NFKC", text))
        which = _PHONE.sub(" ", unicodedata.normalize("NFKC", text)[:cut.start()] if cut
                           else unicodedata.normalize("NFKC", text))
    how, found = choose(which, orders, commerce, action)
    if how == "none" and action == "progress":
        return None
    if how == "foreign":
        return _turn("not_found", t("bot.act.not_yours", lang))
    if how == "none" and slots.get("order") and action != "progress":
        remembered = [o for o in orders if o["key"] == slots["order"]]
        if remembered:
            how, found = "one", remembered
    if how == "one":
        return _for_order(action, found[0], commerce, lang, text, changes)
    if how == "none_then":
        lead = t("bot.act.none_that_day", lang) + "\n"
        if len(found) == 1:
            turn = _for_order(action, found[0], commerce, lang, text, changes)
            turn.text = lead + turn.text
            return turn
        return _ask_which(action, found, commerce, lang, text, lead, changes)
    if how == "unfit":
        return _turn("refused", t(f"bot.act.none_fit_{action}", lang),
                     payload={"action": action})
    if how == "none":
        return _turn("no_match", t("bot.act.no_match", lang))
    return _ask_which(action, found, commerce, lang, text, changes=changes)


def waiting(pending: Mapping[str, Any] | None) -> bool:
    """Whether the bot is waiting for an answer to one of its actions."""
    return bool(pending) and pending.get("flow") == FLOW


def resume(pending: Mapping[str, Any], text: str, commerce: Any,
           slots: Mapping[str, Any]) -> FlowTurn | None:
    """The answer to the bot's question (which order, the new address, 确认…吗？).
    None when the question timed out or the message asks something else (then it is
    a new question; a pending confirmation is dropped, never carried out)."""
    lang = pending.get("lang") or "zh"
    now = getattr(commerce, "now", None)
    at = pending.get("at")
    if now is not None and at is not None and now - at > CONFIRM_TIMEOUT_MS:
        return None
    orders = commerce.orders() if commerce is not None else []
    order = next((o for o in orders if o["key"] == pending.get("order")), None)
    if order is None and pending.get("order") and hasattr(commerce, "order"):
        order = commerce.order(pending["order"])
    action = pending.get("action")
    step = pending.get("step")
    if step == "confirm":
        if order is None:
            return None
        if not is_yes(text, action):
            return _turn("dropped", t("bot.act.dropped", lang), slots={"order": order["key"]},
                         payload={"order": order["key"], "action": action})
        do = {"action": action, "order": order["key"], "changes": pending.get("changes") or {},
              "kind": pending.get("kind"), "question": pending.get("question") or "",
              "lang": lang}
        return _turn("done", "", slots={"order": order["key"]},
                     payload={"order": order["key"], "action": action, "do": do})
    if step == "ask_address":
        if order is None:
            return None
        changes = _new_address(text)
        if not changes:
            return None if intent(text) else _turn(
                "dropped", t("bot.act.no_address", lang), slots={"order": order["key"]})
        return _for_order(action, order, commerce, lang, pending.get("question") or text,
                          changes)
    if step == "which_order":
        options = pending.get("options") or []
        i = flows.pick(text, options)
        if i is None:
            return None
        order = next((o for o in orders if o["key"] == options[i]["key"]), None)
        if order is None:
            return None
        return _for_order(action, order, commerce, lang, pending.get("question") or text,
                          pending.get("changes"))
    return None


# -- after the desk acted ----------------------------------------------------------------------

def done_text(do: Mapping[str, Any], result: Mapping[str, Any]) -> str:
    """What the bot says once the desk has carried the action out."""
    lang = do.get("lang") or "zh"
    if do["action"] == "after_sale":
        photos = int(result.get("attachments") or 0)
        return t("bot.act.done_after_sale", lang, order=do["order"], ticket=result["ticket"],
                 photos=t("bot.act.with_photos", lang, n=photos) if photos else "")
    if do["action"] == "address":
        return t("bot.act.done_address", lang, order=do["order"],
                 address=result.get("address") or "", phone=result.get("phone") or "")
    return t("bot.act.done_cancel", lang, order=do["order"])


def refused_text(do: Mapping[str, Any], status: str | None) -> str:
    """What the bot says when the desk refused the action (the order changed meanwhile,
    or it is not the customer's)."""
    lang = do.get("lang") or "zh"
    if status is None:
        return t("bot.act.not_yours", lang)
    return t("bot.act.refused_now", lang, order=do["order"],
             status=flows.STATUS_NAMES[lang].get(status, status))


def turn(text: str, commerce: Any, memory: Any, languages: Sequence[str] | None
         ) -> FlowTurn | None:
    """The actions' part of the bot's turn (``memory``: the conversation's, with
    ``pending`` and ``slots``): the answer to the bot's own question, else a new request;
    None when neither (a pending question of an action is dropped then)."""
    if waiting(memory.pending):
        pending, memory.pending = memory.pending, None
        answered = resume(pending, text, commerce, memory.slots)
        if answered is not None:
            return answered
    return start(text, commerce, memory.slots, languages)
