"""The code stays ruff clean, and the core never imports the front ends."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ruff") is None and not (ROOT / ".venv/bin/ruff").exists(),
                    reason="ruff not installed")
def test_ruff_check_is_clean():
    ruff = shutil.which("ruff") or str(ROOT / ".venv/bin/ruff")
    out = subprocess.run([ruff, "check", "cstool", "commands", "tui", "fixtures", "tests",
                          "benchmarks"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_core_imports_neither_typer_nor_textual():
    pattern = re.compile(r"^\s*(from|import)\s+(typer|textual)\b", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "cstool").rglob("*.py")
                 if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
