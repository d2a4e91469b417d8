"""The knowledge bot: the conversation's bot step, answering from the shop's knowledge.

For each customer message it

1. hands off at once when the customer asks for a person (转人工, "talk to a human",
   the shop's own phrases in ``bot_handoff_phrases``);
2. continues a flow waiting for an answer ("which order?" → "2") or takes a pick of
   its last "did you mean" choices;
3. recommends products ("推荐一款300左右的跑鞋", and follow-ups such as "便宜点的") with
   :mod:`cstool.bot.recommend` when the message asks for products to buy;
4. ranks the knowledge (the shop's entries plus platform-wide ones) with
   :class:`cstool.bot.KnowledgeIndex` and applies the shop's thresholds: ``answer``
   (an entry tagged ``flow:...`` runs its flow over the customer's orders, products
   and coupons), ``suggest`` (did you mean, top choices) or ``handoff``;
5. never loops: a question it could not answer, asked again in the same conversation,
   or the same "did you mean" offered twice, hands off.

Indexes are cached by the knowledge's version (a change to any entry or shop makes a
new index, which keeps every scope whose content did not change); built scopes are
also saved on disk by fingerprint (``$CSTOOL_CACHE_DIR``, else the user cache folder),
so a new process answers without training again.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, Protocol

from .. import service
from . import (
    DEFAULT_HANDOFF_PHRASES,
    IndexConfig,
    KnowledgeIndex,
    Thresholds,
    features,
    flows,
    normalise,
    recommend,
)
from . import actions as acts
from .decision import is_handoff_request
from .embeddings import to_simplified
from .endpoint import EndpointConfig, endpoint_for
from .person_request import asks_for_a_person, without_requests
from .step import BotReply

MEMORY_UNANSWERED = 10
CACHE_FILES = 64
CACHE_MAX_BYTES = 256 * 2**20


class KnowledgeSource(Protocol):
    """Where the bot reads knowledge: a cheap version, then entries and settings."""

    def version(self) -> Hashable:
        """Changes whenever an entry or a shop's bot settings change."""

    def entries(self) -> list[dict]:
        """Every enabled entry (key, shop, question, similar, answer, category, tags)."""

    def bot_settings(self) -> dict[str, dict]:
        """Per shop key, its ``bot_*`` settings."""


def default_cache_dir() -> Path | None:
    """``$CSTOOL_CACHE_DIR/knowledge``, else the user cache folder (``off``: none)."""
    env = os.environ.get("CSTOOL_CACHE_DIR")
    if env:
        return None if env.lower() in ("off", "none", "0") else Path(env) / "knowledge"
    import platformdirs

    return Path(platformdirs.user_cache_dir("cstool", appauthor=False)) / "knowledge"


def index_for(entries: list[dict], settings: Mapping[str, Mapping[str, Any]],
              config: IndexConfig | None = None) -> KnowledgeIndex:
    """A KnowledgeIndex over ``entries`` with each shop's synonyms, thresholds,
    handoff phrases and model endpoint taken from its bot settings."""
    synonyms: dict[str, list[list[str]]] = {}
    thresholds: dict[str, Thresholds] = {}
    phrases: dict[str, list[str]] = {}
    endpoints: dict[str, EndpointConfig] = {}
    base = Thresholds()
    for shop, s in settings.items():
        if s.get("bot_synonyms"):
            synonyms[shop] = [g.split("|") for g in s["bot_synonyms"]]
        answer = s.get("bot_answer_threshold")
        suggest = s.get("bot_suggest_threshold")
        if answer is not None or suggest is not None:
            a = base.answer if answer is None else float(answer)
            thresholds[shop] = Thresholds(answer=a, suggest=min(a, base.suggest if suggest is None
                                                                else float(suggest)))
        if s.get("bot_handoff_phrases"):
            phrases[shop] = list(s["bot_handoff_phrases"])
        ep = endpoint_for(s)
        if ep is not None:
            endpoints[shop] = ep
    return KnowledgeIndex(entries, shop_synonyms=synonyms, shop_thresholds=thresholds,
                          shop_handoff_phrases=phrases, config=config,
                          shop_endpoints=endpoints)


