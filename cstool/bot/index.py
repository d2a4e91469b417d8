"""The knowledge index: ranking entries for a question and deciding what the bot does.

A :class:`KnowledgeIndex` is built from plain entry dicts (``key``, ``question``,
``similar``, ``answer``, ``category``, ``tags``, ``enabled``, ``shop``). For each shop it
keeps a *scope* (that shop's entries plus platform-wide ones, a shop entry overriding a
platform entry with the same key; ``scope.py``: a lexical TF-IDF index, a classifier
trained on the shop's own knowledge, a calibrator giving ``confidence`` = estimated
probability that the top entry is right), built lazily and shared by shops whose scope
has the same entries and synonyms, saved and loaded as JSON.

:meth:`KnowledgeIndex.decide` applies per-shop thresholds (``decision.py``): ``answer``
when ``confidence >= answer``, ``suggest`` (did you mean, top choices) when
``confidence >= suggest``, else ``handoff``; a request for a human hands off at once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from . import embeddings, endpoint
from .decision import (
    ANSWER,
    HANDOFF,
    HYBRID_THRESHOLDS,
    SUGGEST,
    Decision,
    Thresholds,
    choose_action,
    is_handoff_request,
    may_want_a_person,
)
from .scope import IndexConfig, Scope, normalise_entry
from .text import SynonymTable, default_synonyms, normalise

__all__ = ["KnowledgeIndex"]

FORMAT_VERSION = 2  # 2: the negative probes (probe_margin)

# ---------------------------------------------------------------------------------------
# The index


class KnowledgeIndex:
    """Searchable knowledge over all shops, with per-shop synonyms and thresholds.

    Scopes are built lazily on first use of a shop (or eagerly with :meth:`build_scope`);
    shops whose scope has the same entries and synonyms share it.
    """

    def __init__(
        self,
        entries: Iterable[Mapping[str, Any]],
        *,
        synonyms: Iterable[Sequence[str]] | None = None,
        shop_synonyms: Mapping[str, Iterable[Sequence[str]]] | None = None,
        thresholds: Thresholds | None = None,
        shop_thresholds: Mapping[str, Thresholds] | None = None,
        handoff_phrases: Iterable[str] = (),
        shop_handoff_phrases: Mapping[str, Iterable[str]] | None = None,
        config: IndexConfig | None = None,
        shop_endpoints: Mapping[str, endpoint.EndpointConfig] | None = None,
        platform_endpoint: endpoint.EndpointConfig | None | bool = True,
    ) -> None:
        """Prepare an index over ``entries`` (dicts; see :func:`normalise_entry`).

        ``synonyms`` are extra groups added to the default list for every shop,
        ``shop_synonyms`` extra groups for one shop; ``thresholds`` the default decision
        thresholds and ``shop_thresholds`` per-shop overrides; ``handoff_phrases`` extra
        phrases that ask for a human. ``shop_endpoints``: shops that embed through their
        own model endpoint (:mod:`cstool.bot.endpoint`), ``platform_endpoint`` the one
        of every other shop (True: from the environment; None/False: the bundled model).
        Disabled entries are left out.
        """
        self.entries = [normalise_entry(e) for e in entries]
        self.entries = [e for e in self.entries if e["enabled"]]
        self.by_key: dict[tuple[str | None, str], dict[str, Any]] = {
            (e["shop"], e["key"]): e for e in self.entries
        }
        self.extra_synonyms = [list(g) for g in (synonyms or [])]
        self.shop_synonyms = {k: [list(g) for g in v] for k, v in (shop_synonyms or {}).items()}
        self.thresholds = thresholds or Thresholds()
        self._own_thresholds = thresholds is not None
        self.shop_thresholds = dict(shop_thresholds or {})
        self.handoff_phrases = list(handoff_phrases)
        self.shop_handoff_phrases = {k: list(v) for k, v in (shop_handoff_phrases or {}).items()}
        self.config = config or IndexConfig()
        self.shop_endpoints = dict(shop_endpoints or {})
        if platform_endpoint is True:
            platform_endpoint = endpoint.platform_endpoint()
        self.platform_endpoint = platform_endpoint or None
        self._scopes: dict[str, Scope] = {}
        self._scope_ids: dict[str | None, str] = {}

    # -- scopes --------------------------------------------------------------------
    def scope_entries(self, shop: str | None) -> list[dict[str, Any]]:
        """Entries visible to ``shop``: its own plus platform-wide ones (a shop entry
        replaces a platform entry with the same key); all entries when ``shop`` is None."""
        if shop is None:
            seen: dict[str, dict[str, Any]] = {}
            for e in self.entries:
                seen.setdefault(e["key"], e)
            return list(seen.values())
        out: dict[str, dict[str, Any]] = {}
        for e in self.entries:
            if e["shop"] is None and e["key"] not in out:
                out[e["key"]] = e
        for e in self.entries:
            if e["shop"] == shop:
                out[e["key"]] = e
        return list(out.values())

    def synonyms_for(self, shop: str | None) -> SynonymTable:
        """The synonym table used for ``shop`` (defaults + index-wide + shop groups)."""
        groups = [*self.extra_synonyms, *(self.shop_synonyms.get(shop, []) if shop else [])]
        return default_synonyms(groups)

    def thresholds_for(self, shop: str | None) -> Thresholds:
        """The decision thresholds of ``shop``: its own, else the index's, else the
        default of its ranker (:data:`HYBRID_THRESHOLDS` for a hybrid scope, whose
        confidence is calibrated against out-of-scope questions too)."""
        if shop is not None and shop in self.shop_thresholds:
            return self.shop_thresholds[shop]
        if not self._own_thresholds and self._scope(shop).sem is not None:
            return HYBRID_THRESHOLDS
        return self.thresholds

    def _scope_id(self, shop: str | None) -> str:
        sid = self._scope_ids.get(shop)
        if sid is None:
            sid = self._scope_ids[shop] = self._compute_scope_id(shop)
        return sid

    def _compute_scope_id(self, shop: str | None) -> str:
        ents = self.scope_entries(shop)
        h = hashlib.sha256()
        payload = {
            "v": FORMAT_VERSION,
            "entries": [
                [e["key"], e["shop"], e["question"], e["similar"]]
                + ([e["answer"], e["tags"]] if self.config.answer_text else [])
                for e in ents
            ],
            "synonyms": self.synonyms_for(shop).to_list(),
            "config": self.config.to_dict(),
            "ranker": self.ranker(shop),
        }
        h.update(json.dumps(payload, ensure_ascii=False, sort_keys=True).encode())
        return h.hexdigest()[:24]

    def endpoint_for(self, shop: str | None) -> endpoint.EndpointConfig | None:
        """The model endpoint ``shop`` embeds through (None: the bundled model)."""
        if not self.config.semantic:
            return None
        if shop is not None and shop in self.shop_endpoints:
            return self.shop_endpoints[shop]
        return self.platform_endpoint

    def encoder_for(self, shop: str | None) -> Any:
        """The encoder of ``shop``'s questions: its endpoint's, else the bundled one
        (None: lexical ranking)."""
        ep = self.endpoint_for(shop)
        if ep is not None:
            return endpoint.remote_encoder(ep)
        return embeddings.load_encoder() if self.config.semantic else None

    def ranker(self, shop: str | None = None) -> str:
        """``hybrid <encoder>`` when scopes embed their texts, else ``lexical`` (with
        ``+opencc`` when Traditional Chinese is converted): part of the fingerprint."""
        enc = self.encoder_for(shop)
        name = f"hybrid {enc.name}" if enc is not None else "lexical"
        return name + ("+opencc" if embeddings.to_simplified("體") == "体" else "")

    def build_scope(self, shop: str | None = None, store: Any = None) -> dict[str, Any]:
        """Build (or fetch) the scope of ``shop`` now; returns its build statistics.
        ``store`` keeps the entries' embeddings (the data file: see
        :class:`cstool.bot.embeddings.StoredEncoder`); without it they are computed."""
        return self._scope(shop, store).stats

    def _scope(self, shop: str | None, store: Any = None) -> Scope:
        sid = self._scope_id(shop)
        s = self._scopes.get(sid)
        if s is None:
            enc = self.encoder_for(shop)
            if enc is not None and store is not None:
                enc = embeddings.StoredEncoder(enc, store)
            s = Scope.build(self.scope_entries(shop), self.synonyms_for(shop), self.config,
                            encoder=enc)
            self._scopes[sid] = s
        return s

    def has_scope(self, shop: str | None = None) -> bool:
        """True when the scope of ``shop`` is built (or was adopted) already."""
        return self._scope_id(shop) in self._scopes

    def scope_state(self, shop: str | None = None) -> dict[str, Any]:
        """The built scope of ``shop`` in JSON-able form (built now if needed), for a
        cache keyed by :meth:`fingerprint`."""
        return self._scope(shop).to_dict()

    def adopt_scope(self, shop: str | None, state: Mapping[str, Any]) -> None:
        """Use a scope saved by :meth:`scope_state` under the same fingerprint."""
        self._scopes[self._scope_id(shop)] = Scope.from_dict(state)

    def reuse_scopes(self, other: KnowledgeIndex) -> None:
        """Take over the scopes ``other`` has built. Scopes are keyed by a hash of their
        entries, synonyms and configuration, so only still-valid ones are ever used."""
        for sid, scope in other._scopes.items():
            self._scopes.setdefault(sid, scope)

    def entry(self, key: str, shop: str | None = None) -> dict[str, Any] | None:
        """The entry ``key`` as seen by ``shop`` (shop entry first, then platform)."""
        if shop is not None and (shop, key) in self.by_key:
            return self.by_key[(shop, key)]
        if (None, key) in self.by_key:
            return self.by_key[(None, key)]
        for e in self.entries:
            if e["key"] == key:
                return e
        return None

    # -- querying ------------------------------------------------------------------
    def search(self, text: str, k: int = 5, *, shop: str | None = None) -> list[tuple[str, float]]:
        """Top ``k`` entries for ``text`` as ``(key, score)``, best first.

        The score is the fused probability of the entry (scores of all entries sum to
        1); an empty list when nothing matches.
        """
        ranked, _, _ = self._scope(shop).rank(text, k, self.encoder_for(shop))
        return ranked[: max(0, k)]

    def confidence(self, text: str, *, shop: str | None = None) -> float:
        """Calibrated probability that the top entry for ``text`` is right."""
        return self._scope(shop).rank(text, 1, self.encoder_for(shop))[1]

    def decide(
        self,
        text: str,
        *,
        shop: str | None = None,
        thresholds: Thresholds | None = None,
        k: int = 5,
    ) -> Decision:
        """Decide what the bot does with ``text`` for ``shop``.

        Hands off at once on a request for a human; otherwise ranks the entries and
        applies the shop's thresholds (or ``thresholds``) to the calibrated confidence.
        """
        th = thresholds or self.thresholds_for(shop)
        q = text or ""
        if not normalise(q):
            return Decision(q, HANDOFF, None, 0.0, reason="empty")
        extra = [*self.handoff_phrases, *(self.shop_handoff_phrases.get(shop, []) if shop else [])]
        scope = self._scope(shop)
        ranked, conf, _ = scope.rank(q, max(k, self.config.suggest_max), self.encoder_for(shop))
        if is_handoff_request(q, extra):
            return Decision(
                q,
                HANDOFF,
                ranked[0][0] if ranked else None,
                0.0,
                choices=[kk for kk, _ in ranked[: self.config.suggest_max]],
                reason="handoff_phrase",
                ranked=ranked[:k],
            )
        if not scope.keys:
            return Decision(q, HANDOFF, None, 0.0, reason="no_entries")
        if not ranked:
            return Decision(q, HANDOFF, None, 0.0, reason="no_match")
        top_key = ranked[0][0]
        action = choose_action(conf, th)
        choices = [
            kk
            for kk, p in ranked[: self.config.suggest_max]
            if p >= self.config.suggest_min_prob or kk == top_key
        ]
        if action == ANSWER:
            e = self.entry(top_key, shop)
            return Decision(
                q,
                ANSWER,
                top_key,
                conf,
                answer=e["answer"] if e else None,
                choices=[top_key],
                reason="confident",
                ranked=ranked[:k],
            )
        if may_want_a_person(q):  # 有人吗 / are you a bot, and no entry of the shop says
            return Decision(q, HANDOFF, top_key, conf, choices=choices,
                            reason="handoff_phrase", ranked=ranked[:k])
        reason = "unsure" if action == SUGGEST else "low_confidence"
        return Decision(q, action, top_key, conf, choices=choices, reason=reason, ranked=ranked[:k])

    # -- serialising ---------------------------------------------------------------
    def to_dict(self, *, weights_dtype: str = "float16") -> dict[str, Any]:
        """JSON-able form including every scope built so far (arrays as base64)."""
        return {
            "format": FORMAT_VERSION,
            "entries": self.entries,
            "synonyms": self.extra_synonyms,
            "shop_synonyms": self.shop_synonyms,
            "thresholds": asdict(self.thresholds) if self._own_thresholds else None,
            "shop_thresholds": {k: asdict(v) for k, v in self.shop_thresholds.items()},
            "handoff_phrases": self.handoff_phrases,
            "shop_handoff_phrases": self.shop_handoff_phrases,
            "config": self.config.to_dict(),
            "scopes": {sid: s.to_dict(weights_dtype) for sid, s in self._scopes.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> KnowledgeIndex:
        """Rebuild an index from :meth:`to_dict` output without retraining."""
        if d.get("format") != FORMAT_VERSION:
            raise ValueError(f"unsupported knowledge index format {d.get('format')!r}")
        idx = cls(
            d["entries"],
            synonyms=d.get("synonyms"),
            shop_synonyms=d.get("shop_synonyms"),
            thresholds=Thresholds(**d["thresholds"]) if d.get("thresholds") else None,
            shop_thresholds={k: Thresholds(**v) for k, v in d.get("shop_thresholds", {}).items()},
            handoff_phrases=d.get("handoff_phrases", ()),
            shop_handoff_phrases=d.get("shop_handoff_phrases"),
            config=IndexConfig.from_dict(d.get("config", {})),
        )
        idx._scopes = {sid: Scope.from_dict(sd) for sid, sd in d.get("scopes", {}).items()}
        return idx

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> KnowledgeIndex:
        """Read an index written by :meth:`save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def fingerprint(self, shop: str | None = None) -> str:
        """Identifier of ``shop``'s scope contents (entries, synonyms, config): a cached
        index is valid while this does not change."""
        return self._scope_id(shop)
