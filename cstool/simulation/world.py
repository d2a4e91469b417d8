"""The shop as a simulated day sees it, read once through the Backend interface: its
record (service mode, business hours, targets), routing rules, agents, customers (as
routing-fact templates), products, and what the real knowledge bot does with every
question the simulated customers will ask.

**Questions.** By default the customers ask, in equal parts,

* the shop's knowledge as customers word it: every question and similar question of
  the entries the shop sees (its own and the platform-wide ones), and
* the desk's questions of ``cstool.simulation.day_tables.ASKS`` (order status: 发货、物流、催单;
  pre-sale questions about the shop's own products; coupons and 满减; after-sale), mixed
  by intent as the synthetic day mixes them (order status is 58 % of a promotion's
  midnight spike, 24-30 % otherwise);

and a share of customers (``human_share``, 10 %) open with 转人工. ``--questions FILE``
replaces the pool with your own (one a line, or a CSV with a ``text`` or ``question``
column, e.g. ``benchmarks/data/zh_questions.csv``).

**The bot.** Every distinct question is asked once, through ``Backend.ask_bot`` (the
path of ``cstool bot ask``: the same ranking, thresholds and handoff phrases the desk
uses for the first message of a chat); the bot is deterministic for a given question
and shop, so its answer is cached for the day. A chat is *bot-resolved* when the bot
answers confidently (``answer``); a "did you mean" (``suggest``) is followed by the
customer asking for a person, and a ``handoff`` goes to routing at once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import service
from ..api.backend import Backend
from ..errors import Conflict, InvalidInput
from ..knowledge_rules import visible_entries
from ..values import parse_time
from .day_tables import ASKS
from .day_tables import MIX_ORDINARY as INTENTS_ORDINARY
from .day_tables import MIX_PROMOTION as INTENTS_PROMOTION
from .day_tables import MIX_SPIKE as INTENTS_SPIKE
from .inputs import MIX_ORDINARY, MIX_PROMOTION, MIX_SPIKE

DAY_MS = 86_400_000
RULE_FIELDS = ("key", "name", "conditions", "target", "strategy", "priority",
               "when_unavailable", "enabled")
HUMAN_OPENER = "转人工，"
PRODUCT_VARIANTS = 12  # product titles a templated desk question is asked about
INTENTS = ("order_status", "presale", "promotion", "aftersale")
# the intent mix (order status, pre-sale, promotion, after-sale) of each question mix
MIXES = {MIX_ORDINARY: INTENTS_ORDINARY, MIX_PROMOTION: INTENTS_PROMOTION,
         MIX_SPIKE: INTENTS_SPIKE}


@dataclass(frozen=True)
class BotOutcome:
    """What the bot did with one question: ``answer``, ``suggest`` or ``handoff``."""

    action: str
    entry: str | None
    confidence: float
    reason: str
    choices: tuple[str, ...] = ()
    text: str = ""


@dataclass(frozen=True)
class Question:
    """One distinct customer question; ``product`` indexes ``ShopWorld.products`` when
    the question is about one (the chat then starts on its page)."""

    text: str
    intent: str | None = None
    product: int | None = None


@dataclass
class QuestionPool:
    """Distinct questions and, per question mix (``inputs.MIX_*``), their weights."""

    questions: list[Question]
    weights: dict[int, list[float]]
    source: str


@dataclass
class ShopWorld:
    """Everything the simulation reads about the shop (plain data)."""

    key: str
    record: dict
    rules: list[dict]
    agents: list[dict]
    customers: list[dict]
    products: list[dict]
    pool: QuestionPool
    outcomes: list[BotOutcome]
    settings: dict = field(default_factory=dict)

    @property
    def response_target_s(self) -> int:
        """The shop's 3-minute target (``response_target_s``)."""
        return int(self.settings.get("response_target_s", 180))

    @property
    def answer_target_s(self) -> int:
        """The shop's 30-second target (``answer_target_s``)."""
        return int(self.settings.get("answer_target_s", 30))

    @property
    def idle_close_s(self) -> int:
        """Seconds of silence after which a chat closes (``idle_close_min``)."""
        return int(self.settings.get("idle_close_min", 30)) * 60

    def bot_share(self, mix: int) -> dict[str, float]:
        """The weighted share of questions the bot answers, suggests on, hands off."""
        out = {"answer": 0.0, "suggest": 0.0, "handoff": 0.0}
        weights = self.pool.weights[mix]
        total = sum(weights) or 1.0
        for w, o in zip(weights, self.outcomes, strict=True):
            out[o.action] = out.get(o.action, 0.0) + w / total
        return out


