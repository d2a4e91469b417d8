"""Learning from what agents answer (pure: chats in, proposals out; no storage, no clock).

``kb suggest`` reads the shop's closed human chats. :func:`exchanges` finds in one chat
the customer questions and the agent replies that answered them (a reply that only
greets, asks back or only promises to check (帮您确认一下, 已经为您登记) does not answer;
the question stays open until one does; a reply naming one customer's order or phone
number is not a general answer; a question leaning on the chat before it, 那大概要多久呢,
is not one to learn).
:func:`group_questions` puts similar questions together (most of their character pairs
shared, or some shared and answered alike), and :func:`propose` turns each group into a
proposal: **similar** questions for an existing entry of the shop the bot already
half-recognised and that says what the agents said, or a **new** entry with the agents' answer, each
with its evidence (the chats it comes from).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .embeddings import to_simplified
from .text import normalise

SIMILAR = 0.5  # character-pair overlap (Jaccard) that puts two questions in one group
ANSWER_LIKE = 0.2  # an entry's answer this close to the agents' one: the same subject
MAX_WORDINGS = 10
SOME_WORDS = 0.15  # questions sharing this much are one group when answered alike
SAME_ANSWER = 0.3  # answers this alike make half-similar questions one group
GENERIC = 3  # a reply answering this many unrelated question groups is a canned one

_GREETING = re.compile(
    r"您好|你好|亲亲|亲爱的|亲|在的|在呢|我是[\u3400-\u9fff]{1,6}|很高兴为您服务|欢迎光临|"
    r"请稍等|稍等一下|稍等|马上为您|正在为您|帮您查|为您查|查询一下|请问有什么可以帮您|"
    r"有什么可以帮您|感谢您的耐心等待|让您久等了|好的|嗯嗯|收到|hello|hi|thanks|thank you|"
    r"[~～!！。，,.?？、\s😊🙂]")
_THANKS = re.compile(r"^(?:谢谢|多谢|好的|好|嗯|ok|okay|thanks|thank you|知道了|明白了|行|可以)"
                     r"[~～!！。.]*$")
_PERSONAL = re.compile(r"\d{6,}|[a-z]{1,4}-[a-z0-9-]*\d{4,}|1[3-9]\d{9}")
_HANDOFF = re.compile(r"转人工|人工客服|找人工|真人|人工|human|agent|客服")


def clean(text: str) -> str:
    """The form questions are compared in: normalised, Simplified characters."""
    return normalise(to_simplified(text or ""))


def _substance(text: str) -> str:
    return _GREETING.sub("", (text or "").lower())


_OPENER = re.compile(r"^(?:\s|[，,。.！!？?~～、]|转人工|人工客服在吗|人工客服|找人工|找真人|真人|"
                     r"亲亲|亲|在吗|在不在|你好|您好|老板|客服|hello|hi)+", re.IGNORECASE)


def wording(text: str) -> str:
    """A question as an entry would keep it: without the openers (转人工，/ 在吗？/ 亲，)."""
    body = (text or "").strip()
    rest = _OPENER.sub("", body).strip()
    return rest or body


# a question that leans on the chat before it (那大概要多久呢, 还有别的办法吗, 可以再快一点吗):
# alone it asks nothing an entry could answer
_LEANING = re.compile(r"^(?:那(?:么|样|就|还|要|如果|是不是|能不能|可以|怎么|大概|多久|我|你|"
                      r"这样)|这样的话|还有别的|还有其他|还有没有别的|还有啥|可以再|能再|"
                      r"能不能再|再(?:快|便宜|优惠|送|给|加|问|等|催)|然后|所以)")
# a reply that only promises to look, to note or to come back is no answer
_HOLDING = re.compile(
    r"(?:我|这边|小二)?(?:已经|已)?(?:帮|为|给)您(?:再)?(?:确认|核实|查看|看看|看一下|问问|"
    r"问一下|催一下|催促|催|反馈|登记|记录|备注|跟进|处理|申请|联系|转达|上报)(?:一下|了|过了)?|"
    r"(?:这边|我)?(?:会|马上|尽快|稍后)(?:为您|给您)?(?:处理|跟进|回复|联系您|反馈)|"
    r"请您?(?:耐心)?(?:稍等|等待|等一下|留意)|"
    r"有(?:结果|消息|进展)(?:了)?(?:会|马上|第一时间)?(?:通知|告诉|联系)您|"
    r"(?:这边|我)(?:已经)?(?:记下|记录)了")


def is_question(text: str) -> bool:
    """A customer message worth learning: not a bare 转人工, thanks or order number, nor
    a follow-up that leans on what was said before (那大概要多久呢)."""
    t = clean(_PERSONAL.sub(" ", (text or "").lower()))  # an order number alone asks nothing
    if len(t.replace(" ", "")) < 4 or _THANKS.match(t):
        return False
    if _LEANING.match(_OPENER.sub("", t).strip()):
        return False
    rest = _HANDOFF.sub("", _substance(text))
    return len(rest) >= 3


def is_answer(text: str) -> bool:
    """An agent message that answers: more than a greeting, not a question back, nothing
    of one customer's (order numbers, phone numbers)."""
    body = (text or "").strip()
    if len(_substance(body)) < 6 or _PERSONAL.search(body.lower()):
        return False
    if len(_substance(_HOLDING.sub("", body))) < 6:  # 稍等我帮您确认一下 / 已经为您登记
        return False
    return not re.search(r"[?？]\s*[~～]?\s*$", body)


@dataclass
class Exchange:
    """A customer question and the agent's reply that answered it, in one chat."""

    conversation: int
    question: str
    answer: str


