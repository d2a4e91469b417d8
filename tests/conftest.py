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


def _command_built_once():
    """typer's CliRunner builds the whole click command tree from the Typer app at every
    invoke (over 90 % of a CLI test's time: every command's signature and type hints read
    again); the tree does not change between invocations, so the tests build it once."""
    import typer.main
    import typer.testing

    built: dict[int, object] = {}

    def get_command(typer_instance):
        key = id(typer_instance)
        if key not in built:
            built[key] = typer.main.get_command(typer_instance)
        return built[key]

    typer.testing._get_command = get_command


_command_built_once()

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


# The suites that run on both engines (one parametrisation: each of their tests that takes
# its store from ``db_path`` runs once on a SQLite file and once on a PostgreSQL database).
ENGINE_SUITES = ("test_desk", "test_desk_basics", "test_campaigns", "test_campaign_workers",
                 "test_tickets", "test_sla", "test_metrics", "test_metrics_zone",
                 "test_queue_wait")


def pytest_generate_tests(metafunc):
    """Run the ENGINE_SUITES' store-backed tests on SQLite and on PostgreSQL."""
    name = metafunc.module.__name__.rsplit(".", 1)[-1]
    if name in ENGINE_SUITES and "db_path" in metafunc.fixturenames:
        metafunc.parametrize("engine", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def engine(request) -> str:
    """The storage engine of this test: the parametrisation's, else $CSTOOL_TEST_ENGINE
    (``CSTOOL_TEST_ENGINE=postgresql pytest tests/test_dashboard.py``), else SQLite."""
    return getattr(request, "param", None) or os.environ.get("CSTOOL_TEST_ENGINE", "sqlite")


@pytest.fixture
def db_path(tmp_path, engine) -> str:
    """A path for a new data file; on the PostgreSQL engine (see ``engine``), the URL of a
    fresh PostgreSQL database instead."""
    if engine == "postgresql":
        from . import pg_support

        cluster = pg_support.require()
        url = cluster.database(migrated=True)
        yield url
        cluster.drop(url)
        return
    yield str(tmp_path / "cstool.db")


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