# -- questions ---------------------------------------------------------------------------
def read_questions(path: str) -> list[str]:
    """Questions from a file: one a line, or a CSV whose header has ``text`` or
    ``question``. Blank lines are skipped; at least one question is needed."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read ({e.strerror or e})",
                           key="file_unreadable", file=str(path),
                           detail=str(e.strerror or e)) from None
    lines = text.splitlines()
    head = [c.strip().lower() for c in next(csv.reader([lines[0]]))] if lines else []
    col = next((head.index(n) for n in ("text", "question") if n in head), None)
    if col is not None:
        out = []
        for n, row in enumerate(csv.reader(io.StringIO(text)), start=1):
            if n == 1 or not row:
                continue
            if col >= len(row):
                raise InvalidInput(f"{path}:{n}: expected a {head[col]!r} column",
                                   key="questions_column_missing", at=f"{path}:{n}",
                                   column=repr(head[col]))
            if row[col].strip():
                out.append(row[col].strip())
    else:
        out = [line.strip() for line in lines if line.strip()]
    if not out:
        raise InvalidInput(f"{path}: no questions", key="questions_none", file=str(path))
    too_long = next((q for q in out if len(q) > service.MAX_MESSAGE_CHARS), None)
    if too_long is not None:
        raise InvalidInput(f"{path}: a question is longer than {service.MAX_MESSAGE_CHARS} "
                           "characters",
                           key="question_too_long_file", file=str(path),
                           max=service.MAX_MESSAGE_CHARS)
    return out


def _add(pool: dict[tuple, int], questions: list[Question], weights: dict[int, list[float]],
         q: Question, per_mix: dict[int, float]) -> None:
    key = (q.text, q.intent, q.product)
    i = pool.get(key)
    if i is None:
        i = pool[key] = len(questions)
        questions.append(q)
        for w in weights.values():
            w.append(0.0)
    for mix, w in per_mix.items():
        weights[mix][i] += w


def question_pool(knowledge: list[dict], products: list[dict], *,
                  questions: list[str] | None = None, human_share: float = 0.1,
                  knowledge_share: float = 0.5, source: str = "") -> QuestionPool:
    """The day's distinct questions with their weights per mix (see the module
    docstring); ``questions`` replaces the default pool."""
    if not 0 <= human_share <= 1:
        raise InvalidInput(f"human-share: must be from 0 to 1, got {human_share}",
                           key="human_share_range", value=str(human_share))
    index: dict[tuple, int] = {}
    out: list[Question] = []
    weights: dict[int, list[float]] = {m: [] for m in MIXES}
    base: list[tuple[Question, dict[int, float]]] = []
    if questions is not None:
        each = 1.0 / len(questions)
        base = [(Question(q), dict.fromkeys(MIXES, each)) for q in questions]
    else:
        wordings = [w for e in knowledge for w in [e["question"], *(e.get("similar") or [])]
                    if w and w.strip()]
        share_kb = knowledge_share if wordings else 0.0
        for w in wordings:
            base.append((Question(w.strip()), dict.fromkeys(MIXES, share_kb / len(wordings))))
        titles = [(i, p["title"][:14]) for i, p in enumerate(products[:PRODUCT_VARIANTS])]
        for k, intent in enumerate(INTENTS):
            templates = ASKS[intent]
            for t in templates:
                variants = [(i, t.format(t=title)) for i, title in titles] if "{t}" in t \
                    and titles else [(None, t.format(t="宝贝"))]
                for product, text in variants:
                    per = {m: (1 - share_kb) * mix[k] / len(templates) / len(variants)
                           for m, mix in MIXES.items()}
                    base.append((Question(text, intent, product if intent == "presale"
                                          else None), per))
        source = "knowledge wordings and desk questions"
    for q, per in base:
        if human_share < 1:
            _add(index, out, weights, q, {m: w * (1 - human_share) for m, w in per.items()})
        if human_share > 0:
            _add(index, out, weights, Question(HUMAN_OPENER + q.text, q.intent, q.product),
                 {m: w * human_share for m, w in per.items()})
    return QuestionPool(out, weights, source)


# -- customers ---------------------------------------------------------------------------
def customer_templates(customers: list[dict], orders: list[dict], shop: str,
                       day_start_ms: int) -> list[dict]:
    """Routing facts of each of the shop's customers as of the day's start (the desk's
    ``_facts``: profile, orders, classification); one new customer if there are none."""
    by_customer: dict[str, list[dict]] = {}
    for o in orders:
        by_customer.setdefault(o["customer"], []).append(o)
    out = []
    for c in customers:
        prof = next((p for p in c.get("profiles") or () if p.get("shop") == shop), None)
        if prof is None:
            continue
        mine = sorted(by_customer.get(c["key"], ()), key=lambda o: o.get("created_at") or "",
                      reverse=True)
        statuses = [o["status"] for o in mine]
        spend = sum(sum(float(i.get("price") or 0) * int(i.get("quantity") or 1)
                        for i in o.get("items") or ()) - float(o.get("discount") or 0)
                    for o in mine if o["status"] in ("paid", "shipped", "delivered",
                                                      "refund_requested"))
        last = prof.get("last_served_at")
        days = None  # a service after the day's start has not happened yet that day
        if last is not None and parse_time(last) <= day_start_ms:
            days = (day_start_ms - parse_time(last)) / DAY_MS
        classification = service.classify(statuses)
        out.append({
            "customer.level": prof.get("level", 0),
            "customer.tags": list(prof.get("tags") or ()),
            "customer.region": prof.get("region"),
            "customer.channel": prof.get("channel"),
            "customer.dedicated_agent": prof.get("dedicated_agent"),
            "customer.last_agent": prof.get("last_agent"),
            "customer.is_returning": prof.get("last_agent") is not None or last is not None,
            "customer.days_since_last_served": days,
            "customer.spend": round(spend, 2),
            "customer.order_count": len(mine),
            "conversation.classification": classification,
            "conversation.intent": service.intent_of(classification),
            "order.latest_status": statuses[0] if statuses else None,
        })
    if not out:
        out.append({"customer.level": 0, "customer.tags": [], "customer.is_returning": False,
                    "customer.order_count": 0, "customer.spend": 0,
                    "conversation.classification": "consulted_not_ordered",
                    "conversation.intent": "presale"})
    return out


# -- the bot -----------------------------------------------------------------------------
def bot_outcomes(ask: Callable[[str], dict], pool: QuestionPool,
                 on_progress: Callable[[int, int], None] | None = None) -> list[BotOutcome]:
    """Ask the bot each distinct question once (``ask(text)`` returns ``bot ask``'s
    JSON); questions with the same text share one answer."""
    seen: dict[str, BotOutcome] = {}
    out = []
    for n, q in enumerate(pool.questions, start=1):
        o = seen.get(q.text)
        if o is None:
            r = ask(q.text)
            o = seen[q.text] = BotOutcome(r["action"], r.get("entry"),
                                          float(r.get("confidence") or 0.0),
                                          r.get("reason") or "", tuple(r.get("choices") or ()),
                                          r.get("text") or "")
        out.append(o)
        if on_progress is not None:
            on_progress(n, len(pool.questions))
    return out


# -- reading the shop --------------------------------------------------------------------
def load_world(backend: Backend, shop: str, day_start_ms: int, *,
               questions: list[str] | None = None, human_share: float = 0.1,
               question_source: str = "",
               on_progress: Callable[[int, int], None] | None = None) -> ShopWorld:
    """Read ``shop`` through ``backend`` and ask its bot every question of the day."""
    record = backend.get("shops", shop)
    rules = [{k: r[k] for k in RULE_FIELDS if k in r}
             for r in backend.list("routing_rules", shop=shop)]
    agents = [a for a in backend.list("agents", shop=shop) if a.get("role", "agent") == "agent"]
    products = [p for p in backend.list("products", shop=shop)
                if p.get("status", "on_sale") == "on_sale"]
    entries = backend.list("knowledge_entries")
    seen = {id(e) for e in visible_entries(entries, shop)}  # the shop's scope, key order
    knowledge = [e for e in entries if id(e) in seen and e.get("enabled", True)]
    customers = customer_templates(backend.list("customers", shop=shop),
                                   backend.list("orders", shop=shop), shop, day_start_ms)
    pool = question_pool(knowledge, products, questions=questions, human_share=human_share,
                         source=question_source)
    if not pool.questions:
        raise Conflict(f"shop {shop!r} has no knowledge and no questions to ask; "
                       "give --questions FILE", key="sim_no_questions", shop=shop)
    outcomes = bot_outcomes(lambda text: backend.ask_bot(text, shop=shop), pool, on_progress)
    return ShopWorld(shop, record, rules, agents, customers, products, pool, outcomes,
                     dict(record.get("settings") or {}))
