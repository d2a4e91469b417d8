"""Quality inspection (质检) of one closed chat (pure: no I/O, no clock).

``inspect(chat, rules)`` reads the chat's messages in order and returns its findings, each
pointing at the message it is about, the agent it counts against, and the points it
costs; the chat's score is 100 minus the points of its findings (never below 0).

The rules (``rules.RULES``; the word lists are ``rules.Rules``, shop-editable):

* ``slow_first_response``: the first agent reply came more than ``response_target_s``
  after the chat first needed a human (the metrics' FRT), or none came and the chat
  waited longer than that before closing. Points at the reply (or at the customer's
  last message before the need, when nobody answered); counts against who answered
  first (or the chat's last agent).
* ``unanswered_question``: after the last reply of the staff (agent or bot) the
  customer asked a question (a question mark, a closing 吗/么/呢/没, or a question word)
  and the chat closed without an answer. Points at the first such question.
* ``banned_word``: an agent's message holds a forbidden word or promise (保证, 绝对,
  假一赔十 …) the shop does not allow, not negated within the eight characters before it
  in its clause (不保证, 无法百分百保证; 不用担心 negates nothing). One finding per word
  and message.
* ``rude_reply``: an agent's message holds a rude or dismissive phrase, repeats question
  marks at the customer (??), or is only a curt word (哦 / 嗯 / 不知道 …).
* ``negative_unacknowledged``: the customer was upset (a negative word, or ！！) and the
  staff's replies before the customer's next message (or the next reply, when there
  was none before it) hold no acknowledgement (抱歉, 理解您, 久等 …), or nobody replied.
  One finding per run of customer messages, at its first upset one; it counts against
  the agent who replied without acknowledging (else who held the chat).
* ``closed_while_typing``: the chat's last words were the customer's, they were not a
  sign-off (谢谢 / 好的 / 拜拜 …), and the chat closed within ``typing_grace_s`` of them
  (not when the customer closed it: close reason ``customer``).

What the customer writes after the close (a comment with the rating) is not read.

A finding about a customer's message counts against the agent who held the chat then:
who wrote the latest agent message before it, else the next one, else the chat's last
agent. The chat's agent (whose QA score it is part of) is who wrote most of its agent
messages (ties: who wrote last), else its last agent.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from .rules import NEGATIONS, QUESTION_ENDS, Rules

STAFF = ("agent", "bot")
CUSTOMER_CLOSED = "customer"  # the close reason of a chat the customer closed


@dataclass(frozen=True)
class Message:
    """A message of the chat (``sender``: customer, agent, bot or system)."""

    id: int
    sender: str
    body: str
    at: int
    agent_id: int | None = None
    kind: str = "text"


@dataclass(frozen=True)
class Chat:
    """A closed chat as the inspection reads it: its messages in order, when it first
    needed a human (None: never), when and why it closed, and who held it last."""

    id: int
    messages: Sequence[Message]
    closed_at: int
    needs_human_at: int | None = None
    last_agent_id: int | None = None
    close_reason: str | None = None


@dataclass(frozen=True)
class Finding:
    """One rule broken: the message it points at, whom it counts against, what it costs,
    and the matched text (``detail``: a word, a phrase, or a wait in seconds)."""

    rule: str
    message_id: int | None
    agent_id: int | None
    points: int
    detail: str = ""


@dataclass(frozen=True)
class Inspection:
    """A chat's findings, its score, its agent, and whether it goes to review (flagged:
    any finding; sampled: chosen by the shop's sample rate)."""

    conversation_id: int
    agent_id: int | None
    score: int
    findings: tuple[Finding, ...]
    flagged: bool
    sampled: bool


def normalise(text: str) -> str:
    """``text`` for matching: NFKC (full-width to half-width), lower case, Traditional
    Chinese to Simplified (opencc when installed, as the bot reads it), spaces dropped."""
    t = unicodedata.normalize("NFKC", text or "").lower()
    t = _simplified(t)
    return re.sub(r"\s+", "", t)


_convert = None


def _simplified(text: str) -> str:
    global _convert
    if _convert is None:
        from ..bot.embeddings import to_simplified
        from ..bot.text import _TRAD_MAP

        def convert(t: str) -> str:
            return to_simplified(t).translate(_TRAD_MAP)  # the table: opencc missing

        _convert = convert
    return _convert(text)


_PUNCT = re.compile(r"[\W_]+", re.UNICODE)


def bare(text: str) -> str:
    """Normalised text without punctuation, symbols or spaces."""
    return _PUNCT.sub("", text)


def score_of(findings: Sequence[Finding]) -> int:
    """100 minus the points of ``findings``, at least 0."""
    return max(0, 100 - sum(f.points for f in findings))


