"""The PostgreSQL benchmarks run at their ``--quick`` size (the speed lives in the
benchmarks; here only that they run, print their figures and ratios, and find nothing
lost or different). Each starts its own throwaway cluster (benchmarks/pg_cluster.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from . import pg_support

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _postgres_installed(pg_cluster):
    """Skipped where PostgreSQL is not installed (failed under $CSTOOL_REQUIRE_PG)."""
    assert pg_support.available()


def _run(script: str) -> str:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick"],
                         cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_bench_api_pg_quick():
    out = _run("bench_api_pg.py")
    assert "PostgreSQL, 1 cstool serve:" in out
    assert "PostgreSQL, 2 cstool serve on one database:" in out
    assert "SQLite file, 1 cstool serve:" in out and "raw psycopg inserts" in out
    assert "ratio 2 processes / 1:" in out and "ratio pool / one connection:" in out
    assert " 0 errors" in out and "lost" not in out


def test_bench_load_pg_quick():
    out = _run("bench_load_pg.py")
    assert "cstool bulk_load, PostgreSQL:" in out and "ratio ours / raw COPY:" in out
    assert "ratio PostgreSQL / SQLite:" in out


def test_bench_metrics_pg_quick():
    out = _run("bench_metrics_pg.py")
    assert "report total" in out and "ratio PostgreSQL/SQLite" in out
    assert "reports agree between the engines: yes" in out


def test_bench_post_cpu_pg_quick():
    out = _run("bench_post_cpu_pg.py")
    assert "SQLite:" in out and "PostgreSQL:" in out and "ms CPU a post" in out
    assert "ratio PostgreSQL / SQLite (CPU a post):" in out
    assert "lost" not in out and "doubled" not in out
