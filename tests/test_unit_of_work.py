"""The storage layer's unit of work: one transaction, one instant, its events written
through the one writer, and the access epoch moved only once a change has committed."""

from __future__ import annotations

import sqlite3

import pytest

from cstool.clock import FrozenClock
from cstool.errors import Conflict
from cstool.storage.database import open_database
from cstool.storage.unit_of_work import Storage
from tests.conftest import NOW


@pytest.fixture
def storage(tmp_path):
    moved: list[int] = []
    db = open_database(tmp_path / "u.db", NOW)
    s = Storage(db, FrozenClock(NOW), lambda: moved.append(_events(tmp_path / "u.db")))
    s.moved = moved
    yield s
    db.close()


def _events(path) -> int:
    """Events as another connection sees them (committed ones only)."""
    other = sqlite3.connect(str(path))
    try:
        return other.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    finally:
        other.close()


def test_an_access_event_moves_the_epoch_after_the_commit(storage):
    with storage.write() as uow:
        uow.event("shop.created", "shop", "s", None)
        assert storage.moved == []  # not before the commit
    assert storage.moved == [1]  # called once, and the event was visible by then


def test_desk_traffic_does_not_move_the_epoch(storage):
    with storage.write() as uow:
        uow.event("message.created", "conversation", "1", None, {"message": 1})
    assert storage.moved == [] and _events(storage.database.path) == 1


def test_a_rolled_back_change_writes_no_event_and_moves_nothing(storage):
    with pytest.raises(Conflict), storage.write() as uow:
        uow.event("agent.updated", "agent", "a", None, {"fields": ["role"]})
        raise Conflict("refused after the event was written")
    assert storage.moved == [] and _events(storage.database.path) == 0


def test_one_operation_is_one_instant(storage):
    clock = storage.clock
    with storage.write() as uow:
        first = uow.now
        clock.advance(5)  # the clock moves during the operation: its rows do not
        uow.event("shop.created", "shop", "s", None)
        uow.event("shop.updated", "shop", "s", None)
    ats = {r[0] for r in storage.database.conn.execute("SELECT at FROM events")}
    assert ats == {first}
    with storage.read() as uow:
        assert uow.now == first + 5_000


def test_repositories_are_made_once_per_unit_of_work(storage):
    with storage.read() as uow:
        assert uow.conversations is uow.conversations
        assert uow.repo(type(uow.shops)) is uow.repo(type(uow.shops))
