"""The server's storage threads, with group commit.

Every storage call of the server runs on one thread (SQLite takes one writer at a
time anyway). When several calls are waiting, the thread runs them together inside one
transaction, each in its own savepoint, and commits once: one fsync for the group
instead of one per call. A call that fails rolls back to its savepoint and fails alone;
a commit that fails fails the whole group. Answers are released only after the commit,
so an acknowledged change is as durable as before (synchronous=FULL) and nothing is
answered from data that was not committed.

The grouping itself is the storage layer's (``Database.group()``): the file's
``Database`` keeps its one-transaction-per-``write()`` contract for every other caller,
and only the calls this thread makes inside a group become savepoints of it.

**Concurrent posts (PostgreSQL).** On PostgreSQL, customers' messages (the calls marked
``shared``, the bulk of the traffic) also have threads of their own, several of them
(``$CSTOOL_PG_POST_THREADS``, else two, or the pool's size less one if smaller; 0 keeps
the one thread),
each grouping the posts that wait into one transaction on its own connection,
``Database.group(shared=True)``: the groups run side by side, each holding the
database's write lock in shared mode and the row of each chat it writes to (``FOR
UPDATE SKIP LOCKED``: a chat another post holds is not waited for), and their events
are written as they commit, in commit order (see ``PostgresEngine.group``). A post
that cannot run beside others (a new customer or chat, routing, a ticket, a chat
another post holds ...) is rolled back to its savepoint and handed to the first thread,
which runs it again under the exclusive write lock, like every other call: the client
sees one answer, as if it had gone there first.

**A group's look-ups together.** Each post queued there carries a hint of who posts
(shop, customer, client id: the customer's token as the server saw it lately, unchecked).
Before it runs a group's posts, the thread reads every hinted post's look-up in one round
trip of two statements (``prefetch``: ``DeskService.prefetch_posts``, ``Posts.prefetch``),
so that a post into an open chat then runs without a round trip of its own: its message,
its chat's times and its event are sent with the group's COMMIT, the messages as one
statement, the chats' times as another, the events as a third. The hint chooses only
what is read: each post still authenticates, is checked, and takes only the answer read
for its own shop, customer and client id (anything else looks up itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from ..errors import StorageError
from ..storage.errors import NeedsWriteLock

MAX_GROUP = 64  # calls committed together at most
# with posts' threads beside it, the first thread's group holds the write lock
# exclusively while it runs (new chats, routing: several round trips each), and every
# post waits for it: at most this many calls a group, so that the posts' groups take the
# lock between them (bench_api_pg at load 2: p99 86-96 ms uncapped, 46-51 ms at 4, 71 ms
# at 8, 42-55 ms at 1-2 with a lower rate; README, PostgreSQL figures)
EXCLUSIVE_GROUP_BESIDE_POSTS = 4
# posts' threads by default: one group fills (its look-ups read together) while another
# commits; more only make the groups smaller, each commit waiting for the one before
# (the event lock): measured slower here (README, PostgreSQL figures)
DEFAULT_POST_THREADS = 2
POST_THREADS_ENV = "CSTOOL_PG_POST_THREADS"
_STOP = object()


def post_threads(database: Any) -> int:
    """How many threads run customers' posts beside each other: none on SQLite (its one
    writer); on PostgreSQL ``$CSTOOL_PG_POST_THREADS`` when set (0: none, every call on
    the one thread as on SQLite), else :data:`DEFAULT_POST_THREADS`, at most the pool's
    size less the first thread's connection (none with a pool of one: the old path)."""
    engine = getattr(database, "engine", None)
    if engine is None:
        return 0
    given = os.environ.get(POST_THREADS_ENV, "").strip()
    if given.isdigit():
        return min(int(given), 64)
    return min(engine.pool_size - 1, DEFAULT_POST_THREADS)