def sampled(conversation_id: int, rate: float) -> bool:
    """Whether a chat is in the shop's random review sample: a hash of its id below the
    rate (the same chat is always in or out for a given rate)."""
    if rate <= 0:
        return False
    h = int.from_bytes(hashlib.sha256(f"qa:{conversation_id}".encode()).digest()[:4], "big")
    return h / 2**32 < rate


def inspect(chat: Chat, rules: Rules) -> Inspection:
    """The findings and score of ``chat`` under ``rules`` (see the module docstring)."""
    # what the customer writes after the close (a rating comment) is no part of the talk
    msgs = [m for m in chat.messages if m.sender != "system" and m.at <= chat.closed_at]
    texts = {m.id: normalise(m.body) for m in msgs}
    out: list[Finding] = []

    def add(rule: str, m: Message | None, agent_id: int | None, detail: str = "") -> None:
        if rules.on(rule):
            out.append(Finding(rule, None if m is None else m.id, agent_id,
                               int(rules.points.get(rule, 0)), detail))

    def holder(i: int) -> int | None:
        for m in reversed(msgs[:i]):
            if m.sender == "agent" and m.agent_id is not None:
                return m.agent_id
        for m in msgs[i + 1:]:
            if m.sender == "agent" and m.agent_id is not None:
                return m.agent_id
        return chat.last_agent_id

    _first_response(chat, msgs, rules, add)
    for m in msgs:
        if m.sender == "agent":
            t = texts[m.id]
            for word in _banned(t, rules):
                add("banned_word", m, m.agent_id, word)
            rude = _rude(t, rules)
            if rude:
                add("rude_reply", m, m.agent_id, rude)
    _negative_runs(msgs, texts, rules, add, holder)
    last_staff = max((i for i, m in enumerate(msgs) if m.sender in STAFF), default=-1)
    tail = [(i, m) for i, m in enumerate(msgs) if i > last_staff and m.sender == "customer"]
    question = next(((i, m) for i, m in tail if is_question(texts[m.id], rules)), None)
    if question is not None:
        add("unanswered_question", question[1], holder(question[0]))
    if tail and chat.close_reason != CUSTOMER_CLOSED:  # not when they closed it themselves
        i, last = tail[-1]
        if (chat.closed_at - last.at <= rules.typing_grace_s * 1000
                and not is_sign_off(texts[last.id], rules)):
            add("closed_while_typing", last, holder(i),
                str(max(0, (chat.closed_at - last.at) // 1000)))
    findings = tuple(out)
    return Inspection(chat.id, chat_agent(msgs, chat.last_agent_id), score_of(findings),
                      findings, bool(findings), sampled(chat.id, rules.sample_rate))


def chat_agent(msgs: Sequence[Message], last_agent_id: int | None) -> int | None:
    """Who wrote most of the agent messages (ties: who wrote last), else the last agent."""
    counts: dict[int, tuple[int, int]] = {}
    for i, m in enumerate(msgs):
        if m.sender == "agent" and m.agent_id is not None:
            n, _ = counts.get(m.agent_id, (0, 0))
            counts[m.agent_id] = (n + 1, i)
    if not counts:
        return last_agent_id
    return max(counts, key=lambda a: counts[a])


def _first_response(chat: Chat, msgs: Sequence[Message], rules: Rules, add) -> None:
    need = chat.needs_human_at
    if need is None:
        return
    target = rules.response_target_s * 1000
    reply = next((m for m in msgs if m.sender == "agent" and m.at >= need), None)
    if reply is not None:
        if reply.at - need > target:
            add("slow_first_response", reply, reply.agent_id, str((reply.at - need) // 1000))
        return
    if chat.closed_at - need > target:
        asked = [m for m in msgs if m.sender == "customer" and m.at <= need]
        asked = asked or [m for m in msgs if m.sender == "customer"]
        add("slow_first_response", asked[-1] if asked else None, chat.last_agent_id,
            str((chat.closed_at - need) // 1000))


_CLAUSE_END = re.compile(r"[，,。.！!？?；;、~～\n]")


def _negated(text: str, start: int) -> bool:
    """Whether the word at ``start`` is negated: a negation (不, 无法, 不能 …) within the
    eight characters before it in the same clause, other than one that negates a
    reassurance of its own (不用担心, 不客气) or is no negation (不少, 不错, 不过)."""
    before = _CLAUSE_END.split(text[max(0, start - 8):start])[-1]
    for n in NEGATIONS:
        at = before.rfind(n)
        if at >= 0 and not before[at + len(n):].startswith(_NOT_NEGATING):
            return True
    return False


_NOT_NEGATING = ("用担心", "要担心", "担心", "着急", "要急", "客气", "好意思", "用急", "少",
                 "错", "仅", "但", "过", "如", "管")


# a share that states what the goods are made of (100%纯棉, 百分百桑蚕丝) is no claim
_COMPOSITION = re.compile(r"(?:100%|百分之?百)(?:纯|的)?(?:棉|羊毛|羊绒|绵羊|山羊|蚕丝|桑蚕丝|真丝"
                          r"|涤纶|聚酯|锦纶|氨纶|粘纤|莫代尔|天丝|亚麻|麻|牛皮|羊皮|头层|鹅绒"
                          r"|鸭绒|绒|纤维|含量|成分|面料|原料|新西兰|澳洲|进口)")
# a promise taken back right after it: 保证不了, 绝对不敢说
_UNDONE = ("不了", "不到", "不住", "不敢", "不能")


def _benign(text: str, start: int, end: int, rules: Rules) -> bool:
    """Whether text[start:end] lies inside one of the shop's benign phrases (保证金,
    打包好, 垃圾袋 …)."""
    for phrase in _matchers(rules).benign:
        at = text.find(phrase, max(0, start - len(phrase)))
        while 0 <= at <= start:
            if at + len(phrase) >= end:
                return True
            at = text.find(phrase, at + 1)
    return False


def _banned(text: str, rules: Rules) -> list[str]:
    found = []
    for word in rules.banned_words:
        start = text.find(word)
        while start >= 0:
            end = start + len(word)
            if not (_negated(text, start) or text.startswith(_UNDONE, end)
                    or _benign(text, start, end, rules)
                    or _COMPOSITION.match(text, start) is not None):
                found.append(word)
                break
            start = text.find(word, start + 1)
    return found


class _Matchers:
    """One ``Rules``' lists made ready to match (built once per Rules object)."""

    def __init__(self, rules: Rules):
        def alternation(words) -> re.Pattern | None:
            words = sorted({w for w in words if w}, key=len, reverse=True)
            return re.compile("|".join(map(re.escape, words))) if words else None

        self.rude = alternation(rules.rude_phrases)
        self.rude_order = {w: i for i, w in enumerate(rules.rude_phrases)}
        self.curt = {bare(c) or c for c in rules.curt_replies}
        self.negative = alternation(rules.negative_words)
        self.negative_order = {w: i for i, w in enumerate(rules.negative_words)}
        self.benign = tuple(sorted({w for w in rules.benign_phrases if w}, key=len,
                                   reverse=True))
        self.acks = alternation(rules.acknowledgements)
        self.sign_offs = alternation(bare(p) for p in rules.sign_offs)
        self.sign_off_words = tuple(bare(p) for p in rules.sign_offs if bare(p))
        self.questions = alternation(rules.question_words)


_MATCHERS: dict[int, tuple[Rules, _Matchers]] = {}


def _matchers(rules: Rules) -> _Matchers:
    entry = _MATCHERS.get(id(rules))
    if entry is None or entry[0] is not rules:
        if len(_MATCHERS) > 256:
            _MATCHERS.clear()
        entry = _MATCHERS[id(rules)] = (rules, _Matchers(rules))
    return entry[1]


# 您可以自己查看物流 shows the way; 我不知道您说的是哪一款 asks which: neither brushes off
_GUIDANCE_BEFORE = re.compile(r"(?:您|可以|麻烦|请)[^，,。.！!？?；;~～]{0,6}$")
_CLARIFY_AFTER = re.compile(r"(?:您|你说的|你指的|你要的|是哪|哪一|具体)")


def _rude(text: str, rules: Rules) -> str | None:
    m = _matchers(rules)
    if m.rude is not None:
        hits = []
        for hit in m.rude.finditer(text):
            w = hit.group(0)
            if (w.lstrip("你").startswith("自己") and not w.startswith("你")
                    and _GUIDANCE_BEFORE.search(text, 0, hit.start())):
                continue
            if ("知道" in w or "清楚" in w) and _CLARIFY_AFTER.match(text, hit.end()):
                continue
            hits.append(w)
        if hits:  # the list's first phrase found, as a shop orders its list
            return min(hits, key=lambda w: m.rude_order.get(w, len(m.rude_order)))
    if re.search(r"[?？]{2,}", text):
        return "??"
    b = bare(text)
    if b in m.curt or (not b and text.strip() in m.curt):
        return b or text.strip()
    return None


# a clause that supposes or fears (如果不满意可以退吗, 担心收到坏了) is not upset yet
_SUPPOSED = re.compile(r"如果|要是|万一|假如|假设|的话|怕|担心|会不会|是否|能不能退|可以退|包退"
                       r"|能退|能换|可以换|包换|支持退")
_NOT_BEFORE = ("不是", "没有", "并不", "并没", "不会", "不想", "不要", "别", "不算")
_NOT_A_NEGATION = re.compile(r"特别|分别|区别|别的|级别|性别|类别|告别|差别|识别")


def negative_word(text: str, rules: Rules) -> str | None:
    """The upset word of a customer turn (None: not upset): a negative word meant as
    one (not negated: 不是投诉; not supposed: 如果不满意可以退吗; not inside a benign
    phrase: 垃圾袋), or "!!" for two or more ! in a row."""
    m = _matchers(rules)
    meant = []
    if m.negative is not None:
        for hit in m.negative.finditer(text):
            clause_start = max((text.rfind(p, 0, hit.start()) for p in "，,。.！!？?；;~～"),
                               default=-1) + 1
            clause_end = min((i for i in (text.find(p, hit.end()) for p in "，,。.！!？?；;~～")
                              if i >= 0), default=len(text))
            before = _NOT_A_NEGATION.sub("", text[clause_start:hit.start()])
            if (any(n in before[-4:] for n in _NOT_BEFORE)
                    or _SUPPOSED.search(text[clause_start:clause_end])
                    or _benign(text, hit.start(), hit.end(), rules)):
                continue
            meant.append(hit.group(0))
    if meant:  # the list's first word found, as a shop orders its list
        return min(meant, key=lambda w: m.negative_order.get(w, len(m.negative_order)))
    return "!!" if re.search(r"[!！]{2,}", text) else None


def is_negative(text: str, rules: Rules) -> bool:
    """An upset customer turn (see :func:`negative_word`)."""
    return negative_word(text, rules) is not None


def _acknowledges(text: str, rules: Rules) -> bool:
    m = _matchers(rules)
    return m.acks is not None and m.acks.search(text) is not None


def is_question(text: str, rules: Rules) -> bool:
    """A question: a question mark, a closing question particle, or a question word."""
    if "?" in text or "？" in text:
        return True
    b = bare(text)
    if not b or is_sign_off(text, rules):
        return False
    m = _matchers(rules)
    b = _NOT_ASKING.sub("", b)  # 没什么了, 怎么都行: a question word that asks nothing
    return b.endswith(QUESTION_ENDS) or (m.questions is not None and
                                         m.questions.search(b) is not None)


_NOT_ASKING = re.compile(r"没什么|没啥|不怎么|没多少|没多久|什么的|什么都|怎么都|哪都|哪儿都|哪里都"
                         r"|多少都")


def is_sign_off(text: str, rules: Rules) -> bool:
    """Words that end the talk: only sign-off phrases (谢谢, 好的, 拜拜 …) once
    punctuation and emoji are left out."""
    b = bare(text)
    if not b:
        return True
    m = _matchers(rules)
    if m.sign_offs is None:
        return False
    if not m.sign_offs.sub("", b):
        return True
    # 好的，我等收货 / 没别的了，谢谢: it opens or ends with a sign-off and holds no question
    # nor a new matter (还想问, 另外, 不过 …)
    ends = any(len(w) >= 2 and (b.startswith(w) or b.endswith(w)) for w in m.sign_off_words)
    return (ends and "?" not in text
            and "？" not in text and not b.endswith(QUESTION_ENDS)
            and not _GOES_ON.search(b)
            and (m.questions is None or not m.questions.search(_NOT_ASKING.sub("", b))))


_GOES_ON = re.compile(r"还[想要有]|另外|再问|想问|问一下|问下|咨询|但是|不过|可是|还是|还没|然后")

def _negative_runs(msgs: Sequence[Message], texts: dict[int, str], rules: Rules, add,
                   holder) -> None:
    i, n = 0, len(msgs)
    while i < n:
        if msgs[i].sender != "customer":
            i += 1
            continue
        j = i
        while j < n and msgs[j].sender == "customer":
            j += 1
        upset = next((k for k in range(i, j) if is_negative(texts[msgs[k].id], rules)), None)
        if upset is not None:
            k = j
            replies = []
            while k < n and msgs[k].sender != "customer":
                if msgs[k].sender in STAFF:
                    replies.append(msgs[k])
                k += 1
            if not replies:  # nobody answered before the customer wrote again
                replies = [m for m in msgs[j:] if m.sender in STAFF][:1]
            if not any(_acknowledges(texts[m.id], rules) for m in replies):
                who = next((m.agent_id for m in replies if m.sender == "agent"), None)
                add("negative_unacknowledged", msgs[upset], who or holder(upset),
                    negative_word(texts[msgs[upset].id], rules) or "!!")
        i = j
