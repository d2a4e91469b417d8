"""The PostgreSQL wake-up (cstool/storage/notify.py): a LISTEN connection is told of every
commit of events by any connection, learns which ones may change rights, and survives
the loss of its connection (it says so, and listens again)."""

from __future__ import annotations

import queue

import pytest

from cstool.backend.local import LocalBackend
from cstool.services.tokens import TokenStore
from cstool.storage.notify import install_trigger, listener_for, wait_connected


def _next(q: queue.Queue) -> bool:
    return q.get(timeout=30)


def _drain(q: queue.Queue) -> list[bool]:
    out = []
    while True:
        try:
            out.append(q.get_nowait())
        except queue.Empty:
            return out


def test_the_listener_hears_every_process_and_marks_rights_changes(pg_url):
    import psycopg

    writer = LocalBackend(pg_url)  # another "process": its own connection
    listening = LocalBackend(pg_url)
    heard: queue.Queue = queue.Queue()
    listener = listener_for(listening.database, heard.put)
    try:
        assert wait_connected(listener)
        assert _next(heard) is True  # on connecting: look again, something may have changed
        writer.apply({"shops": [{"key": "s", "name": "大促店", "service_mode": "human_only"}]})
        assert _next(heard) is True  # a new shop: rights may change
        writer.post_message("s", "k1", "在吗")
        assert _next(heard) is False  # the desk's traffic: nothing about rights
        token = TokenStore(writer).create_token(None, "admin")
        assert _next(heard) is True
        TokenStore(writer).revoke_token(token["id"])
        assert _next(heard) is True
        # the connection is cut (a restarted database, a network blip): the listener
        # reports a possible gap, listens again with a new generation, and hears on
        generation = listener.generation
        with psycopg.connect(pg_url, autocommit=True) as admin:
            cut = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                "query LIKE 'LISTEN%' AND datname = current_database()").fetchall()
        assert cut == [(True,)]
        assert _next(heard) is True
        assert _next(heard) is True  # connected again
        assert wait_connected(listener) and listener.generation > generation
        _drain(heard)
        writer.post_message("s", "k2", "还在吗")
        assert _next(heard) is False
    finally:
        listener.stop()
        writer.close()
        listening.close()
    assert not listener.connected


def test_the_trigger_is_installed_once_and_again_only_when_changed(pg_url):
    import psycopg

    LocalBackend(pg_url).close()  # the schema, and the trigger with it (the upgrade's)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert install_trigger(conn) is False
        conn.execute("DROP TRIGGER cstool_events_notify ON events")
        assert install_trigger(conn) is True
        assert install_trigger(conn) is False
        conn.execute("COMMENT ON FUNCTION cstool_notify_events() IS 'an older version'")
        assert install_trigger(conn) is True


def test_a_sqlite_file_has_no_listener(tmp_path):
    b = LocalBackend(tmp_path / "mall.db")
    try:
        assert listener_for(b.database, lambda access: None) is None
    finally:
        b.close()


@pytest.mark.parametrize("payload", ["", "access"])
def test_a_notification_wakes_even_without_rows(pg_url, payload):
    # the wake-up carries no data: any notification on the channel is a wake-up
    import psycopg

    b = LocalBackend(pg_url)
    heard: queue.Queue = queue.Queue()
    listener = listener_for(b.database, heard.put)
    try:
        assert wait_connected(listener)
        assert _next(heard) is True
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("SELECT pg_notify('cstool_events', %s)", (payload,))
        assert _next(heard) is (payload == "access")
    finally:
        listener.stop()
        b.close()


def test_the_listener_connects_with_a_pool_size_in_the_url(pg_url):
    """cstool's own `pool_size` URL parameter is not PostgreSQL's: the listener connects
    without it (it used to fail and leave the server polling)."""
    b = LocalBackend(pg_url + "&pool_size=2")
    listener = listener_for(b.database, lambda access: None)
    try:
        assert wait_connected(listener, 30)
    finally:
        listener.stop()
        b.close()