def exchanges(conversation: int, messages: Iterable[Mapping[str, Any]]) -> list[Exchange]:
    """The question/answer pairs of one chat (messages oldest first: sender, kind,
    body). A question waits for the first agent reply that answers; later customer
    messages that are not questions (an order number, "好的") do not replace it."""
    out: list[Exchange] = []
    pending: list[str] = []
    for m in messages:
        sender, body = m.get("sender"), str(m.get("body") or "")
        if m.get("kind", "text") != "text":
            continue
        if sender == "customer":
            if is_question(body):
                pending.append(wording(body))
        elif sender == "agent" and pending and is_answer(body):
            out.append(Exchange(conversation, pending[-1], body.strip()))
            pending = []
    return out


def _pairs(text: str) -> set[str]:
    t = clean(text).replace(" ", "")
    return {t[i:i + 2] for i in range(len(t) - 1)} or {t}


def similarity(a: str, b: str) -> float:
    """Character-pair Jaccard overlap of two texts (0 to 1)."""
    x, y = _pairs(a), _pairs(b)
    return len(x & y) / len(x | y) if x | y else 0.0


@dataclass
class Group:
    """Similar questions with the answers they got and the chats they come from."""

    questions: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    conversations: list[int] = field(default_factory=list)

    def keys(self) -> list[str]:
        """The normalised form of every question (what a decision remembers)."""
        return sorted({clean(q) for q in self.questions})

    def wordings(self) -> list[str]:
        """The distinct wordings, the most asked first."""
        counts = Counter(self.questions)
        seen: dict[str, str] = {}
        for q, _ in sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0])):
            seen.setdefault(clean(q), q)
        found = list(seen.values())
        core = common_core(found)
        if core and clean(core) not in seen:
            found.insert(0, core)  # what they all ask, without each one's product name
        return found[:MAX_WORDINGS]

    def answer(self) -> str:
        """The answer most like the others (the medoid): what the agents agree on."""
        best, score = self.answers[0], -1.0
        for a in dict.fromkeys(self.answers):
            s = sum(similarity(a, b) for b in self.answers)
            if s > score:
                best, score = a, s
        return best


def common_core(wordings: Sequence[str]) -> str | None:
    """The question several wordings share when each wraps it in its own words (a
    product's name, an opener): "羊毛围巾今天下单什么时候发货？" and "西装外套今天下单什么
    时候发货？" share "今天下单什么时候发货？". None unless there are two wordings or more
    and the longest text common to all is at least six characters and 40 % of the
    shortest (anything less is not the same question said around different names)."""
    texts = [w.strip() for w in wordings if w.strip()]
    if len(texts) < 2:
        return None
    shortest = min(texts, key=len)
    best = ""
    for i in range(len(shortest)):
        for j in range(len(shortest), i + len(best), -1):
            piece = shortest[i:j]
            if all(piece in t for t in texts):
                best = piece
                break
    best = best.strip(" ，,。.、!！~～")
    if len(best) < max(6, 0.4 * len(shortest)) or best == shortest:
        return None
    return best


def _together(a: Exchange, b: Exchange) -> float:
    """How surely two exchanges ask the same: their questions' overlap, raised when the
    agents answered both alike (different words, the same answer)."""
    q = similarity(a.question, b.question)
    if q >= SIMILAR or q < SOME_WORDS:
        return q
    return SIMILAR if similarity(a.answer, b.answer) >= SAME_ANSWER else q


def group_questions(pairs: Sequence[Exchange], skip: Iterable[str] = ()) -> list[Group]:
    """Similar questions together, the most asked first; a question whose normalised
    form is in ``skip`` (already decided on, or known to the knowledge) is left out, and
    so is a canned reply (the same text answering ``GENERIC`` or more unrelated
    groups, like "亲，已经帮您处理好了"): it answers nothing in particular."""
    left_out = set(skip)
    raw: list[list[Exchange]] = []
    for ex in pairs:
        if clean(ex.question) in left_out:
            continue
        best, score = None, 0.0
        for g in raw:
            s = max(_together(ex, x) for x in g)
            if s > score:
                best, score = g, s
        if best is None or score < SIMILAR:
            best = []
            raw.append(best)
        best.append(ex)
    spread = Counter(a for g in raw for a in {clean(x.answer) for x in g})
    groups: list[Group] = []
    for g in raw:
        kept = [x for x in g if spread[clean(x.answer)] < GENERIC]
        if not kept:
            continue
        group = Group()
        for x in kept:
            group.questions.append(x.question)
            group.answers.append(x.answer)
            if x.conversation not in group.conversations:
                group.conversations.append(x.conversation)
        groups.append(group)
    groups.sort(key=lambda g: (-len(g.conversations), g.wordings()[0]))
    return groups


Match = Callable[[str], tuple[str | None, str]]


def propose(group: Group, match: Match, entries: Mapping[str, Mapping[str, Any]]) -> dict:
    """A proposal for one group. ``match(question)`` says what the bot does with it now:
    (top entry key or None, action); ``entries`` are the shop's own entries by key.
    *similar* when most questions' top entry is one of the shop's own entries, not
    answered confidently (did you mean, or handed off), whose answer says what the
    agents said; else *new* (a confident answer saying something else is a miss)."""
    wordings = group.wordings()
    answer = group.answer()
    votes: Counter = Counter()
    for q in wordings:
        key, action = match(q)
        if key in entries and action != "answer" and similarity(
                str(entries[key].get("answer") or ""), answer) >= ANSWER_LIKE:
            votes[key] += 1  # the bot half-knew it, and the entry says what agents said
    base = {"questions": wordings, "answer": answer,
            "conversations": sorted(group.conversations), "keys": group.keys()}
    if votes:
        key, n = votes.most_common(1)[0]
        if n * 2 >= len(wordings):
            return {"kind": "similar", "entry": key, **base}
    return {"kind": "new", "entry": None, **base}
