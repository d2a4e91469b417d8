"""An optional model endpoint: an OpenAI-compatible embeddings URL used in place of the
bundled encoder, for merchants who run one.

Configured per shop (shop settings ``bot_embeddings_url``, ``bot_embeddings_model``,
``bot_embeddings_timeout`` and ``bot_embeddings_key_env``, the *name* of the environment
variable holding the key: a key is never stored in the data file nor in its event log)
or for the whole platform (the environment: ``CSTOOL_BOT_EMBEDDINGS_URL``, ``..._KEY``,
``..._MODEL``, ``..._TIMEOUT``); a shop's own setting wins. The URL is the embeddings
resource itself (``https://host/v1/embeddings``): a ``POST`` with ``{"model": ...,
"input": [...]}`` and ``Authorization: Bearer <key>``, answered with
``{"data": [{"index": i, "embedding": [...]}, ...]}``.

Failures never reach the customer: a timeout, a refused connection, an HTTP error or a
malformed answer raises :class:`EndpointError` to the ranker, which answers that question
from the local ranker (see :mod:`cstool.bot.scope`); after a failure the endpoint is left
alone for ``RETRY_AFTER_S`` seconds so that customers do not each wait for a timeout. The
key and the customer's text are never logged nor put in an error message (only the
endpoint's host and the kind of failure are).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from .embeddings import to_simplified

__all__ = ["EndpointConfig", "EndpointError", "RemoteEncoder", "endpoint_for",
           "platform_endpoint", "remote_encoder"]

log = logging.getLogger("cstool.bot.endpoint")

#: Seconds an endpoint is skipped after it failed (questions rank locally meanwhile).
RETRY_AFTER_S = 30.0
DEFAULT_TIMEOUT_S = 2.0
#: Texts per request when building a scope's embeddings.
BATCH = 64


class EndpointError(Exception):
    """The endpoint did not give embeddings (the message names no key and no text)."""


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how to ask for embeddings. ``key`` is kept out of ``repr``."""

    url: str
    model: str = "text-embedding-3-small"
    key: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S

    def __repr__(self) -> str:
        return (f"EndpointConfig(url={self.url!r}, model={self.model!r}, "
                f"key={'***' if self.key else None}, timeout={self.timeout})")

    @property
    def host(self) -> str:
        """The endpoint's host (what logs and ``bot info`` show)."""
        return urlsplit(self.url).netloc or self.url

    @property
    def name(self) -> str:
        """Identifies the model in fingerprints and in ``cstool bot info``."""
        return f"endpoint {self.model} @ {self.host}"


def platform_endpoint(env: Mapping[str, str] | None = None) -> EndpointConfig | None:
    """The platform-wide endpoint from the environment, or None."""
    env = os.environ if env is None else env
    url = (env.get("CSTOOL_BOT_EMBEDDINGS_URL") or "").strip()
    if not url:
        return None
    return EndpointConfig(
        url=url,
        model=(env.get("CSTOOL_BOT_EMBEDDINGS_MODEL") or "").strip() or EndpointConfig.model,
        key=(env.get("CSTOOL_BOT_EMBEDDINGS_KEY") or "").strip() or None,
        timeout=_timeout(env.get("CSTOOL_BOT_EMBEDDINGS_TIMEOUT")),
    )


def _timeout(v: Any) -> float:
    try:
        t = float(v)
    except (TypeError, ValueError):
        return DEFAULT_TIMEOUT_S
    return t if 0 < t <= 60 else DEFAULT_TIMEOUT_S


def endpoint_for(settings: Mapping[str, Any] | None,
                 env: Mapping[str, str] | None = None) -> EndpointConfig | None:
    """The endpoint of a shop's own ``bot_embeddings_*`` settings, or None; the key is
    read from the environment variable named by ``bot_embeddings_key_env``."""
    s = settings or {}
    env = os.environ if env is None else env
    url = str(s.get("bot_embeddings_url") or "").strip()
    if not url:
        return None
    key_env = str(s.get("bot_embeddings_key_env") or "").strip()
    return EndpointConfig(
        url=url,
        model=str(s.get("bot_embeddings_model") or "").strip() or EndpointConfig.model,
        key=(env.get(key_env) or "").strip() or None if key_env else None,
        timeout=_timeout(s.get("bot_embeddings_timeout", DEFAULT_TIMEOUT_S)),
    )