class IndexCache:
    """The current index of a knowledge source, rebuilt when its version changes.

    A rebuilt index keeps the scopes (per-shop models) whose entries did not change;
    a scope not in memory is read from the disk cache by its fingerprint, else built
    and saved there. Safe to share between threads.
    """

    def __init__(self, config: IndexConfig | None = None,
                 cache_dir: str | Path | None | bool = True, *,
                 background: bool = False) -> None:
        """``cache_dir``: a folder, True for :func:`default_cache_dir`, None/False: none.

        ``background`` (a long-running server): when the knowledge changes, the new index
        and the scopes in use are built in a thread while questions are answered from
        the previous index; it takes over when ready. Without it (the CLI, tests) the
        next question waits for the build, and is answered from the new knowledge."""
        self.config = config or IndexConfig()
        if cache_dir is True:
            cache_dir = default_cache_dir()
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._lock = threading.RLock()
        self._version: Hashable = object()
        self._index: KnowledgeIndex | None = None
        self.last_build: dict[str, Any] = {}
        self.background = background
        self._pending: Hashable | None = None  # the version being built in the background
        self._in_use: set[str | None] = set()  # scopes asked for: rebuilt ahead
        self.builds = 0  # background builds finished (tests wait for them)
        self._failed: Hashable | None = None

    @property
    def current(self) -> KnowledgeIndex | None:
        """The index last made (None before the first question)."""
        return self._index

    def index(self, source: KnowledgeSource) -> KnowledgeIndex:
        """The index for the source's current version."""
        with self._lock:
            version = source.version()
            if self._index is not None and version != self._version and self.background \
                    and version != self._failed:
                if self._pending != version:
                    self._pending = version
                    threading.Thread(
                        target=self._build_behind,
                        args=(version, source.entries(), source.bot_settings()),
                        name="cstool-kb-build", daemon=True).start()
                return self._index  # the previous knowledge until the new is ready
            if self._index is None or version != self._version:
                idx = index_for(source.entries(), source.bot_settings(), self.config)
                if self._index is not None:
                    idx.reuse_scopes(self._index)
                self._index, self._version = idx, version
            return self._index

    def _build_behind(self, version: Hashable, entries: list[dict],
                      settings: Mapping[str, Mapping[str, Any]]) -> None:
        """The background build: the index and every scope in use, then the swap."""
        try:
            idx = index_for(entries, settings, self.config)
            with self._lock:
                old, shops = self._index, set(self._in_use)
            if old is not None:
                idx.reuse_scopes(old)
            for shop in shops:
                if not idx.has_scope(shop):
                    self._make_ready(idx, shop)
        except Exception:  # noqa: BLE001 - the next question builds it in the foreground
            with self._lock:  # (and meets the error there, where it can be reported)
                if self._pending == version:
                    self._pending = None
                self._failed = version
            return
        with self._lock:
            if self._pending == version:
                self._index, self._version, self._pending = idx, version, None
            self.builds += 1

    def ready(self, index: KnowledgeIndex, shop: str | None,
              store: Any = None) -> dict[str, Any]:
        """Make the scope of ``shop`` usable now: from memory, the disk cache or a
        build (reading the entries' embeddings from ``store``, the data file, when it
        has them). Returns how (``memory``, ``disk``, ``built``), seconds and counts."""
        with self._lock:
            self._in_use.add(shop)
            return self._make_ready(index, shop, store)

    def _make_ready(self, index: KnowledgeIndex, shop: str | None,
                    store: Any = None) -> dict[str, Any]:
        """``ready`` without the lock (the background build calls it on its own index)."""
        t0 = time.perf_counter()
        if index.has_scope(shop):
            return {"how": "memory", "seconds": 0.0}
        fp = index.fingerprint(shop)
        path = self.cache_dir / f"{fp}.json" if self.cache_dir else None
        if path is not None and path.exists():
            try:
                index.adopt_scope(shop, json.loads(path.read_text(encoding="utf-8")))
                return {"how": "disk", "seconds": round(time.perf_counter() - t0, 3)}
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged cache file: build again
        stats = index.build_scope(shop, store)
        # Answer from the saved form (float16 weights) here too, so that this process
        # and one that loads the cache file give exactly the same confidences.
        state = index.scope_state(shop)
        index.adopt_scope(shop, state)
        if path is not None:
            self._save(path, state)
        self.last_build = {"how": "built", "seconds": round(time.perf_counter() - t0, 3),
                           "entries": stats.get("entries"), "texts": stats.get("texts"),
                           "classifier": stats.get("classifier")}
        return self.last_build

    def _save(self, path: Path, state: dict) -> None:
        """Write a scope atomically; keep the cache folder to the newest files."""
        try:
            text = json.dumps(state, ensure_ascii=False)
            if len(text) > CACHE_MAX_BYTES:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, path)
            files = sorted(path.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
            for old in files[:-CACHE_FILES]:
                old.unlink(missing_ok=True)
        except OSError:
            pass  # a read-only or full disk only costs a rebuild next time


def store_of(source: Any) -> Any:
    """``source`` when it keeps entry embeddings (the data file), else None."""
    return source if hasattr(source, "stored_embeddings") else None


class _Memory:
    """What the bot keeps between turns of one conversation (``conversations.flow``)."""

    def __init__(self, data: Mapping[str, Any] | None) -> None:
        d = dict(data or {})
        self.slots: dict[str, Any] = dict(d.get("slots") or {})
        self.pending: dict[str, Any] | None = d.get("pending")
        self.suggested: list[str] = list(d.get("suggested") or [])
        self.unanswered: list[str] = list(d.get("unanswered") or [])
        self.last: dict[str, Any] = dict(d.get("last") or {})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"slots": self.slots}
        if self.pending:
            out["pending"] = self.pending
        if self.suggested:
            out["suggested"] = self.suggested
        if self.unanswered:
            out["unanswered"] = self.unanswered[-MEMORY_UNANSWERED:]
        if self.last:
            out["last"] = self.last
        return out


