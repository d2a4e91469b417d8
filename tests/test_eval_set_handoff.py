"""The held-out handoff set benchmarks/data/handoff_heldout.csv (see its companion .md)
parses with Python's csv module as UTF-8, has only the labels handoff and question, holds
no message twice and has at least 100 of each label. Only its shape is checked here; it
is never tuned on (read only to report)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "benchmarks" / "data"


def _rows() -> list[dict[str, str]]:
    """The set's rows, read strictly as UTF-8."""
    with (DATA / "handoff_heldout.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["text", "label"]
        return list(reader)


def test_the_handoff_set_parses_without_duplicates_and_with_enough_of_each_label():
    rows = _rows()
    texts = [row["text"].strip() for row in rows]
    assert all(texts)
    assert len(texts) == len(set(texts))
    counts = Counter(row["label"] for row in rows)
    assert set(counts) == {"handoff", "question"}
    assert counts["handoff"] >= 100
    assert counts["question"] >= 100
    assert (DATA / "handoff_heldout.md").is_file()
