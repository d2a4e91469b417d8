"""The hybrid ranking: the lexical engine's probabilities fused with embedding similarity.

For a question with embedding ``q`` and an entry whose texts (question and similar
questions) have embeddings ``t_1..t_n``, the entry's semantic score is the best cosine
``max_i q·t_i`` (1-nearest-neighbour over the entry's questions). The fused ranking is

    p(entry) = softmax( log p_lexical(entry) + weight * semantic(entry) )

where ``p_lexical`` is the lexical engine's (classifier + TF-IDF) probability. The weight
(``IndexConfig.semantic_weight``) was chosen by 5-fold cross-validation on the questions
of the first Chinese set (benchmarks/data/zh_questions.csv) and a banking77 train
subset (``benchmarks/bench_bot.py``); the held-out Chinese set was never used for it.
Pure functions over numpy arrays: no model, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["entry_similarity", "fuse", "semantic_rows"]


def entry_similarity(doc_rows: np.ndarray, entry_start: np.ndarray,
                     query: np.ndarray) -> np.ndarray:
    """Best cosine of ``query`` with each entry's rows (rows grouped by entry, entry
    ``i`` starting at ``entry_start[i]``); rows of zeros (texts not embedded) score 0."""
    if doc_rows.shape[0] == 0:
        return np.zeros(len(entry_start), dtype=np.float32)
    sims = doc_rows.astype(np.float32, copy=False) @ query.astype(np.float32, copy=False)
    return np.maximum.reduceat(sims, entry_start).astype(np.float32)


def fuse(probs: np.ndarray, semantic: np.ndarray, weight: float) -> np.ndarray:
    """``softmax(log probs + weight * semantic)``: the hybrid entry probabilities."""
    z = np.log(np.maximum(probs.astype(np.float64), 1e-12)) + weight * semantic
    z -= z.max()
    e = np.exp(z)
    return e / e.sum()


def semantic_rows(texts: Sequence[str], embed: Sequence[bool], encoder: object,
                  progress: object = None) -> np.ndarray:
    """Float16 rows of ``texts`` from ``encoder.encode`` for those with ``embed`` true,
    zeros for the others (an entry's answer text is ranked lexically only)."""
    idx = [i for i, e in enumerate(embed) if e]
    rows = None
    if idx:
        rows = encoder.encode([texts[i] for i in idx], progress=progress)  # type: ignore[attr-defined]
    dim = rows.shape[1] if rows is not None else int(getattr(encoder, "dim", 0) or 384)
    out = np.zeros((len(texts), dim), dtype=np.float16)
    if rows is not None:
        out[idx] = rows.astype(np.float16)
    return out