def _strip_phrases(text: str, extra: list[str]) -> str:
    """The message without the words asking for a human (what else it asks)."""
    low = text.lower()
    for p in sorted({*DEFAULT_HANDOFF_PHRASES, *extra},
                    key=len, reverse=True):
        low = low.replace(p.lower(), " ")
    return low.strip(" ,，。.!！?？~、")


class KnowledgeBot:
    """The bot step of the desk: knowledge answers, "did you mean", flows, handoff."""

    def __init__(self, *, config: IndexConfig | None = None,
                 cache_dir: str | Path | None | bool = True) -> None:
        """``config`` tunes the retrieval engine; ``cache_dir`` see :class:`IndexCache`."""
        self.cache = IndexCache(config, cache_dir)

    def index(self, source: KnowledgeSource, shop: str | None) -> KnowledgeIndex:
        """The current index with ``shop``'s scope ready."""
        idx = self.cache.index(source)
        self.cache.ready(idx, shop, store_of(source))
        return idx

    def reply(self, shop: str | None, text: str, context: dict) -> BotReply:
        """Decide what to do with one customer message (see the module docstring)."""
        source = context.get("knowledge")
        if source is None:
            return BotReply("handoff", reason="no_knowledge")
        commerce = context.get("commerce")
        memory = _Memory(context.get("memory"))
        idx = self.index(source, shop)
        q = (text or "").strip()
        extra = [*idx.handoff_phrases, *(idx.shop_handoff_phrases.get(shop, []) if shop else [])]

        # 1. a person, please
        if service.asks_for_human(q) or is_handoff_request(q, extra):
            rest = _strip_phrases(q, extra)
            plain = normalise(to_simplified(rest))
            if asks_for_a_person(plain):  # 找个人 of a complaint
                rest = without_requests(plain)
            record = rest if len(normalise(rest)) >= 4 else None
            if record is None and memory.last.get("action") == "answer":
                record = memory.last.get("question")  # the answer did not help
            memory.pending, memory.suggested = None, []
            memory.last = {"action": "handoff", "question": q}
            ranked = idx.search(q, 3, shop=shop)  # the closest entries, for the agent
            return BotReply("handoff", entry=ranked[0][0] if ranked else None,
                            choices=[k for k, _ in ranked], reason="handoff_phrase",
                            record=record, memory=memory.to_dict())

        # 2. the answer to a question the bot asked; an action on an order (cancel, address,
        # after-sale: asked, then confirmed) or how a named order is doing
        turn = acts.turn(q, commerce, memory, context.get("languages"))
        if turn is not None:
            return self._flow_reply(turn, q, None, 1.0, memory, "action")
        if memory.pending:
            pending, memory.pending = memory.pending, None
            turn = flows.resume(pending, q, commerce, memory.slots)
            if turn is not None:
                return self._flow_reply(turn, q, pending.get("entry"),
                                        float(pending.get("confidence") or 1.0), memory)
        if memory.suggested:
            options = [{"key": k, "label": (idx.entry(k, shop) or {}).get("question", "")}
                       for k in memory.suggested]
            memory.suggested = []
            i = flows.pick(q, options) if flows.by_id(q, options) is not None or len(q) <= 12 \
                else None
            entry = idx.entry(options[i]["key"], shop) if i is not None else None
            if entry is not None:  # flows read the question that was asked, not "2"
                asked = memory.last.get("question") or q
                return self._answer(entry, asked, 1.0, "picked", commerce, memory)

        # 3. rank and decide
        d = idx.decide(q, shop=shop)
        faq = d.action == "answer" and flows.flow_of(idx.entry(d.entry, shop)) != "product"
        turn = recommend.answer(q, commerce, memory.slots, memory.last, faq)
        if turn is not None:  # products to buy: a list of the shop's, or a refinement
            return self._flow_reply(turn, q, None, 1.0, memory, "recommend")
        norm = normalise(q)
        repeated = bool(norm) and (norm in memory.unanswered or (
            d.action == "suggest" and memory.last.get("action") == "suggest"
            and memory.last.get("choices") == d.choices))
        if d.action != "answer" and repeated:
            memory.last = {"action": "handoff", "question": q}
            return BotReply("handoff", entry=d.entry, confidence=d.confidence,
                            choices=d.choices, reason="repeated", record=q,
                            memory=memory.to_dict())
        if d.action == "answer":
            entry = idx.entry(d.entry, shop)
            if entry is not None:
                return self._answer(entry, q, d.confidence, d.reason, commerce, memory)
        if d.reason == "no_match" and norm and not features(q, idx.synonyms_for(shop)):
            return self._greeting(idx, shop, q, memory)  # only 你好 / 在吗 / 亲: no question
        if norm:
            memory.unanswered.append(norm)
        if d.action == "suggest":
            memory.suggested = list(d.choices)
            memory.last = {"action": "suggest", "question": q, "choices": list(d.choices)}
            options = [{"entry": k, "question": (idx.entry(k, shop) or {}).get("question", k)}
                       for k in d.choices]
            en = flows.lang_of(q) == "en"
            head = "Did you mean:" if en else "您是不是想问："
            tail = ("Reply with a number, or say it another way." if en
                    else "回复序号即可，也可以换个说法告诉我~")
            body = "\n".join([head, *(f"{i}. {o['question']}" for i, o in
                                      enumerate(options, start=1)), tail])
            return BotReply("suggest", text=body, entry=d.entry, confidence=d.confidence,
                            choices=list(d.choices), reason=d.reason,
                            payload={"options": options}, record=q, memory=memory.to_dict())
        memory.last = {"action": "handoff", "question": q}
        return BotReply("handoff", entry=d.entry, confidence=d.confidence,
                        choices=list(d.choices), reason=d.reason,
                        record=q if norm else None, memory=memory.to_dict())

    def _greeting(self, idx: KnowledgeIndex, shop: str | None, q: str,
                  memory: _Memory) -> BotReply:
        """A message of greetings and fillers only: greet back (the scope's entry tagged
        ``greeting`` / ``问候`` if there is one) and wait for the question."""
        entry = next((e for e in idx.scope_entries(shop)
                      if {"greeting", "问候"} & set(e.get("tags") or ())
                      and flows.lang_of(e["question"]) == flows.lang_of(q)), None)
        text = entry["answer"] if entry else (
            "Hello! How can I help you?" if flows.lang_of(q) == "en"
            else "您好，请问有什么可以帮您？")
        memory.last = {"action": "answer", "question": q}
        key = entry["key"] if entry else None
        return BotReply("answer", text=text, entry=key, confidence=1.0,
                        choices=[key] if key else [], answer=text, reason="greeting",
                        memory=memory.to_dict())

    def _answer(self, entry: dict, q: str, confidence: float, reason: str, commerce: Any,
                memory: _Memory) -> BotReply:
        name = flows.flow_of(entry)
        if name is not None:
            turn = flows.start(name, q, commerce, memory.slots, entry=entry["key"])
            if turn is not None:
                if turn.pending is not None:
                    turn.pending["confidence"] = confidence
                return self._flow_reply(turn, q, entry["key"], confidence, memory, reason)
        memory.last = {"action": "answer", "question": q, "entry": entry["key"]}
        return BotReply("answer", text=entry["answer"], entry=entry["key"],
                        confidence=confidence, choices=[entry["key"]], answer=entry["answer"],
                        reason=reason, memory=memory.to_dict())

    def _flow_reply(self, turn: flows.FlowTurn, q: str, entry: str | None, confidence: float,
                    memory: _Memory, reason: str = "flow") -> BotReply:
        memory.slots.update(turn.slots)
        memory.pending = turn.pending
        memory.last = {"action": "answer", "question": q, "entry": entry, "flow": turn.flow}
        payload = {**turn.payload, "flow": turn.flow, "step": turn.step}
        return BotReply("answer", text=turn.text, entry=entry, confidence=confidence,
                        choices=[entry] if entry else [], answer=turn.text,
                        reason=reason if reason != "confident" else "flow", kind=turn.kind,
                        payload=payload, flow=turn.describe(), memory=memory.to_dict())
