"""A throwaway PostgreSQL cluster for the benchmarks (tests/pg_support.py's approach).

``initdb`` + ``pg_ctl`` in a temporary folder, a unix socket only, ``trust`` for the one
superuser. Unlike the tests' cluster it keeps PostgreSQL's durable defaults (``fsync``,
``synchronous_commit``, ``full_page_writes`` on): the SQLite server it is compared with
commits with ``synchronous=FULL``, so both pay for durability alike. ``--db URL`` in a
benchmark skips it and uses an existing database instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cluster_class():
    import sys

    sys.path.insert(0, str(ROOT))
    from tests import pg_support

    class DurableCluster(pg_support.Cluster):
        """The tests' cluster with PostgreSQL's durable settings and room for clients."""

        def start(self) -> DurableCluster:
            uid, gid = pg_support._owner_uid()
            import os

            os.chown(self.folder, uid, gid)
            self.folder.chmod(0o700)
            initdb = pg_support.find_binary("initdb")
            pg_ctl = pg_support.find_binary("pg_ctl")
            done = self._command([initdb, "-D", str(self.data), "-U", pg_support.SUPERUSER,
                                  "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            if done.returncode != 0:
                raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
            options = (f"-k {self.socket_dir} -c listen_addresses='' "
                       "-c max_connections=200 -c shared_buffers=256MB")
            done = self._command([pg_ctl, "-D", str(self.data), "-o", options,
                                  "-l", str(self.folder / "log"), "-w", "start"])
            if done.returncode != 0:
                raise RuntimeError(f"pg_ctl start failed: {done.stderr or done.stdout}")
            self.running = True
            return self

    return DurableCluster, pg_support


def available() -> bool:
    """Whether initdb and pg_ctl are found here."""
    _, pg_support = _cluster_class()
    return pg_support.available()


@contextlib.contextmanager
def database(url: str | None = None) -> Iterator[tuple[str, object | None]]:
    """``(url, cluster)``: ``url`` itself when given (cluster None), else a fresh database
    in a throwaway durable cluster, stopped and removed afterwards."""
    if url:
        yield url, None
        return
    cls, _ = _cluster_class()
    cluster = cls().start()
    try:
        yield cluster.database(), cluster
    finally:
        cluster.stop()
