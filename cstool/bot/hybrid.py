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

__all__ = ["EntrySimilarity", "entry_similarity", "fuse", "semantic_rows"]


def entry_similarity(doc_rows: np.ndarray, entry_start: np.ndarray,
                     query: np.ndarray) -> np.ndarray:
    """Best cosine of ``query`` with each entry's rows (rows grouped by entry, entry
    ``i`` starting at ``entry_start[i]``); rows of zeros (texts not embedded) score 0."""
    if doc_rows.shape[0] == 0:
        return np.zeros(len(entry_start), dtype=np.float32)
    sims = doc_rows.astype(np.float32, copy=False) @ query.astype(np.float32, copy=False)
    return np.maximum.reduceat(sims, entry_start).astype(np.float32)


class EntrySimilarity:
    """:func:`entry_similarity` for many questions over the same rows, faster.

    Keeps only the embedded rows (not all zeros) as one C-contiguous float32 matrix, so
    a question reads a quarter of the memory when a large scope embeds only each
    entry's main question (one row in four at 20,000 entries). Gives the same values as
    :func:`entry_similarity`: an entry with a row not embedded scores at least 0 (that
    row's cosine), one with no embedded row exactly 0. ``source`` is the array it was
    made from (a scope rebuilds it when its rows change)."""

    def __init__(self, doc_rows: np.ndarray, entry_start: np.ndarray) -> None:
        """Index ``doc_rows`` grouped by entry (entry ``i`` starting at
        ``entry_start[i]``, every entry with at least one row)."""
        self.source = doc_rows
        n_entries, n_docs = len(entry_start), int(doc_rows.shape[0])
        counts = np.diff(np.append(np.asarray(entry_start, dtype=np.int64), n_docs))
        doc_entry = np.repeat(np.arange(n_entries, dtype=np.int64), counts)
        embedded = (doc_rows != 0).any(axis=1) if n_docs else np.zeros(0, dtype=bool)
        self.rows = np.ascontiguousarray(doc_rows[embedded], dtype=np.float32)
        entry_of_row = doc_entry[embedded]
        new = np.ones(len(entry_of_row), dtype=bool)
        new[1:] = entry_of_row[1:] != entry_of_row[:-1]
        self.row_start = np.flatnonzero(new)  # each embedded entry's first row
        self.entries = entry_of_row[self.row_start]  # entries with an embedded row
        blank = np.bincount(doc_entry[~embedded], minlength=n_entries) > 0
        # an entry's blank (not embedded) row scores 0; without one, only its rows count
        self.base = np.where(blank, 0.0, -np.inf).astype(np.float32)
        self.base[np.setdiff1d(np.arange(n_entries), self.entries)] = 0.0

    def __call__(self, query: np.ndarray) -> np.ndarray:
        """Best cosine of ``query`` with each entry's rows (float32, one per entry)."""
        out = self.base.copy()
        if len(self.rows):
            sims = self.rows @ query.astype(np.float32, copy=False)
            best = np.maximum.reduceat(sims, self.row_start)
            out[self.entries] = np.maximum(out[self.entries], best)
        return out


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
