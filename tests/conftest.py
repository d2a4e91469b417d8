"""Shared fixtures: a fresh data file per test, a CLI runner bound to it, a frozen clock."""

from __future__ import annotations

import json
import os

os.environ["CSTOOL_TZ"] = "Asia/Shanghai"  # before cstool reads it; tests read Beijing time
os.environ.pop("CSTOOL_DB", None)
os.environ.pop("CSTOOL_NOW", None)  # the real clock unless a test fakes it
os.environ.pop("CSTOOL_LANG", None)
# The bot ranks lexically in tests unless a test asks for the hybrid (tests/test_bot_semantic.py):
# embedding every test knowledge base would multiply the suite's time on a shared CPU.
os.environ.setdefault("CSTOOL_BOT_RANKER", "lexical")

import pytest  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from commands.main import app  # noqa: E402
from cstool.backend.local import LocalBackend  # noqa: E402
from cstool.clock import FrozenClock  # noqa: E402
from cstool.values import parse_time  # noqa: E402

NOW = parse_time("2026-11-20T10:00:00+08:00")

# The interface language of each test, whatever the machine's locale: the console and the
# dashboard (test modules named for them or for tui) are tried in Chinese, the rest (the
# CLI's messages, the API) in English; a test sets $CSTOOL_LANG itself to try the other.
ZH_MODULES = ("console", "dashboard", "tui")


@pytest.fixture(autouse=True)
def interface_language(request, monkeypatch):
    """$CSTOOL_LANG for this test (see ZH_MODULES); no --lang left over from another."""
    from cstool import i18n

    name = request.module.__name__.rsplit(".", 1)[-1]
    monkeypatch.setenv("CSTOOL_LANG", "zh" if any(m in name for m in ZH_MODULES) else "en")
    i18n.set_language(None)
    yield
    i18n.set_language(None)


class Cli:
    """Runs `cstool --db FILE ...` in-process and parses --json output."""

    def __init__(self, db: str):
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None):
        return self.runner.invoke(app, ["--db", self.db, *args], input=input)

    def json(self, *args: str):
        result = self(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def db_path(tmp_path) -> str:
    """A path for a new data file; with $CSTOOL_TEST_ENGINE=postgresql, the URL of a fresh
    PostgreSQL database instead (the suites that take their store from here then run on
    PostgreSQL: ``CSTOOL_TEST_ENGINE=postgresql pytest tests/test_desk.py``)."""
    if os.environ.get("CSTOOL_TEST_ENGINE") == "postgresql":
        from . import pg_support

        return pg_support.require().database(migrated=True)
    return str(tmp_path / "cstool.db")


@pytest.fixture
def cli(db_path) -> Cli:
    """The CLI bound to a fresh, empty data file (made as `cstool db init` makes it: reads
    refuse a missing file)."""
    LocalBackend(db_path).close()
    return Cli(db_path)


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at 2026-11-20 10:00 Beijing time."""
    return FrozenClock(NOW)


@pytest.fixture
def backend(db_path, clock):
    """A Local backend on a fresh file with a frozen clock."""
    b = LocalBackend(db_path, clock=clock)
    yield b
    b.close()


@pytest.fixture(scope="session")
def demo_export(tmp_path_factory) -> dict:
    """The demo set loaded once into a file, exported (shared, read-only)."""
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    result = CliRunner().invoke(app, ["--db", str(path), "fixtures", "load", "demo"])
    assert result.exit_code == 0, result.output
    b = LocalBackend(path)
    try:
        return b.export()
    finally:
        b.close()


# -- PostgreSQL: one throwaway cluster per session, a fresh database per test ---------------
@pytest.fixture(scope="session")
def pg_cluster():
    """The session's throwaway PostgreSQL cluster (tests/pg_support.py), started on first
    use and stopped at exit. Skipped where no initdb is installed, unless
    $CSTOOL_REQUIRE_PG is set (CI): then it fails."""
    from . import pg_support

    return pg_support.require()


@pytest.fixture
def pg_url(pg_cluster):
    """The URL of a fresh, empty PostgreSQL database for this test (dropped after it)."""
    url = pg_cluster.database()
    yield url
    pg_cluster.drop(url)
