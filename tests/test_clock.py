"""$CSTOOL_NOW: every command starts at a chosen time and the clock runs on from there."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from commands.main import app
from cstool.clock import StartedClock, SystemClock, default_clock
from cstool.errors import UsageError
from cstool.values import parse_time


def test_no_variable_is_the_real_clock():
    assert isinstance(default_clock({}), SystemClock)
    assert isinstance(default_clock({"CSTOOL_NOW": "  "}), SystemClock)


def test_the_clock_starts_at_the_time_and_runs_on():
    ticks = iter([0, 1_500_000_000])  # 1.5 s of real time later
    clock = StartedClock(parse_time("2026-12-07T03:00+08:00"), monotonic=lambda: next(ticks))
    assert clock.now_ms() == parse_time("2026-12-07T03:00:01.500+08:00")


def test_a_bad_value_names_the_variable():
    with pytest.raises(UsageError, match=r"\$CSTOOL_NOW is not a time: 'tomorrow'"):
        default_clock({"CSTOOL_NOW": "tomorrow"})


def test_commands_read_the_faked_time(tmp_path, monkeypatch):
    db = str(tmp_path / "m.db")
    monkeypatch.setenv("CSTOOL_NOW", "2026-12-07T03:00:00+08:00")
    runner = CliRunner()
    r = runner.invoke(app, ["--db", db, "fixtures", "load", "demo"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["--db", db, "conv", "post", "--shop", "lingyi-fashion",
                            "--customer", "c00001", "在吗", "--json"])
    assert r.exit_code == 0, r.output
    conv = json.loads(r.stdout)["conversation"]
    shown = runner.invoke(app, ["--db", db, "conv", "show", str(conv["id"]), "--json"])
    started = json.loads(shown.stdout)["created_at"]
    assert started.startswith("2026-12-07T03:00:")  # tests show Shanghai time
    monkeypatch.setenv("CSTOOL_NOW", "soon")
    r = runner.invoke(app, ["--db", db, "shop", "list"])
    assert r.exit_code == 2 and "$CSTOOL_NOW is not a time" in r.stderr
