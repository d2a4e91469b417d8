"""Fuzz the API: schemathesis with every check (``--checks all``) against a real server
on loopback over the tenancy suite's two-shop mall, once with each of an admin's, a
shop agent's and a customer's token, every phase (examples, coverage, fuzzing).

The figure is the number of failures (goal: 0; D7 of issue 16: the server agrees with
its own OpenAPI document), with the generated cases and how many per second. The
baseline, measured in the same process against the same server, is plain requests to
the route that does nothing (``GET /v1/health``, one keep-alive client): the ratio is
fuzzing's cases per second against it.

Usage: python benchmarks/fuzz_api.py [--quick] [--examples 50] [--seed 1]
       [--role admin|agent|customer ...]
``--quick`` (run by the tests): the admin's token, 1 example per operation, the
fuzzing phase only.
Exit status 1 when any check failed; the failures are printed as schemathesis reports
them (with a curl line to reproduce each).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.tenancy_support import build_mall  # noqa: E402

ROLES = {"admin": "admin", "agent": "agent_a", "customer": "customer_a"}


def schemathesis_cli() -> list[str]:
    """The schemathesis command of this interpreter's environment."""
    beside = Path(sys.executable).parent / "schemathesis"
    found = str(beside) if beside.exists() else shutil.which("schemathesis")
    if not found:
        sys.exit("schemathesis is not installed (pip install -e '.[test]')")
    return [found]


def fuzz(url: str, token: str, *, examples: int, phases: str, seed: int, workdir: str) -> dict:
    """One schemathesis run; its cases, failures, seconds and the tail of its output."""
    # the project's settings (schemathesis.toml: one operation's documented exception)
    cmd = [*schemathesis_cli(), "--config-file", str(ROOT / "schemathesis.toml"), "run",
           f"{url}/openapi.json", "--checks", "all",
           "-H", f"Authorization: Bearer {token}", "--max-examples", str(examples),
           "--phases", phases, "--seed", str(seed), "--exclude-operation-id", "event_stream",
           "--request-timeout", "20", "--no-color", "--workers", "1",
           "--suppress-health-check", "all", "--continue-on-failure"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=3600,
                          cwd=workdir)  # its cache folder goes there, not into the repo
    seconds = time.perf_counter() - started
    out = proc.stdout + proc.stderr
    cases = _number(r"(\d+) generated", out)
    failures = _number(r"(\d+) unique failures?", out)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"schemathesis failed to run ({proc.returncode}):\n{out[-3000:]}")
    if proc.returncode == 1 and failures == 0:
        failures = max(1, _number(r"(\d+) failed", out))
    return {"cases": cases, "failures": failures, "seconds": seconds, "output": out,
            "code": proc.returncode}


def _number(pattern: str, text: str) -> int:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else 0


def main(argv: list[str] | None = None) -> int:
    """Run the fuzzing and print the figures; 1 when anything failed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small run (the tests')")
    ap.add_argument("--examples", type=int, default=50, help="examples per operation")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--role", action="append", choices=sorted(ROLES),
                    help="only these tokens (default all three)")
    args = ap.parse_args(argv)
    examples = 1 if args.quick else args.examples
    phases = "fuzzing" if args.quick else "examples,coverage,fuzzing"
    roles = args.role or (["admin"] if args.quick else list(ROLES))
    with tempfile.TemporaryDirectory(prefix="cstool-fuzz-") as tmp:
        mall = build_mall(Path(tmp))
        try:
            url = mall.served.url
            base_rate = health_rate(mall.client)
            total = {"cases": 0, "failures": 0, "seconds": 0.0}
            print(f"schemathesis --checks all, {examples} examples per operation, phases "
                  f"{phases}, seed {args.seed}")
            for role in roles:
                token = mall.served.admin if role == "admin" else mall.tokens[ROLES[role]]
                r = fuzz(url, token, examples=examples, phases=phases, seed=args.seed,
                         workdir=tmp)
                for k in total:
                    total[k] += r[k]
                rate = r["cases"] / r["seconds"] if r["seconds"] else 0.0
                print(f"{role:9} {r['cases']:7,} cases  {r['failures']:4} failures  "
                      f"{r['seconds']:6.1f} s  {rate:7.1f} cases/s")
                if r["failures"]:
                    print(_failures(r["output"]))
            rate = total["cases"] / total["seconds"] if total["seconds"] else 0.0
            ratio = rate / base_rate if base_rate else 0.0
            print(f"baseline  GET /v1/health: {base_rate:,.0f} requests/s")
            print(f"total     {total['cases']:,} cases, failures: {total['failures']} (goal 0), "
                  f"{rate:.1f} cases/s = {ratio:.3f}x the baseline")
        finally:
            mall.close()
    return 1 if total["failures"] else 0


def health_rate(client, seconds: float = 1.0) -> float:
    """Requests per second of ``GET /v1/health`` on one keep-alive client."""
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        assert client.get("/v1/health").status_code == 200
        n += 1
    return n / (time.perf_counter() - started)


def _failures(output: str, limit: int = 12_000) -> str:
    """The failures section of a schemathesis report."""
    start = output.find("FAILURES")
    text = output[start:] if start >= 0 else output
    return text[:limit]


if __name__ == "__main__":
    sys.exit(main())
