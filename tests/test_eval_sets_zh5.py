"""The held-out evaluation sets zh5 (Chinese: tea & specialty food, home appliances,
eyewear) and en2 (English: a bicycle shop) load with benchmarks/bench_bot.py's own loader:
every question names an entry of its knowledge file (or none / handoff), no message is
there twice, and the sets have the sizes they were written with. Only their shape is
checked here; they are never tuned on (read only to report)."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"

# name: (entries, in-scope questions, out-of-scope, handoff), each an "at least"
SIZES = {"zh5": (40, 200, 40, 15), "en2": (25, 100, 20, 8)}


@pytest.fixture(scope="module")
def bench():
    """benchmarks/bench_bot.py, loaded as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_bot_for_eval_sets",
                                                  ROOT / "benchmarks" / "bench_bot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", sorted(SIZES))
def test_every_question_names_an_entry_of_its_set(bench, name):
    entries, questions = bench.load_zh(DATA / f"{name}_kb.yaml",
                                       DATA / f"{name}_questions.csv")
    keys = [e["key"] for e in entries]
    assert len(keys) == len(set(keys))
    labels = set(keys) | {bench.NONE, bench.HANDOFF_LABEL}
    assert all(entry in labels for _, entry in questions)
    texts = [text.strip() for text, _ in questions]
    assert all(texts) and len(texts) == len(set(texts))
    for e in entries:
        assert e["question"] and e["answer"] and e["category"] and e["tags"], e["key"]
        assert 3 <= len(e["similar"]) <= 5, e["key"]

    counts = Counter(entry for _, entry in questions)
    n_entries, n_in, n_out, n_handoff = SIZES[name]
    assert len(entries) >= n_entries
    assert sum(n for k, n in counts.items() if k in set(keys)) >= n_in
    assert counts[bench.NONE] >= n_out
    assert counts[bench.HANDOFF_LABEL] >= n_handoff
    assert set(keys) <= set(counts)  # every entry is asked about