class StorageWorker:
    """The storage thread running calls, grouping those that wait into one commit; on
    PostgreSQL also the threads running customers' posts beside each other."""

    def __init__(self, database: Any, *, max_group: int = MAX_GROUP,
                 beside: int | None = None,
                 prefetch: Callable[[list[tuple]], Any] | None = None,
                 exclusive_group: int | None = None):
        """``exclusive_group``: calls at most in a group of the first thread (default:
        ``max_group``, or :data:`EXCLUSIVE_GROUP_BESIDE_POSTS` with posts' threads)."""
        self.database = database
        self.max_group = max_group
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._posts: queue.SimpleQueue = queue.SimpleQueue()
        self.groups = 0  # commits that carried more than one call (for tests and figures)
        self.shared_groups = 0  # commits of posts run beside others
        self.escalated = 0  # posts run again under the write lock
        self.beside = post_threads(database) if beside is None else beside
        self.exclusive_group = exclusive_group or (
            min(max_group, EXCLUSIVE_GROUP_BESIDE_POSTS) if self.beside else max_group)
        # reads a posts' group's look-ups together, from the posts' hints (see above)
        self.prefetch = prefetch if self.beside else None
        self.prefetched = 0  # posts whose look-up was read with their group's (figures)
        self.thread = threading.Thread(target=self._loop, name="cstool-storage", daemon=True)
        self.thread.start()
        self.post_threads = [
            threading.Thread(target=self._posts_loop, name=f"cstool-posts-{n}", daemon=True)
            for n in range(self.beside)]
        for t in self.post_threads:
            t.start()

    # -- calls ------------------------------------------------------------------------------
    async def run(self, fn: Callable[[], Any], *, alone: bool = False,
                  shared: bool = False, hint: tuple | None = None) -> Any:
        """Run ``fn`` on the storage thread; ``alone`` keeps it out of any group;
        ``shared``: a customer's post, which may run beside other posts (PostgreSQL),
        ``hint``: its (shop, customer, client id) as far as known, for ``prefetch``."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        item = (fn, loop, future, alone, hint)
        if shared and not alone and self.post_threads:
            self._posts.put(item)
        else:
            self._queue.put(item)
        return await future

    def stop(self) -> None:
        """Finish what is queued and stop the threads (the posts' first: what they hand
        on still runs)."""
        for _ in self.post_threads:
            self._posts.put(_STOP)
        for t in self.post_threads:
            t.join(30)
        self._queue.put(_STOP)
        self.thread.join(30)

    # -- the thread -------------------------------------------------------------------------
    def _loop(self) -> None:
        held = None
        while True:
            item = held if held is not None else self._queue.get()
            held = None
            if item is _STOP:
                return
            group = [item]
            if not item[3]:
                while len(group) < self.exclusive_group:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP or nxt[3]:
                        held = nxt  # after this group
                        break
                    group.append(nxt)
            if len(group) == 1:
                self._deliver(group, [self._call(item[0])])
            else:
                self._deliver(group, self._run_group(group))

    def _posts_loop(self) -> None:
        while True:
            item = self._posts.get()
            if item is _STOP:
                return
            group = [item]
            stop = False
            while len(group) < self.max_group:
                try:
                    nxt = self._posts.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                group.append(nxt)
            results = self._run_shared(group)
            done, again = [], []
            for it, result in zip(group, results, strict=True):
                if not result[0] and isinstance(result[1], NeedsWriteLock):
                    again.append(it)
                else:
                    done.append((it, result))
            for it in again:  # under the exclusive write lock, on the first thread
                self.escalated += 1
                self._queue.put(it)
            if done:
                self._deliver([d[0] for d in done], [d[1] for d in done])
            if stop:
                return

    def _call(self, fn: Callable[[], Any]) -> tuple[bool, Any]:
        try:
            return True, fn()
        except BaseException as e:  # handed to the caller
            return False, e

    def _run_group(self, group: list) -> list[tuple[bool, Any]]:
        try:
            with self.database.group():
                results = [self._call(item[0]) for item in group]
        except StorageError as e:  # begin (locked past the timeout) or commit failed
            return [(False, e) for _ in group]
        self.groups += 1
        return results

    def _run_shared(self, group: list) -> list[tuple[bool, Any]]:
        results: list[tuple[bool, Any]] = []
        try:
            with self.database.group(shared=True):
                self._prefetch(group)
                results = [self._call(item[0]) for item in group]
        except StorageError as e:  # begin or commit failed: the posts run again fail
            return [r if r and not r[0] and isinstance(r[1], NeedsWriteLock) else (False, e)
                    for r in (results or [None] * len(group))]
        self.shared_groups += 1
        return results

    def _prefetch(self, group: list) -> None:
        # the look-ups of the group's posts in one round trip (PostgreSQL: Posts.prefetch)
        hints = [item[4] for item in group if item[4] is not None]
        if self.prefetch is None or len(hints) < 2:
            return
        try:
            self.prefetched += self.prefetch(hints) or 0
        except Exception:  # noqa: BLE001 (a hint's read failed: each post looks up itself)
            return

    def _deliver(self, group: list, results: list[tuple[bool, Any]]) -> None:
        # One wake-up of each event loop for the whole group, not one per call.
        by_loop: dict[Any, list] = {}
        for (_, loop, future, _, _), result in zip(group, results, strict=True):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, settled in by_loop.items():
            with contextlib.suppress(RuntimeError):  # the loop closed while we worked
                loop.call_soon_threadsafe(_settle_all, settled)


def _settle_all(settled: list[tuple[asyncio.Future, tuple[bool, Any]]]) -> None:
    for future, (ok, value) in settled:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
