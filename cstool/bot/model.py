"""Numeric parts of the retrieval engine: TF-IDF vectors, a softmax classifier, calibration.

Vectors are sparse rows in CSR form (``indptr``, ``indices``, ``data`` numpy arrays). The
classifier is multinomial logistic regression over the same TF-IDF features, trained
with mini-batch Adam that only touches the feature rows present in each batch (so a
batch costs ``batch x features-in-batch x entries`` instead of the full matrix). The
calibrator is a tiny logistic regression that maps a few signals of one ranking
(top probability, margin, lexical similarity, whether classifier and lexical search
agree) to the probability that the top entry is right.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Calibrator",
    "Csr",
    "SoftmaxClassifier",
    "Vectoriser",
    "softmax",
]


@dataclass
class Csr:
    """Sparse rows: row ``i`` holds ``indices[indptr[i]:indptr[i+1]]`` with ``data``."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.indptr) - 1

    def take(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``(row_in_selection, feature, value)`` arrays for the selected rows."""
        starts = self.indptr[rows]
        lens = self.indptr[rows + 1] - starts
        total = int(lens.sum())
        r = np.repeat(np.arange(len(rows)), lens)
        pos = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(total)
        return r, self.indices[pos], self.data[pos]

    def subset(self, rows: np.ndarray) -> Csr:
        """A new :class:`Csr` holding only ``rows`` (in that order)."""
        _, ind, dat = self.take(rows)
        lens = self.indptr[rows + 1] - self.indptr[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lens, out=indptr[1:])
        return Csr(indptr, ind, dat)


def softmax(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, numerically stable."""
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Vectoriser:
    """Feature vocabulary with smoothed IDF; turns feature lists into L2-normalised rows.

    Term frequency is sublinear (``1 + log tf``), IDF is ``log((1 + n) / (1 + df)) + 1``.
    Features never seen at build time are ignored at query time.
    """

    def __init__(self, vocab: dict[str, int], idf: np.ndarray, n_docs: int) -> None:
        """Wrap an existing vocabulary (use :meth:`fit` to build one)."""
        self.vocab = vocab
        self.idf = idf.astype(np.float32)
        self.n_docs = n_docs

    @classmethod
    def fit(cls, docs: Sequence[Sequence[str]]) -> Vectoriser:
        """Build the vocabulary and IDF from the feature lists of ``docs``."""
        return cls.fit_transform(docs)[0]

    @classmethod
    def fit_transform(cls, docs: Sequence[Sequence[str]]) -> tuple[Vectoriser, Csr]:
        """Build the vocabulary from ``docs`` and vectorise them in one pass."""
        vocab: dict[str, int] = {}
        setdefault = vocab.setdefault
        ids = np.fromiter((setdefault(f, len(vocab)) for doc in docs for f in doc), dtype=np.int64)
        lens = np.fromiter((len(doc) for doc in docs), dtype=np.int64, count=len(docs))
        n_feat = len(vocab)
        n = len(docs)
        rows = np.repeat(np.arange(n, dtype=np.int64), lens)
        pair, counts = np.unique(rows * max(1, n_feat) + ids, return_counts=True)
        prow = pair // max(1, n_feat)
        pid = pair % max(1, n_feat)
        df = np.bincount(pid, minlength=n_feat).astype(np.float64)
        idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        vals = (1.0 + np.log(counts.astype(np.float32))) * idf[pid]
        norms = np.sqrt(np.bincount(prow, weights=vals.astype(np.float64) ** 2, minlength=n))
        norms[norms == 0] = 1.0
        vals = (vals / norms[prow]).astype(np.float32)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(prow, minlength=n), out=indptr[1:])
        return cls(vocab, idf, n), Csr(indptr, pid, vals)

    def row(self, feats: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """One L2-normalised row: ``(feature ids, values)`` sorted by id."""
        counts: Counter[int] = Counter()
        vocab = self.vocab
        for f in feats:
            i = vocab.get(f)
            if i is not None:
                counts[i] += 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ids = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        tf = np.fromiter((counts[i] for i in ids), dtype=np.float32, count=len(ids))
        vals = (1.0 + np.log(tf)) * self.idf[ids]
        vals /= float(np.sqrt(np.dot(vals, vals)))
        return ids, vals.astype(np.float32)

    def transform(self, docs: Sequence[Sequence[str]]) -> Csr:
        """Vectorise many feature lists into a :class:`Csr` matrix."""
        indptr = np.zeros(len(docs) + 1, dtype=np.int64)
        ids_parts: list[np.ndarray] = []
        val_parts: list[np.ndarray] = []
        for k, f in enumerate(docs):
            ids, vals = self.row(f)
            ids_parts.append(ids)
            val_parts.append(vals)
            indptr[k + 1] = indptr[k] + len(ids)
        if ids_parts:
            indices = np.concatenate(ids_parts)
            data = np.concatenate(val_parts)
        else:
            indices = np.zeros(0, dtype=np.int64)
            data = np.zeros(0, dtype=np.float32)
        return Csr(indptr, indices, data)


@dataclass
class TrainConfig:
    """Hyper-parameters of :class:`SoftmaxClassifier` (chosen by cross-validation on the
    banking77 *train* split only)."""

    l2: float = 1e-5
    lr: float = 0.02
    epochs: int = 6
    min_steps: int = 300
    batch: int = 128
    seed: int = 0


class SoftmaxClassifier:
    """Multinomial logistic regression ``softmax(x W + b)`` over sparse rows."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        """Wrap trained weights ``(n_features, n_classes)`` and bias ``(n_classes,)``."""
        self.weights = weights
        self.bias = bias

    @classmethod
    def train(
        cls, x: Csr, y: np.ndarray, n_features: int, n_classes: int, cfg: TrainConfig | None = None
    ) -> SoftmaxClassifier:
        """Fit on rows ``x`` with class ids ``y`` using lazy mini-batch Adam."""
        cfg = cfg or TrainConfig()
        n = x.n_rows
        rng = np.random.default_rng(cfg.seed)
        w = np.zeros((n_features, n_classes), dtype=np.float32)
        b = np.zeros(n_classes, dtype=np.float32)
        m = np.zeros_like(w)
        v = np.zeros_like(w)
        mb = np.zeros_like(b)
        vb = np.zeros_like(b)
        if n == 0:
            return cls(w, b)
        bs = max(1, min(cfg.batch, n))
        per_epoch = math.ceil(n / bs)
        epochs = max(cfg.epochs, math.ceil(cfg.min_steps / per_epoch))
        t = 0
        b1, b2, eps = 0.9, 0.999, 1e-8
        for _ in range(epochs):
            perm = rng.permutation(n)
            for s in range(0, n, bs):
                idx = perm[s : s + bs]
                r, j, d = x.take(idx)
                u, inv = np.unique(j, return_inverse=True)
                xb = np.zeros((len(idx), len(u)), dtype=np.float32)
                xb[r, inv] = d
                wu = w[u]
                p = softmax(xb @ wu + b)
                p[np.arange(len(idx)), y[idx]] -= 1.0
                g_out = p / len(idx)
                g = xb.T @ g_out + cfg.l2 * wu
                gb = g_out.sum(axis=0)
                t += 1
                c1 = 1.0 - b1**t
                c2 = 1.0 - b2**t
                mu = b1 * m[u] + (1 - b1) * g
                vu = b2 * v[u] + (1 - b2) * g * g
                m[u] = mu
                v[u] = vu
                w[u] = wu - cfg.lr * (mu / c1) / (np.sqrt(vu / c2) + eps)
                mb = b1 * mb + (1 - b1) * gb
                vb = b2 * vb + (1 - b2) * gb * gb
                b -= cfg.lr * (mb / c1) / (np.sqrt(vb / c2) + eps)
        return cls(w, b)

    def logits_row(self, ids: np.ndarray, vals: np.ndarray) -> np.ndarray:
        """Logits for one sparse row."""
        if len(ids) == 0:
            return self.bias.copy()
        return vals @ self.weights[ids] + self.bias

    def logits(self, x: Csr) -> np.ndarray:
        """Logits for every row of ``x`` (rows must not be empty: use :meth:`logits_row`)."""
        out = np.tile(self.bias, (x.n_rows, 1))
        for i in range(x.n_rows):
            a, e = x.indptr[i], x.indptr[i + 1]
            if e > a:
                out[i] += x.data[a:e] @ self.weights[x.indices[a:e]]
        return out


#: Calibration signals, in order: top probability, top minus second probability,
#: lexical similarity of the top entry, agreement of classifier and lexical search.
CALIBRATION_SIGNALS = ("p_top", "margin", "lex_top", "agree")


class Calibrator:
    """Logistic map from ranking signals to P(top entry is right).

    Fitted on held-out rankings (internal cross-validation over the knowledge's own
    similar questions); with too little data it stays at the prior coefficients, and
    with some data it is pulled towards them (L2 towards the prior).
    """

    def __init__(self, coef: Sequence[float]) -> None:
        """``coef`` = one weight per :data:`CALIBRATION_SIGNALS` followed by the bias."""
        self.coef = np.asarray(coef, dtype=np.float64)

    @staticmethod
    def signals(p_top: float, p_second: float, lex_top: float, agree: bool) -> np.ndarray:
        """The signal vector (with a trailing 1 for the bias)."""
        return np.array([p_top, p_top - p_second, lex_top, 1.0 if agree else 0.0, 1.0])

    def __call__(self, sig: np.ndarray) -> float:
        """Calibrated probability for one signal vector."""
        z = float(sig @ self.coef)
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    @classmethod
    def fit(
        cls, sig: np.ndarray, correct: np.ndarray, prior: Sequence[float], strength: float = 5.0,
        weight: np.ndarray | None = None,
    ) -> Calibrator:
        """Fit by Newton's method on ``sig`` rows (from :meth:`signals`) and 0/1 outcomes.

        ``strength`` is the L2 pull towards ``prior``, in units of examples; ``weight``
        (default 1) how much each row counts.
        """
        prior_v = np.asarray(prior, dtype=np.float64)
        theta = prior_v.copy()
        if len(sig) == 0:
            return cls(theta)
        x = np.asarray(sig, dtype=np.float64)
        y = np.asarray(correct, dtype=np.float64)
        w = (np.ones(len(y)) if weight is None or len(weight) != len(y)
             else np.asarray(weight, dtype=np.float64))
        lam = strength * np.ones(len(theta))

        def loss(th: np.ndarray) -> float:
            z = x @ th
            nll = float(np.sum(w * (np.logaddexp(0.0, z) - y * z)))
            return nll + 0.5 * float(np.sum(lam * (th - prior_v) ** 2))

        cur = loss(theta)
        for _ in range(100):
            z = np.clip(x @ theta, -30, 30)
            p = 1.0 / (1.0 + np.exp(-z))
            grad = x.T @ (w * (p - y)) + lam * (theta - prior_v)
            hess = (x * (w * p * (1 - p))[:, None]).T @ x + np.diag(lam)
            step = np.linalg.solve(hess, grad)
            # damped Newton: halve the step until the loss goes down
            t = 1.0
            while t > 1e-4:
                cand = theta - t * step
                new = loss(cand)
                if new <= cur:
                    break
                t *= 0.5
            else:
                break
            theta, done = cand, cur - new < 1e-9
            cur = new
            if done:
                break
        return cls(theta)