class RemoteEncoder:
    """Embeds texts through an OpenAI-compatible endpoint; the interface of
    :class:`cstool.bot.embeddings.Encoder` (``name``, ``dim``, ``encode``)."""

    def __init__(self, config: EndpointConfig, memory: int = 2048) -> None:
        """``config`` says where; ``memory`` recent texts are kept (no second request)."""
        self.config = config
        self.name = config.name
        self.dim = 0  # known after the first answer
        self._memory: OrderedDict[str, np.ndarray] = OrderedDict()
        self._max = memory
        self._lock = threading.Lock()
        self._down_until = 0.0

    def __repr__(self) -> str:
        return f"RemoteEncoder({self.config!r})"

    def available(self) -> bool:
        """False while the endpoint is being left alone after a failure."""
        return time.monotonic() >= self._down_until

    def encode(self, texts: Sequence[str], batch: int = BATCH,
               progress: Any = None) -> np.ndarray:
        """L2-normalised rows of ``texts``; raises :class:`EndpointError` on any failure."""
        if not self.available():
            raise EndpointError(f"{self.config.host}: skipped after a recent failure")
        clean = [to_simplified(t or "").strip()[:2000] or "?" for t in texts]
        rows: list[np.ndarray | None] = []
        todo: list[int] = []
        with self._lock:
            for i, t in enumerate(clean):
                hit = self._memory.get(t)
                rows.append(hit)
                if hit is None:
                    todo.append(i)
        for start in range(0, len(todo), batch):
            part = todo[start : start + batch]
            got = self._request([clean[i] for i in part])
            for i, r in zip(part, got, strict=True):
                rows[i] = r
            with self._lock:
                for i, r in zip(part, got, strict=True):
                    self._memory[clean[i]] = r
                while len(self._memory) > self._max:
                    self._memory.popitem(last=False)
            if progress is not None:
                progress(min(start + batch, len(todo)), len(todo))
        if not rows:
            return np.zeros((0, max(1, self.dim)), dtype=np.float32)
        return np.stack([np.asarray(r, dtype=np.float32) for r in rows])

    def encode_one(self, text: str) -> np.ndarray:
        """The row of one text (raises :class:`EndpointError`)."""
        return self.encode([text])[0]

    def _request(self, texts: list[str]) -> list[np.ndarray]:
        """One POST; the rows in the order of ``texts``."""
        import httpx

        headers = {"Content-Type": "application/json"}
        if self.config.key:
            headers["Authorization"] = f"Bearer {self.config.key}"
        try:
            r = httpx.post(self.config.url, json={"model": self.config.model, "input": texts},
                           headers=headers, timeout=self.config.timeout)
            if r.status_code != 200:
                raise EndpointError(f"{self.config.host}: HTTP {r.status_code}")
            data = r.json()["data"]
            by = {int(d["index"]): d["embedding"] for d in data}
            rows = [np.asarray(by[i], dtype=np.float32) for i in range(len(texts))]
            dims = {len(x) for x in rows}
            if len(dims) != 1 or 0 in dims or (self.dim and dims != {self.dim}):
                raise EndpointError(f"{self.config.host}: embeddings of unexpected size")
            if not all(np.isfinite(x).all() for x in rows):
                raise EndpointError(f"{self.config.host}: embeddings not finite")
        except EndpointError as exc:
            self._failed(str(exc))
            raise
        except httpx.TimeoutException:
            self._failed(f"{self.config.host}: timeout after {self.config.timeout}s")
            raise EndpointError(f"{self.config.host}: timeout") from None
        except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError) as exc:
            self._failed(f"{self.config.host}: {type(exc).__name__}")
            raise EndpointError(f"{self.config.host}: {type(exc).__name__}") from None
        self.dim = len(rows[0])
        out = []
        for x in rows:
            n = float(np.linalg.norm(x))
            out.append(x / n if n > 0 else x)
        return out

    def _failed(self, what: str) -> None:
        """Leave the endpoint alone for a while; log the host and the kind of failure."""
        self._down_until = time.monotonic() + RETRY_AFTER_S
        log.warning("embeddings endpoint failed (%s); the local ranker answers meanwhile",
                    what)


_encoders: dict[EndpointConfig, RemoteEncoder] = {}
_encoders_lock = threading.Lock()


def remote_encoder(config: EndpointConfig) -> RemoteEncoder:
    """The process-wide encoder of ``config`` (its memory and failure state shared)."""
    with _encoders_lock:
        enc = _encoders.get(config)
        if enc is None:
            enc = _encoders[config] = RemoteEncoder(config)
        return enc


def reset() -> None:
    """Forget every remote encoder (tests)."""
    with _encoders_lock:
        _encoders.clear()
