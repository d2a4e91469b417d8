"""The same statements, in SQLite's dialect, give the same answers on both engines
(storage/dialect.py): the places where the two differ when translated naively.

* SQLite's scalar MAX(a, b)/MIN(a, b) is NULL when an argument is; PostgreSQL's
  GREATEST/LEAST skip NULLs;
* SQLite's LIKE, lower() and upper() fold ASCII letters only; PostgreSQL's ILIKE, lower()
  and upper() fold every letter the database's locale knows (É/é, full-width Ａ/ａ) —
  checked here on a database whose locale is C.UTF-8, not only on the tests' C one;
* SQLite's CAST(x AS INTEGER) truncates toward zero; PostgreSQL's rounds.
"""

from __future__ import annotations

import pytest

from cstool.backend.local import LocalBackend
from cstool.storage import open_database

from .conftest import NOW

CASES = [
    ("SELECT MAX(1, NULL), MIN(2, NULL), MAX(3, 5), MIN(3, 5), MAX(?, 4), MIN(?, 4)",
     (None, None)),
    ("SELECT MAX(2, MIN(7, 9), 5), MIN('b', 'a'), MAX(1.5, 2)", ()),
    ("SELECT CAST(2.7 AS INTEGER), CAST(-2.7 AS INTEGER), CAST(? AS INTEGER), "
     "CAST(7 / 2 AS INTEGER), CAST(? AS INTEGER)", (9.99, 12)),
    ("SELECT ? LIKE ?, ? LIKE ?, ? LIKE ?, ? LIKE ?, ? NOT LIKE ?",
     ("ABC", "abc", "Élan", "élan", "ＸＬ码", "ｘｌ码", "Straße", "STRASSE", "ÄB", "äb")),
    ("SELECT ? LIKE ? ESCAPE '\\', ? LIKE ? ESCAPE '\\'",
     ("50%OFF", "50\\%off", "5OFF", "5\\%off")),
    ("SELECT lower(?), upper(?), lower(?) = lower(?)",
     ("ÉCOLE Ａb", "éa ｂc", "Ｃode", "ｃode")),
]


@pytest.fixture(scope="module")
def engines(tmp_path_factory, pg_cluster):
    """A SQLite file and a PostgreSQL database with a locale that folds non-ASCII."""
    import psycopg

    name = f"dialect_{id(tmp_path_factory)}"
    with psycopg.connect(pg_cluster.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' '
                      "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    url = pg_cluster.url(name)
    lite = open_database(tmp_path_factory.mktemp("dialect") / "d.db", NOW)
    pg = open_database(url, NOW)
    yield lite, pg
    lite.close()
    pg.close()
    pg_cluster.drop(url)


def _answer(db, sql, params):
    with db.read() as conn:
        row = conn.execute(sql, params).fetchone()
    # PostgreSQL's truth values are booleans; SQLite's 1 and 0
    return tuple(int(v) if isinstance(v, bool) else v for v in row)


@pytest.mark.parametrize("sql, params", CASES)
def test_a_statement_answers_alike_on_both_engines(engines, sql, params):
    lite, pg = engines
    assert _answer(pg, sql, params) == _answer(lite, sql, params)


def test_the_locale_would_fold_what_sqlite_does_not(engines):
    """The database of these tests folds non-ASCII letters in PostgreSQL's own ILIKE and
    lower(): the cases above compare something."""
    _, pg = engines
    with pg.read() as conn:
        folded = conn.raw.execute("SELECT 'Élan' ILIKE 'élan', lower('ＡÉ')").fetchone()
    assert folded == (True, "ａé")


def test_a_reply_code_in_full_width_letters_matches_as_on_sqlite(pg_cluster, tmp_path):
    """Campaign reply codes compare with lower(): full-width Ｂ is not b on either engine."""
    import psycopg

    name = f"codes_{tmp_path.name[-20:]}".replace("-", "_")
    with psycopg.connect(pg_cluster.url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' '
                      "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    url = pg_cluster.url(name)
    answers = []
    try:
        for target in (str(tmp_path / "c.db"), url):
            be = LocalBackend(target)
            try:
                answers.append(_reply_code_answers(be))
            finally:
                be.close()
    finally:
        pg_cluster.drop(url)
    assert answers[0] == answers[1]


def _reply_code_answers(be) -> tuple:
    from cstool.errors import Conflict

    from .test_campaigns import campaign, mall

    mall(be, campaigns=[campaign("code", "reply_code", code="ＶＩＰ８", coupon="c10")],
         reachable=False)
    outcomes = []
    for key, code in (("code2", "ｖｉｐ８"), ("code3", "vip８"), ("code4", "ＶＩＰ８")):
        try:
            be.create("campaigns", campaign(key, "reply_code", code=code, coupon="c10"))
            outcomes.append("created")
        except Conflict as e:
            outcomes.append(e.key)
    return tuple(outcomes), tuple(c["key"] for c in be.list("campaigns"))
