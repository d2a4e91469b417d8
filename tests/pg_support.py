"""A throwaway PostgreSQL cluster for the tests: started once per session, one fresh
database per test, stopped (and its folder removed) at the end.

``initdb`` + ``pg_ctl`` in a temporary folder, listening only on a unix socket in that
folder (no TCP port to collide with anything), ``trust`` authentication for the one
superuser ``cstool``. ``initdb`` refuses to run as root, and the tests run as root in CI:
then the cluster runs as an unprivileged system user (``nobody``, else ``postgres``)
through ``runuser``. The binaries come from PATH, else Debian's
``/usr/lib/postgresql/<version>/bin`` (``.ci/run`` installs the ``postgresql`` package
when they are missing).

The cluster runs with ``fsync=off`` (a test database is thrown away; durability is the
production cluster's setting, not the tests').
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "cstool"


def find_binary(name: str) -> str | None:
    """The PostgreSQL binary ``name`` on PATH, else the newest Debian one."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    return candidates[-1] if candidates else None


def available() -> bool:
    """Whether a cluster can be started here (initdb and pg_ctl found)."""
    return find_binary("initdb") is not None and find_binary("pg_ctl") is not None


def _run_as() -> list[str]:
    """The command prefix that runs the cluster as an unprivileged user (root cannot)."""
    if os.geteuid() != 0:
        return []
    for user in ("nobody", "postgres"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(user)
            runuser = shutil.which("runuser")
            if runuser:
                return [runuser, "-u", user, "--"]
            return ["su", user, "-s", "/bin/sh", "-c"]  # pragma: no cover (no runuser)
    raise RuntimeError("running as root and no unprivileged user (nobody, postgres) exists")


def _owner_uid() -> tuple[int, int]:
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    for user in ("nobody", "postgres"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(user)
            return entry.pw_uid, entry.pw_gid
    raise RuntimeError("no unprivileged user")


class Cluster:
    """One running throwaway cluster; ``database()`` makes a fresh database in it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="cstool-pg-"))
        self.data = self.folder / "data"
        self.socket_dir = self.folder
        self._names = itertools.count(1)
        self.running = False
        self._template_made = False

    def _command(self, argv: list[str]) -> subprocess.CompletedProcess:
        prefix = _run_as()
        if prefix and prefix[0] == "su":  # pragma: no cover (no runuser)
            import shlex

            argv = [*prefix, " ".join(shlex.quote(a) for a in argv)]
        else:
            argv = [*prefix, *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=False,
                              cwd=str(self.folder))

    def start(self) -> Cluster:
        """initdb and start the server (waits until it accepts connections)."""
        uid, gid = _owner_uid()
        os.chown(self.folder, uid, gid)
        self.folder.chmod(0o700)
        initdb, pg_ctl = find_binary("initdb"), find_binary("pg_ctl")
        done = self._command([initdb, "-D", str(self.data), "-U", SUPERUSER,
                              "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200")
        done = self._command([pg_ctl, "-D", str(self.data), "-o", options,
                              "-l", str(self.folder / "log"), "-w", "start"])
        if done.returncode != 0:
            log = (self.folder / "log").read_text() if (self.folder / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}\n{log}")
        self.running = True
        return self

    def url(self, dbname: str = "postgres") -> str:
        """The URL of database ``dbname`` over the cluster's unix socket."""
        return f"postgresql://{SUPERUSER}@/{dbname}?host={self.socket_dir}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql)

    def database(self, *, migrated: bool = False) -> str:
        """Make a fresh database, empty or (``migrated``) with cstool's schema at its
        latest version (copied from a template migrated once per session: migrating
        takes a second or two); returns its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        template = "template0"
        if migrated:
            template = self._migrated_template()
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE {template}')
        return self.url(name)

    def _migrated_template(self) -> str:
        name = "cstool_migrated"
        if not self._template_made:
            from cstool.storage.database import open_database

            self._admin(f'CREATE DATABASE "{name}" TEMPLATE template0')
            open_database(self.url(name), 0).close()
            self._template_made = True
        return name

    def drop(self, url: str) -> None:
        """Drop the database of ``url`` (closing whatever is still connected)."""
        name = url.split("/")[3].split("?")[0]
        with contextlib.suppress(Exception):
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        if self.running:
            self._command([find_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate",
                           "-w", "stop"])
            self.running = False
        shutil.rmtree(self.folder, ignore_errors=True)


_SHARED: Cluster | None = None


def shared() -> Cluster:
    """The process's one cluster, started on first use and stopped at exit (the pytest
    fixture ``pg_cluster`` and the contract suite's PostgreSQL store share it)."""
    global _SHARED
    if _SHARED is None:
        import atexit

        cluster = Cluster()
        atexit.register(cluster.stop)
        _SHARED = cluster.start()
    return _SHARED


def require() -> Cluster:
    """The shared cluster, or the test skipped where PostgreSQL is not installed (failed
    instead when $CSTOOL_REQUIRE_PG is set, as in CI)."""
    import pytest

    if not available():
        if os.environ.get("CSTOOL_REQUIRE_PG"):
            pytest.fail("PostgreSQL (initdb, pg_ctl) is required here and not installed")
        pytest.skip("PostgreSQL (initdb, pg_ctl) is not installed")
    return shared()
