"""How well the bot recognises a request for a person in wordings nobody tuned it on.

``benchmarks/data/handoff_heldout.csv`` (written independently of the rules, see its
``.md``): 100 messages asking for a person and 100 questions using the same nouns, in
Chinese and English. The file is split once, before anything was read, by a CRC-32 of
each text: the even half is development data (its misses were read to shape
``cstool/bot/person_request.py``), the odd half is held out and only reported. Printed
for each half and language: requests recognised and questions wrongly handed off, by
the rules (``decision.is_handoff_request``: phrases + the grammar of requests, handed off
at once; or ``decision.may_want_a_person``: is anyone there, are you a bot, handed off
unless the shop's own entry answers them confidently) and, in the same run,
by the fixed phrases alone (the baseline), with the ratio of the two recognition rates.

Also the held-out Chinese sets' 转人工 messages and every other message of theirs (zh2,
zh3, zh4): recognised by the rules alone (the bot itself also hands off what it cannot
answer) and questions wrongly handed off.

Usage: python benchmarks/bench_handoff.py [--quick]
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cstool.bot import decision  # noqa: E402
from cstool.bot.embeddings import to_simplified  # noqa: E402
from cstool.bot.text import normalise  # noqa: E402

DATA = ROOT / "benchmarks" / "data"
HELD_OUT = DATA / "handoff_heldout.csv"


def half(text: str) -> str:
    """``dev`` or ``test``: the split fixed before the file was read."""
    return "dev" if zlib.crc32(text.encode("utf-8")) % 2 == 0 else "test"


def phrases_only(text: str) -> bool:
    """The baseline: the fixed phrases of ``DEFAULT_HANDOFF_PHRASES`` alone."""
    return bool(decision._DEFAULT_HANDOFF_RE.search(normalise(to_simplified(text))))


def by_rules(text: str) -> bool:
    """A request the rules recognise: at once, or unless an entry answers it."""
    return decision.is_handoff_request(text) or decision.may_want_a_person(text)


def _zh(text: str) -> bool:
    return re.search(r"[\u3400-\u9fff]", text) is not None


def out(name: str, value: object) -> None:
    """One figure a line."""
    print(f"{name}: {value}", flush=True)


def run_held_out(rows: list[dict[str, str]]) -> None:
    """The two halves of the handoff file, each language apart."""
    for part in ("dev", "test"):
        for lang, is_zh in (("zh", True), ("en", False)):
            sel = [r for r in rows if half(r["text"]) == part and _zh(r["text"]) == is_zh]
            asks = [r["text"] for r in sel if r["label"] == "handoff"]
            questions = [r["text"] for r in sel if r["label"] == "question"]
            if not asks:
                continue
            t0 = time.perf_counter()
            got = sum(map(by_rules, asks))
            at_once = sum(map(decision.is_handoff_request, asks))
            wrong = sum(map(by_rules, questions))
            took = (time.perf_counter() - t0) / max(1, len(asks) + len(questions))
            base = sum(map(phrases_only, asks))
            out(f"{part} {lang} requests recognised (rules)", f"{got}/{len(asks)}")
            out(f"{part} {lang} of which handed off at once", f"{at_once}/{len(asks)}")
            out(f"{part} {lang} requests recognised (phrases alone, baseline)",
                f"{base}/{len(asks)}")
            out(f"{part} {lang} ratio rules / phrases", f"{got / max(1, base):.2f}")
            out(f"{part} {lang} questions handed off (rules)", f"{wrong}/{len(questions)}")
            out(f"{part} {lang} microseconds a message", f"{took * 1e6:.0f}")


def run_sets(names: tuple[str, ...]) -> None:
    """The 转人工 messages and the rest of each held-out Chinese set."""
    for name in names:
        path = DATA / f"{name}_questions.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        asks = [r["text"] for r in rows if r["entry"] == "handoff"]
        others = [r["text"] for r in rows if r["entry"] != "handoff"]
        out(f"{name} 转人工 recognised by the rules alone",
            f"{sum(map(by_rules, asks))}/{len(asks)}")
        out(f"{name} other messages the rules take for a request",
            f"{sum(map(by_rules, others))}/{len(others)}")


def main(argv: list[str] | None = None) -> int:
    """Print the figures (``--quick``: the first 40 rows and one set, for the tests)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a tiny run for the test suite")
    args = ap.parse_args(argv)
    with HELD_OUT.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if args.quick:
        rows = rows[:40] + rows[-40:]
    run_held_out(rows)
    run_sets(("zh2",) if args.quick else ("zh2", "zh3", "zh4"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
