"""One scope of the knowledge index: the ranking over one fixed list of entries.

Long because: the scope's build, the cross-validation that calibrates its confidence
and its querying share the same private arrays (splitting them would expose those).

A scope (a shop's entries plus the platform-wide ones) holds

* a lexical index: TF-IDF cosine between the question and every question / similar
  question of every entry (an entry scores as its best text), over character n-grams,
  words and Chinese character bigrams, with postings so a large scope rescores only the
  candidates found through its rarer features;
* a classifier: multinomial logistic regression trained on the entries' questions and
  similar questions, over the same features, when the scope has few enough entries;
* a calibrator turning the fused ranking into ``confidence``, fitted by internal
  cross-validation over the similar questions.

Also here: the build options (:class:`IndexConfig`) and the entries' clean form
(:func:`normalise_entry`). :class:`cstool.bot.index.KnowledgeIndex` keeps one
:class:`Scope` per distinct set of entries and synonyms.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import InvalidValue
from . import calibration, embeddings, hybrid
from .endpoint import EndpointError
from .model import Calibrator, Csr, SoftmaxClassifier, TrainConfig, Vectoriser, softmax
from .text import SynonymTable, features, normalise

__all__ = ["IndexConfig", "Scope", "normalise_entry"]

#: Fewer held-out in-scope questions than this: the calibrator keeps its prior.
MIN_IN_SCOPE_ROWS = 10

# ---------------------------------------------------------------------------------------
# Configuration




@dataclass
class IndexConfig:
    """Build options of a :class:`KnowledgeIndex`.

    The classifier is trained when the scope has at most ``classifier_max_entries``
    entries with on average at least ``classifier_min_texts_per_entry`` texts (question
    plus similar questions) each; otherwise ranking is lexical only. ``fusion`` weights
    the lexical cosine added to the classifier logits, ``lexical_temp`` is the softmax
    temperature of the lexical score when there is no classifier. In a scope of more
    than ``postings_min_docs`` texts, features found in more than ``postings_max_df`` of
    the texts (at most ``postings_max_df_abs``) only rescore the best
    ``lexical_rescore`` candidates found through the rarer features (speed). The
    calibrator is fitted on ``calibration_rounds`` of ``calibration_folds`` folds of
    held-out similar questions (at most ``calibration_max_queries``); 0 folds keeps the
    prior. ``answer_text`` adds each entry's answer and tags as one more text of the
    entry (never held out): real answers carry the vocabulary customers use. A hybrid
    scope also asks up to ``calibration_other_domains`` negative probes
    (:func:`cstool.bot.calibration.negative_probes`; only the other-domain list without
    ``calibration_service_probes``; ``calibration_skip_topics`` leaves topics of the
    bank out, for the benchmark's topic study).

    ``semantic``: when the sentence encoder is available (:mod:`cstool.bot.embeddings`)
    each entry's question and similar questions are embedded too and the ranking is the
    hybrid of :mod:`cstool.bot.hybrid` with ``semantic_weight`` (chosen by
    cross-validation on the first Chinese set and banking77 train); a scope of more
    than ``semantic_max_texts`` texts embeds only each entry's main question (build
    time), and none when it has more entries than that. A question whose lexical
    ranking alone is calibrated at least ``semantic_skip_confidence`` (1.0: never) is
    answered without embedding it (latency; 0.8 chosen by 4-fold cross-validation on
    the first Chinese set's questions: the lowest value at which at most 0.5 % of the
    questions so ranked were wrong or out of scope), when that lexical confidence was
    calibrated on the scope's own held-out questions (not in a scope too small for
    it). ``calibration_version`` names the calibration's signals (3: with
    ``coverage``): part of a scope's identity, so a scope built before is rebuilt
    rather than reused.
    """

    char_ngrams: tuple[int, int] = (2, 5)
    answer_text: bool = True
    fusion: float = 3.0
    lexical_temp: float = 0.05
    classifier_max_entries: int = 2000
    classifier_min_texts_per_entry: float = 3.0
    classifier_max_weights: int = 40_000_000
    calibration_folds: int = 4
    calibration_rounds: int = 1
    semantic_calibration_rounds: int = 2
    calibration_max_queries: int = 3000
    calibration_drop_share: float = 0.125
    calibration_other_domains: int = 400
    calibration_service_probes: bool = True
    calibration_skip_topics: tuple[str, ...] = ()
    postings_max_df: float = 0.1
    postings_max_df_abs: int = 3000
    postings_min_docs: int = 1000
    lexical_rescore: int = 300
    suggest_max: int = 3
    suggest_min_prob: float = 0.05
    semantic: bool = True
    semantic_weight: float = 60.0
    semantic_max_texts: int = 20_000
    semantic_skip_confidence: float = 0.8
    calibration_version: int = 3
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = asdict(self)
        d["char_ngrams"] = list(self.char_ngrams)
        d["calibration_skip_topics"] = list(self.calibration_skip_topics)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> IndexConfig:
        """Inverse of :meth:`to_dict` (unknown keys ignored)."""
        d = dict(d)
        train = TrainConfig(**d.pop("train", {}))
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        if "char_ngrams" in known:
            known["char_ngrams"] = tuple(known["char_ngrams"])
        if "calibration_skip_topics" in known:
            known["calibration_skip_topics"] = tuple(known["calibration_skip_topics"])
        return cls(train=train, **known)


# ---------------------------------------------------------------------------------------
# Entries


def normalise_entry(e: Mapping[str, Any]) -> dict[str, Any]:
    """Return a clean copy of entry ``e`` with every field present.

    ``similar`` and ``tags`` become lists of strings (a string is split on ``|`` or
    newlines), ``enabled`` defaults to True, ``shop`` to None (platform-wide).
    """
    if "key" not in e or not str(e["key"]).strip():
        raise InvalidValue(f"knowledge entry without a key: {dict(e)!r}",
                           key="kb_entry_without_key", entry=str(dict(e)))

    def as_list(v: Any) -> list[str]:
        if v is None:
            return []
        if isinstance(v, str):
            return [s.strip() for s in re.split(r"[|\n]", v) if s.strip()]
        return [str(s).strip() for s in v if str(s).strip()]

    enabled = e.get("enabled", True)
    if isinstance(enabled, str):
        enabled = enabled.strip().lower() not in ("0", "false", "no", "off", "")
    shop = e.get("shop")
    return {
        "key": str(e["key"]).strip(),
        "question": str(e.get("question") or "").strip(),
        "similar": as_list(e.get("similar")),
        "answer": str(e.get("answer") or ""),
        "category": str(e.get("category") or ""),
        "tags": as_list(e.get("tags")),
        "enabled": bool(enabled),
        "shop": str(shop).strip() if shop not in (None, "") else None,
    }


def _entry_texts(e: Mapping[str, Any], with_answer: bool = False) -> list[tuple[str, bool]]:
    """The texts that represent entry ``e``: ``(text, held_out_allowed)``.

    The question first (never held out in calibration), then the similar questions,
    then (``with_answer``) the answer with the tags as one more, auxiliary text.
    """
    seen: set[str] = set()
    out: list[tuple[str, bool]] = []
    for i, t in enumerate([e["question"], *e["similar"]]):
        n = normalise(t)
        if n and n not in seen:
            seen.add(n)
            out.append((t, bool(out) and i > 0))
    if not out:
        out.append((e["key"].replace("_", " "), False))
    if with_answer:
        aux = " ".join([e.get("answer") or "", *e.get("tags", [])]).strip()
        if normalise(aux) and normalise(aux) not in seen:
            out.append((aux, False))
    return out


def _coef(coef: Sequence[float]) -> list[float]:
    """A stored calibrator's coefficients for today's :data:`calibration.SIGNALS`: one
    saved before a signal was added weighs the new signals 0 (the bias stays last)."""
    c = [float(x) for x in coef]
    missing = len(calibration.SIGNALS) + 1 - len(c)
    return c[:-1] + [0.0] * missing + c[-1:] if missing > 0 and c else c


def _quiet(done: int, total: int) -> None:
    """A progress callback that shows nothing."""


def _b64(a: np.ndarray) -> dict[str, Any]:
    a = np.ascontiguousarray(a)
    return {"dtype": str(a.dtype), "shape": list(a.shape), "b64": base64.b64encode(a).decode()}


def _unb64(d: Mapping[str, Any]) -> np.ndarray:
    raw = base64.b64decode(d["b64"])
    return np.frombuffer(raw, dtype=np.dtype(d["dtype"])).reshape(d["shape"]).copy()


# ---------------------------------------------------------------------------------------
# One scope


class Scope:
    """Lexical index + classifier + calibrator over one fixed list of entries."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.key_pos: dict[str, int] = {}
        self.vec: Vectoriser | None = None
        self.entry_start = np.zeros(0, dtype=np.int64)
        self.n_docs = 0
        self.doc_entry = np.zeros(0, dtype=np.int64)
        self.feat_ptr = np.zeros(1, dtype=np.int64)
        self.post_doc = np.zeros(0, dtype=np.int32)
        self.post_w = np.zeros(0, dtype=np.float32)
        self.pruned = False
        self.frequent = np.zeros(0, dtype=bool)
        self._by_doc: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._sem_index: hybrid.EntrySimilarity | None = None
        self.rescore = 300
        self.clf: SoftmaxClassifier | None = None
        self.calibrator = Calibrator(calibration.PRIOR_LEXICAL)
        self.fusion = 3.0
        self.lexical_temp = 0.05
        self.char_ngrams = (2, 5)
        self.synonyms = SynonymTable()
        self.stats: dict[str, Any] = {}
        self.sem: np.ndarray | None = None  # doc embeddings (float32), rows as the docs
        self.sem_weight = 0.0
        self.encoder_name: str | None = None  # the encoder of ``sem``
        self._encoder: Any = None  # the encoder that made ``sem`` (not saved)
        self._build_encoder: Any = None  # during the build: with the data file's store
        # confidence when the question could not be embedded (an endpoint failed)
        self.calibrator_lexical: Calibrator | None = None
        # lexical confidence at which a question is not embedded (1.0: always embedded)
        self.semantic_skip = 1.0
        self.skipped = 0  # questions ranked without their embedding (lexically sure)
        # embeddings of the negative probes far from the scope's texts (hybrid)
        self.probe_sem: np.ndarray | None = None
        self._probes: list[tuple[str, list[str], np.ndarray | None]] = []

    # -- building ------------------------------------------------------------------
    @classmethod
    def build(
        cls, entries: Sequence[Mapping[str, Any]], synonyms: SynonymTable, cfg: IndexConfig,
        encoder: Any = None,
    ) -> Scope:
        """Build the scope of ``entries``. ``encoder`` embeds the questions (default:
        the bundled one when ``cfg.semantic``); when it fails (an endpoint that does not
        answer) the bundled one does, else the scope is lexical."""
        t0 = time.perf_counter()
        s = cls()
        s.synonyms = synonyms
        s.fusion = cfg.fusion
        s.lexical_temp = cfg.lexical_temp
        s.char_ngrams = tuple(cfg.char_ngrams)  # type: ignore[assignment]
        s.keys = [e["key"] for e in entries]
        s.key_pos = {k: i for i, k in enumerate(s.keys)}
        doc_feats: list[list[str]] = []
        doc_entry: list[int] = []
        is_question: list[bool] = []
        doc_texts: list[str] = []
        embed: list[bool] = []
        for i, e in enumerate(entries):
            asked = {e["question"], *e["similar"]}
            for j, (text, held_ok) in enumerate(_entry_texts(e, cfg.answer_text)):
                t = embeddings.to_simplified(text)
                doc_feats.append(features(t, synonyms, char_ngrams=s.char_ngrams))
                doc_entry.append(i)
                is_question.append(not held_ok)
                doc_texts.append(t)
                embed.append(j == 0 or text in asked)  # not the answer text
        y = np.array(doc_entry, dtype=np.int64)
        asks = np.array(embed, dtype=bool)  # the questions (not the answer texts)
        if encoder is None and cfg.semantic:
            encoder = embeddings.load_encoder()
        if encoder is not None and len(entries) <= cfg.semantic_max_texts:
            if sum(embed) > cfg.semantic_max_texts:  # large scope: main questions only
                first = np.concatenate([[True], y[1:] != y[:-1]]) if len(y) else []
                embed = [bool(f) for f in first]
            for enc in (encoder, embeddings.load_encoder() if cfg.semantic else None):
                if enc is None:
                    continue
                try:
                    # float32 in memory (float16 would be converted at every question)
                    s.sem = hybrid.semantic_rows(doc_texts, embed, enc).astype(np.float32)
                except EndpointError:
                    s.stats["encoder_fallback"] = True
                    continue
                s.encoder_name, s._encoder = enc.name, getattr(enc, "inner", enc)
                s._build_encoder = enc  # the calibration's texts: stored too
                s.sem_weight = cfg.semantic_weight
                break
        t_feat = time.perf_counter()
        n_entries = len(s.keys)
        use_clf = cls._classifier_wanted(n_entries, len(doc_feats), cfg)
        s._fit(doc_feats, y, n_entries, cfg, use_clf, postings=True)
        t_train = time.perf_counter()
        prior = calibration.prior_for(s.sem is not None, s.clf is not None)
        s.calibrator = Calibrator(prior)
        n_cal = 0
        if s.sem is not None:
            s.calibrator_lexical = Calibrator(
                calibration.prior_for(False, s.clf is not None))
        if cfg.calibration_folds >= 2:
            got = s._cross_validate(doc_feats, y, np.array(is_question), cfg, use_clf,
                                    doc_texts, asks)
            sig, ok, weight = got["main"]
            n_cal = len(ok)
            if n_cal:
                s.calibrator = Calibrator.fit(sig, ok, prior, weight=weight, **(
                    {"strength": calibration.SEMANTIC_STRENGTH} if s.sem is not None else {}))
                s.stats["calibration_right_share"] = round(float(np.mean(ok)), 4)
            if s.calibrator_lexical is not None and len(got["lexical"][1]):
                sig_l, ok_l, weight_l = got["lexical"]
                s.calibrator_lexical = Calibrator.fit(
                    sig_l, ok_l, calibration.prior_for(False, s.clf is not None),
                    weight=weight_l)
                # only a lexical confidence fitted on the scope's own held-out
                # questions is trusted to skip a question's embedding
                s.semantic_skip = cfg.semantic_skip_confidence
        s._build_encoder = None
        s.stats.update(
            entries=n_entries,
            texts=len(doc_feats),
            features=len(s.vec.vocab) if s.vec else 0,
            classifier=s.clf is not None,
            calibration_queries=n_cal,
            seconds_features=round(t_feat - t0, 3),
            seconds_train=round(t_train - t_feat, 3),
            seconds_total=round(time.perf_counter() - t0, 3),
        )
        return s

    @staticmethod
    def _classifier_wanted(n_entries: int, n_docs: int, cfg: IndexConfig) -> bool:
        return (
            2 <= n_entries <= cfg.classifier_max_entries
            and n_docs >= cfg.classifier_min_texts_per_entry * n_entries
        )

    def _fit(
        self,
        doc_feats: Sequence[Sequence[str]],
        y: np.ndarray,
        n_entries: int,
        cfg: IndexConfig,
        use_clf: bool,
        postings: bool,
    ) -> None:
        """(Re)build vectoriser, lexical postings and classifier from ``doc_feats``."""
        order = np.argsort(y, kind="stable")
        if not np.array_equal(order, np.arange(len(y))):
            raise ValueError("documents must be grouped by entry")
        self.vec, x = Vectoriser.fit_transform(doc_feats)
        self.n_docs = x.n_rows
        self.doc_entry = y.astype(np.int64)
        counts = np.bincount(y, minlength=n_entries)
        self.entry_start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self._build_postings(x, cfg)
        self.clf = None
        if use_clf:
            n_feat = len(self.vec.vocab)
            if n_feat * n_entries <= cfg.classifier_max_weights:
                self.clf = SoftmaxClassifier.train(x, y, n_feat, n_entries, cfg.train)

    def _build_postings(self, x: Csr, cfg: IndexConfig) -> None:
        n_feat = len(self.vec.vocab) if self.vec else 0
        ind = x.indices
        docs = np.repeat(np.arange(x.n_rows, dtype=np.int32), np.diff(x.indptr))
        order = np.argsort(ind, kind="stable")  # stable: doc ids ascend within a feature
        self.post_doc = docs[order]
        self.post_w = x.data[order].astype(np.float32)
        df = np.bincount(ind, minlength=n_feat)
        self.feat_ptr = np.zeros(n_feat + 1, dtype=np.int64)
        np.cumsum(df, out=self.feat_ptr[1:])
        self.rescore = cfg.lexical_rescore
        self.frequent = np.zeros(n_feat, dtype=bool)
        if x.n_rows > cfg.postings_min_docs:
            cap = max(
                cfg.postings_min_docs * cfg.postings_max_df,
                min(cfg.postings_max_df * x.n_rows, cfg.postings_max_df_abs),
            )
            self.frequent = df > cap
        self.pruned = bool(self.frequent.any())
        self._by_doc = None

    def _cross_validate(
        self,
        doc_feats: Sequence[Sequence[str]],
        y: np.ndarray,
        is_question: np.ndarray,
        cfg: IndexConfig,
        use_clf: bool,
        doc_texts: Sequence[str] = (),
        asks: np.ndarray | None = None,
    ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Held-out rankings for the calibrator (see :mod:`cstool.bot.calibration`).

        Each entry keeps its main question in every fold; its similar questions are
        dealt round-robin over the folds and asked of a scope trained on the rest. In
        each fold a few entries are also left out entirely and their questions asked
        (uncovered: always wrong), and questions from other domains are asked of the
        whole scope (always wrong). Returns signal rows and 0/1 correctness: ``main``
        as the scope ranks, ``lexical`` as it ranks a question it could not embed.
        """
        k = cfg.calibration_folds
        n = len(y)
        n_sig = len(calibration.SIGNALS) + 1
        if asks is None:
            asks = np.ones(n, dtype=bool)
        fold = np.full(n, -1, dtype=np.int64)
        counters: dict[int, int] = {}
        rng = np.random.default_rng(12345)
        offset = rng.integers(0, k, size=int(y.max()) + 1 if n else 1)
        for d in range(n):
            if is_question[d]:
                continue
            e = int(y[d])
            c = counters.get(e, 0)
            counters[e] = c + 1
            fold[d] = (c + offset[e]) % k
        held_total = int((fold >= 0).sum())
        empty = (np.zeros((0, n_sig)), np.zeros(0), np.zeros(0))
        if held_total == 0:
            return {"main": empty, "lexical": empty}
        budget = min(cfg.calibration_max_queries, held_total)
        if self.sem is not None:
            self._select_probes(cfg)
        got: dict[str, tuple[list[np.ndarray], list[float]]] = {"main": ([], []),
                                                               "lexical": ([], [])}
        in_scope = {"main": 0, "lexical": 0}  # rows of held-out in-scope questions
        n_entries = len(self.keys)
        hybrid_scope = self.sem is not None
        rounds = min(k, max(1, cfg.semantic_calibration_rounds if hybrid_scope
                            else cfg.calibration_rounds))
        per_fold = max(1, budget // rounds)
        for f in range(rounds):
            # (uncovered questions and other domains calibrate hybrid scopes; a lexical
            # scope keeps the calibration of before, on held-out similar questions)
            dropped = calibration.dropped_entries(
                n_entries, k, f, cfg.calibration_drop_share if hybrid_scope else 0.0)
            gone = np.isin(y, dropped)
            held = np.flatnonzero((fold == f) & ~gone)
            if len(held) == 0:
                continue
            if len(held) > per_fold:
                held = np.sort(rng.choice(held, size=per_fold, replace=False))
            uncovered = np.flatnonzero(gone & asks)
            if len(uncovered) > max(1, per_fold // 2):
                uncovered = np.sort(rng.choice(uncovered, size=max(1, per_fold // 2),
                                               replace=False))
            train_idx = np.flatnonzero((fold != f) & ~gone)
            kept = np.setdiff1d(np.arange(n_entries), dropped)
            remap = np.full(n_entries, -1, dtype=np.int64)
            remap[kept] = np.arange(len(kept))
            sub = Scope()
            sub.synonyms = self.synonyms
            sub.fusion = self.fusion
            sub.lexical_temp = self.lexical_temp
            sub.char_ngrams = self.char_ngrams
            sub.keys = [self.keys[int(i)] for i in kept]
            sub._fit(
                [doc_feats[i] for i in train_idx],
                remap[y[train_idx]],
                len(kept),
                cfg,
                use_clf and self.clf is not None,
                postings=True,
            )
            if self.sem is not None:
                sub.sem, sub.sem_weight = self.sem[train_idx], self.sem_weight
            for d, covered in [(int(d), True) for d in held] + [(int(d), False)
                                                                  for d in uncovered]:
                qvec = self.sem[d] if self.sem is not None and self.sem[d].any() else None
                # a text not embedded (a large scope embeds main questions only) is not
                # like a customer question to the hybrid ranking; lexically it is
                unembedded = self.sem is not None and qvec is None
                text = doc_texts[d] if d < len(doc_texts) else ""
                for name, vec in (("main", qvec), ("lexical", None)):
                    if name == "lexical" and self.sem is None:
                        continue
                    if name == "main" and unembedded:
                        continue
                    probs, lex, agree, sem = sub._score_feats(doc_feats[d], vec)
                    if probs is None:
                        continue
                    got[name][0].append(calibration.signals(
                        probs, lex, agree, sem, len(normalise(text)),
                        self.probe_best(vec),
                        sub.coverage(doc_feats[d], int(np.argmax(probs)))
                        if sem is not None else None))
                    right = covered and int(np.argmax(probs)) == int(remap[y[d]])
                    got[name][1].append(1.0 if right else 0.0)
                    in_scope[name] += covered
        # Negative probes (other shops' questions, other goods, other domains): all
        # those far from the scope's texts are asked, together weighing no more than
        # half the in-scope rows, so a small shop's calibration is not swamped by them
        # while every probe topic still counts.
        covered = int(sum(got["main"][1]))
        limit = max(10, covered // 2) if hybrid_scope else 0
        weights: dict[str, list[float]] = {name: [1.0] * len(got[name][1]) for name in got}
        probes = self._other_domains(cfg) if limit else {}
        for name, (sig2, ok2) in probes.items():
            w = min(1.0, limit / len(ok2)) if ok2 else 1.0
            got[name][0].extend(sig2)
            got[name][1].extend(ok2)
            weights[name].extend([w] * len(ok2))
        out = {}
        for name, (sg, ok) in got.items():
            wt = weights[name]
            if hybrid_scope and in_scope[name] < MIN_IN_SCOPE_ROWS:  # negatives alone: "never"
                sg, ok, wt = [], [], []  # keep the prior (a large scope embeds main questions only)
            out[name] = (np.array(sg).reshape(-1, n_sig), np.array(ok), np.array(wt))
        return out

    def _select_probes(self, cfg: IndexConfig, encoder: Any = None) -> None:
        """Choose the negative probes of this scope (:func:`calibration.negative_probes`:
        other shops' questions, other goods, other domains) that are far from every
        text of the scope (:func:`calibration.far_enough`): what its customers may ask
        that its knowledge does not answer. Keeps their texts, features and (hybrid)
        embeddings; ``probe_sem`` is what a question's embedding is compared with at
        every question (the ``probe_margin`` signal)."""
        pool = (calibration.negative_probes(
            [t for t in calibration.SERVICE_TOPIC_QUESTIONS
             if t not in cfg.calibration_skip_topics])
                if cfg.calibration_service_probes else calibration.OTHER_DOMAIN_QUESTIONS)
        texts = calibration.sample(pool, cfg.calibration_other_domains)
        self._probes = []
        self.probe_sem = None
        if not texts or not self.keys:
            return
        qvecs: np.ndarray | None = None
        if self.sem is not None:
            try:
                enc = self._build_encoder or self._encoders(encoder)[0]
                # no progress bar: the bar a merchant sees counts the entries' texts
                qvecs = enc.encode(texts, progress=_quiet)
            except (EndpointError, IndexError):
                return  # no embeddings: no negative probes this time
        keep = []
        for i, t in enumerate(texts):
            feats = features(embeddings.to_simplified(t), self.synonyms,
                             char_ngrams=self.char_ngrams)
            vec = qvecs[i] if qvecs is not None else None
            probs, lex, _, sem = self._score_feats(feats, vec)
            if probs is None:
                continue
            sem_best = float(sem.max()) if sem is not None and len(sem) else 0.0
            if not calibration.far_enough(sem_best, float(lex.max()) if len(lex) else 0.0):
                continue
            self._probes.append((t, feats, vec))
            keep.append(i)
        if qvecs is not None and keep:
            self.probe_sem = qvecs[keep].astype(np.float32)

    def probe_best(self, qvec: np.ndarray | None, skip: int = -1) -> float | None:
        """The best cosine of a question's embedding with the scope's negative probes
        (``skip``: one probe left out, the probe's own row); None without them."""
        if qvec is None or self.probe_sem is None or len(self.probe_sem) == 0:
            return None
        sims = self.probe_sem @ qvec.astype(np.float32, copy=False)
        if 0 <= skip < len(sims):
            if len(sims) == 1:
                return None
            sims = np.delete(sims, skip)
        return float(sims.max())

    def _other_domains(self, cfg: IndexConfig,
                       ) -> dict[str, tuple[list[np.ndarray], list[float]]]:
        """Signals of the scope's negative probes asked of it (all wrong; each compared
        with the other probes): ``main`` as the scope ranks, ``lexical`` without the
        question's embedding."""
        out: dict[str, tuple[list[np.ndarray], list[float]]] = {"main": ([], []),
                                                               "lexical": ([], [])}
        for i, (t, feats, vec) in enumerate(getattr(self, "_probes", [])):
            probs, lex, agree, sem = self._score_feats(feats, vec)
            if probs is None:
                continue
            out["main"][0].append(calibration.signals(probs, lex, agree, sem,
                                                      len(normalise(t)),
                                                      self.probe_best(vec, skip=i),
                                                      self.coverage(feats,
                                                                    int(np.argmax(probs)))))
            out["main"][1].append(0.0)
            if self.sem is not None:
                probs, lex, agree, _ = self._score_feats(feats, None)
                if probs is not None:
                    out["lexical"][0].append(calibration.signals(probs, lex, agree, None,
                                                                 len(normalise(t))))
                    out["lexical"][1].append(0.0)
        return out

    def coverage(self, feats: Sequence[str], entry: int) -> float:
        """The share of the question's content (its Chinese character pairs and Latin
        words, weighted by rarity) found in any text of ``entry`` (its questions, its
        answer and tags). A pair no text of the scope has counts as the rarest: "瑜伽垫
        怎么清洗" asked of a shop whose entry is about the mat's smell is half covered
        (瑜伽垫 is, 清洗 is not), a rewording of that entry mostly is."""
        content = {f for f in feats if f[:2] in ("y:", "w:")}
        if not content or self.vec is None or not 0 <= entry < len(self.keys):
            return 1.0
        idf = self.vec.idf
        rarest = float(idf.max()) if len(idf) else 1.0
        lo = int(self.entry_start[entry])
        hi = int(self.entry_start[entry + 1]) if entry + 1 < len(self.keys) else self.n_docs
        total = found = 0.0
        for f in content:
            i = self.vec.vocab.get(f)
            if i is None:
                total += rarest
                continue
            w = float(idf[i])
            total += w
            docs = self.post_doc[self.feat_ptr[i]:self.feat_ptr[i + 1]]
            at = int(np.searchsorted(docs, lo))
            if at < len(docs) and docs[at] < hi:
                found += w
        return found / total if total > 0 else 1.0

    def _encoders(self, encoder: Any = None) -> list[Any]:
        """The encoders able to embed a question for this scope: ``encoder`` or the
        bundled one, whichever made the scope's embeddings."""
        found = []
        for enc in (encoder, self._encoder, embeddings.load_encoder()):
            if enc is not None and enc.name == self.encoder_name and enc not in found:
                found.append(enc)
        return found

    def query_vector(self, text: str, encoder: Any = None) -> np.ndarray | None:
        """The question's embedding for this scope, None when the scope is lexical or
        its encoder cannot embed now (an endpoint that fails: the local ranker answers)."""
        if self.sem is None:
            return None
        for enc in self._encoders(encoder):
            try:
                return enc.encode_one(text)
            except EndpointError:
                continue
        return None

    # -- querying ------------------------------------------------------------------
    def _doc_scores(self, ids: np.ndarray, vals: np.ndarray) -> np.ndarray:
        starts = self.feat_ptr[ids]
        lens = self.feat_ptr[ids + 1] - starts
        total = int(lens.sum())
        if total == 0:
            return np.zeros(self.n_docs, dtype=np.float64)
        pos = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
        w = self.post_w[pos] * np.repeat(vals, lens)
        return np.bincount(self.post_doc[pos], weights=w, minlength=self.n_docs)

    def _doc_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The postings by document (built on first use): ``(doc_ptr, feature, weight)``,
        document ``d``'s features (ascending) at ``doc_ptr[d]:doc_ptr[d + 1]``."""
        if self._by_doc is None:
            order = np.argsort(self.post_doc, kind="stable")  # features ascend per doc
            feat = np.repeat(np.arange(len(self.feat_ptr) - 1, dtype=np.int64),
                             np.diff(self.feat_ptr))
            doc_ptr = np.zeros(self.n_docs + 1, dtype=np.int64)
            np.cumsum(np.bincount(self.post_doc, minlength=self.n_docs), out=doc_ptr[1:])
            self._by_doc = (doc_ptr, feat[order], self.post_w[order])
        return self._by_doc

    def _lexical(self, ids: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """Best cosine similarity of each entry's texts with the query row."""
        n_entries = len(self.keys)
        if len(ids) == 0 or self.n_docs == 0:
            return np.zeros(n_entries, dtype=np.float32)
        rare = ~self.frequent[ids] if self.pruned else None
        if rare is None or int(rare.sum()) < 2:
            doc_scores = self._doc_scores(ids, vals)
        else:
            # Large index: find candidates through the rarer features only, then
            # rescore the best of them exactly with their full vectors.
            doc_scores = self._doc_scores(ids[rare], vals[rare])
            m = min(self.rescore, self.n_docs)
            if m < self.n_docs:
                cand = np.argpartition(-doc_scores, m - 1)[:m]
            else:
                cand = np.arange(self.n_docs)
            cand.sort()
            # the frequent features' part, read from the candidates' own rows (each
            # candidate's terms in feature order, as summed before: the same scores)
            fids, fvals = ids[~rare], vals[~rare]
            if len(fids) == 0:
                return np.maximum.reduceat(doc_scores, self.entry_start).astype(np.float32)
            doc_ptr, doc_feat, doc_w = self._doc_rows()
            starts = doc_ptr[cand]
            lens = doc_ptr[cand + 1] - starts
            pos = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
            feat = doc_feat[pos]
            at = np.searchsorted(fids, feat)
            at[at == len(fids)] = 0
            hit = fids[at] == feat
            w = fvals[at[hit]] * doc_w[pos[hit]]
            doc_scores += np.bincount(
                np.repeat(cand, lens)[hit], weights=w, minlength=self.n_docs
            )
        return np.maximum.reduceat(doc_scores, self.entry_start).astype(np.float32)

    def _lexical_part(
        self, feats: Sequence[str]
    ) -> tuple[np.ndarray | None, np.ndarray, bool]:
        """The lexical ranking alone: entry probabilities (None when the question has
        no known feature), lexical similarities, classifier/lexical agreement."""
        assert self.vec is not None
        ids, vals = self.vec.row(feats)
        lex = self._lexical(ids, vals)
        if len(ids) == 0:
            return None, lex, False
        if self.clf is not None:
            z = self.clf.logits_row(ids, vals)
            agree = int(np.argmax(z)) == int(np.argmax(lex))
            return softmax(z + self.fusion * lex), lex, agree
        return softmax(lex / self.lexical_temp), lex, True

    def _score_feats(
        self, feats: Sequence[str], qvec: np.ndarray | None = None,
        lexical: tuple[np.ndarray | None, np.ndarray, bool] | None = None,
    ) -> tuple[np.ndarray | None, np.ndarray, bool, np.ndarray | None]:
        """Entry probabilities, lexical similarities, classifier/lexical agreement and
        (with the question's embedding ``qvec``, a hybrid scope) each entry's best
        embedding similarity; the probabilities are then the fused ones. ``lexical``:
        :meth:`_lexical_part` of ``feats`` when already computed."""
        probs, lex, agree = lexical if lexical is not None else self._lexical_part(feats)
        if probs is None:
            return None, lex, False, None
        sem = None
        if self.sem is not None and qvec is not None:
            if self._sem_index is None or self._sem_index.source is not self.sem:
                self._sem_index = hybrid.EntrySimilarity(self.sem, self.entry_start)
            sem = self._sem_index(qvec)
            probs = hybrid.fuse(probs, sem, self.sem_weight)
        return probs, lex, agree, sem

    def lexical_confidence(self, text: str, feats: Sequence[str],
                           lexical: tuple[np.ndarray | None, np.ndarray, bool]) -> float:
        """The calibrated confidence of the lexical ranking alone (the calibrator of
        questions ranked without their embedding); 0 without a ranking."""
        probs, lex, agree = lexical
        if probs is None:
            return 0.0
        top = int(np.argmax(probs))
        cal = self.calibrator_lexical or Calibrator(calibration.PRIOR_LEXICAL)
        conf = cal(calibration.signals(probs, lex, agree, None, len(normalise(text))))
        if calibration.exact_match(lex, top):
            conf = max(conf, calibration.EXACT_CONFIDENCE)
        return float(conf)

    def rank(self, text: str, k: int,
             encoder: Any = None) -> tuple[list[tuple[str, float]], float, float]:
        """Top ``k`` ``(key, probability)``, calibrated confidence and top lexical score.
        ``encoder`` embeds the question (the shop's endpoint; default: the bundled one)."""
        if not self.keys:
            return [], 0.0, 0.0
        text = embeddings.to_simplified(text)
        feats = features(text, self.synonyms, char_ngrams=self.char_ngrams)
        lexical = self._lexical_part(feats)
        if lexical[0] is None:
            return [], 0.0, 0.0
        qvec = None
        sure = (self.sem is not None and self.semantic_skip < 1.0
                and self.lexical_confidence(text, feats, lexical) >= self.semantic_skip)
        if sure:
            self.skipped += 1  # the lexical ranking is sure: the question is not embedded
        else:
            qvec = self.query_vector(text, encoder)  # None: lexical ranking
        probs, lex, agree, sem = self._score_feats(feats, qvec, lexical)
        if probs is None:
            return [], 0.0, 0.0
        k = max(2, k) if len(probs) > 1 else 1
        k = min(k, len(probs))
        top = np.argpartition(-probs, k - 1)[:k] if k < len(probs) else np.arange(len(probs))
        top = top[np.argsort(-probs[top], kind="stable")]
        ranked = [(self.keys[int(i)], float(probs[int(i)])) for i in top]
        sig = calibration.signals(probs, lex, agree, sem, len(normalise(text)),
                                  self.probe_best(qvec),
                                  self.coverage(feats, int(top[0])) if sem is not None else None)
        cal = self.calibrator
        if self.sem is not None and qvec is None:
            cal = self.calibrator_lexical or Calibrator(calibration.PRIOR_LEXICAL)
        conf = cal(sig)
        if self.sem is not None and calibration.exact_match(lex, int(top[0])):
            conf = max(conf, calibration.EXACT_CONFIDENCE)
        return ranked, conf, float(lex[int(top[0])])

    # -- serialising ---------------------------------------------------------------
    def to_dict(self, weights_dtype: str = "float16") -> dict[str, Any]:
        assert self.vec is not None
        names = [""] * len(self.vec.vocab)
        for name, i in self.vec.vocab.items():
            names[i] = name
        return {
            "keys": self.keys,
            "vocab": names,
            "idf": _b64(self.vec.idf),
            "n_docs": self.n_docs,
            "entry_start": _b64(self.entry_start),
            "feat_ptr": _b64(self.feat_ptr),
            "post_doc": _b64(self.post_doc),
            "post_w": _b64(self.post_w.astype(np.float16)),
            "pruned": self.pruned,
            "rescore": self.rescore,
            "frequent": _b64(np.flatnonzero(self.frequent).astype(np.int32)),
            "clf_w": _b64(self.clf.weights.astype(weights_dtype)) if self.clf else None,
            "clf_b": _b64(self.clf.bias) if self.clf else None,
            "calibrator": [float(c) for c in self.calibrator.coef],
            "fusion": self.fusion,
            "lexical_temp": self.lexical_temp,
            "char_ngrams": list(self.char_ngrams),
            "synonyms": self.synonyms.to_list(),
            "stats": self.stats,
            "sem": _b64(self.sem.astype(np.float16)) if self.sem is not None else None,
            "sem_weight": self.sem_weight,
            "encoder": self.encoder_name,
            "semantic_skip": self.semantic_skip,
            "calibrator_lexical": ([float(c) for c in self.calibrator_lexical.coef]
                                   if self.calibrator_lexical is not None else None),
            "probe_sem": (_b64(self.probe_sem.astype(np.float16))
                          if self.probe_sem is not None else None),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Scope:
        s = cls()
        s.keys = list(d["keys"])
        s.key_pos = {k: i for i, k in enumerate(s.keys)}
        vocab = {name: i for i, name in enumerate(d["vocab"])}
        s.n_docs = int(d["n_docs"])
        s.vec = Vectoriser(vocab, _unb64(d["idf"]), s.n_docs)
        s.entry_start = _unb64(d["entry_start"])
        s.feat_ptr = _unb64(d["feat_ptr"])
        s.post_doc = _unb64(d["post_doc"])
        s.post_w = _unb64(d["post_w"]).astype(np.float32)
        s.pruned = bool(d.get("pruned", False))
        s.frequent = np.zeros(len(vocab), dtype=bool)
        s.frequent[_unb64(d["frequent"]).astype(np.int64)] = True
        s.rescore = int(d.get("rescore", 300))
        if d.get("clf_w") is not None:
            s.clf = SoftmaxClassifier(
                _unb64(d["clf_w"]).astype(np.float32), _unb64(d["clf_b"]).astype(np.float32)
            )
        s.calibrator = Calibrator(_coef(d["calibrator"]))
        s.fusion = float(d["fusion"])
        s.lexical_temp = float(d["lexical_temp"])
        s.char_ngrams = tuple(d["char_ngrams"])  # type: ignore[assignment]
        s.synonyms = SynonymTable(d["synonyms"])
        s.stats = dict(d.get("stats", {}))
        if d.get("sem") is not None:
            s.sem = _unb64(d["sem"]).astype(np.float32)
            s.sem_weight = float(d.get("sem_weight", 0.0))
            s.encoder_name = d.get("encoder") or embeddings.ENCODER_NAME
            s.semantic_skip = float(d.get("semantic_skip", 1.0))
        if d.get("calibrator_lexical") is not None:
            s.calibrator_lexical = Calibrator(_coef(d["calibrator_lexical"]))
        if d.get("probe_sem") is not None:
            s.probe_sem = _unb64(d["probe_sem"]).astype(np.float32)
        return s
