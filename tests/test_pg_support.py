"""The throwaway PostgreSQL cluster of the tests: a fresh database per test, isolated."""

from __future__ import annotations

import psycopg


def test_each_test_gets_an_empty_database_of_its_own(pg_cluster, pg_url):
    other = pg_cluster.database()
    try:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (x int)")
            conn.execute("INSERT INTO t VALUES (1)")
            assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
            assert conn.execute("SHOW server_encoding").fetchone()[0] == "UTF8"
        with psycopg.connect(other, autocommit=True) as conn:
            assert conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'"
            ).fetchone()[0] == 0
    finally:
        pg_cluster.drop(other)
