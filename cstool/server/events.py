"""Live events over server-sent events: one reader of the events table, many subscribers.

The hub reads new events from the table (woken at once by the server's own writes; on
PostgreSQL by every process's commits too, through LISTEN/NOTIFY, with a slow poll every
``SAFETY_POLL_S`` as a safety net; on SQLite by a poll every ``poll_s`` for the other
processes sharing the file) and hands each to every subscriber.
A subscriber first reads the backlog after its cursor from the file, then takes the
live events, skipping any it has sent; one that falls behind its queue goes back to
reading the file. Because every event is in the table before it is anywhere else,
nothing is lost across a reconnect (``Last-Event-ID``) or a slow consumer. Events
written through other servers on the same database reach this server's subscribers the
same way, in id order (ids grow in commit order on both engines: one writer at a time).

Ephemeral signals are not events: ``publish`` hands one (a ``conversation.presence``:
someone viewing or typing in a chat) to the live subscribers of this server only, with no
id (it moves no cursor, is never replayed, and a reconnect does not bring it back: the
presence table, with its time to live, stays the truth, read by every claim).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

SAFETY_POLL_S = 2.0  # the poll while LISTEN/NOTIFY wakes the hub (PostgreSQL)
QUEUE_MAX = 2000  # live events a subscriber may hold before it reads the file instead
BATCH = 500
STOP = object()


class Subscriber:
    """One stream's queue of live events."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_MAX)
        self.lagging = False

    def offer(self, item: Any) -> None:
        """Queue a live event; a full queue marks the subscriber as lagging."""
        if self.lagging:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.lagging = True


class EventHub:
    """Reads the events table once for all subscribers and fans events out."""

    def __init__(self, read: Callable[[int, int], Awaitable[list[dict]]], head: Callable[[],
                 Awaitable[int]], *, poll_s: float = 0.25):
        self._read = read  # (after, limit) -> events, run off the event loop
        self._head = head
        self.poll_s = poll_s
        self.head = 0
        self.subscribers: set[Subscriber] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stopping = asyncio.Event()
        self._stale = False
        self.listener: Any = None  # storage.notify.EventListener (PostgreSQL), or None

    def poll_interval(self) -> float:
        """Seconds between reads when nothing wakes the hub: ``poll_s``, or the slow
        safety-net poll while a LISTEN connection wakes it for every commit."""
        if self.listener is not None and self.listener.connected:
            return max(self.poll_s, SAFETY_POLL_S)
        return self.poll_s

    def wake_threadsafe(self) -> None:
        """``wake`` from another thread (the LISTEN thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        """Start reading from the current end of the table."""
        self._loop = asyncio.get_running_loop()
        self.head = await self._head()
        self._task = asyncio.create_task(self._run(), name="cstool-event-hub")

    def wake(self) -> None:
        """Read now (the server has just written)."""
        self._wake.set()

    def publish(self, signal: dict) -> None:
        """Hand an ephemeral signal (no ``id``) to every live subscriber now."""
        item = (signal, encode(signal))
        for s in list(self.subscribers):
            s.offer(item)

    def stop_soon(self) -> None:
        """Ask for ``stop`` from any thread (a signal handler)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(lambda: self._loop.create_task(self.stop()))

    async def stop(self) -> None:
        """End every stream and stop reading."""
        if self.stopping.is_set() and self._task is None:
            return
        self.stopping.set()
        for s in list(self.subscribers):
            s.lagging = False
            while True:
                try:
                    s.queue.put_nowait(STOP)
                    break
                except asyncio.QueueFull:
                    s.queue.get_nowait()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval())
            except TimeoutError:
                pass
            self._wake.clear()
            if not self.subscribers:
                self._stale = True  # nobody listens: no reads (the head is fetched anew)
                continue
            try:
                events = await self._read(self.head, BATCH)
            except Exception:  # a locked or closing file: try again on the next tick
                await asyncio.sleep(self.poll_s)
                continue
            for e in events:
                item = (e, encode(e))
                for s in list(self.subscribers):
                    s.offer(item)
            if events:
                self.head = events[-1]["id"]
                if len(events) == BATCH:
                    self._wake.set()

    async def stream(self, cursor: int, keep: Callable[[dict], bool], *, ping_s: float,
                     alive: Callable[[], Awaitable[bool]] | None = None) -> AsyncIterator[bytes]:
        """The SSE byte stream of one subscriber, starting after event ``cursor``.

        ``keep`` filters events by the subscriber's rights; ``alive`` is asked at every
        keep-alive ping and, while events flow, once a ping interval (a revoked token
        ends the stream; changed rights change what ``keep`` lets through).
        """
        loop = asyncio.get_running_loop()
        checked = loop.time()

        async def still_alive() -> bool:
            nonlocal checked
            checked = loop.time()
            return alive is None or await alive()

        sub = Subscriber()
        if self._stale:  # before joining: every later event is the hub's to hand out
            self.head = await self._head()
            self._stale = False
        self.subscribers.add(sub)
        try:
            yield b"retry: 2000\n\n"
            while not self.stopping.is_set():
                # 1. the backlog, from the file
                while True:
                    batch = await self._read(cursor, BATCH)
                    if loop.time() - checked >= ping_s and not await still_alive():
                        return
                    for e in batch:
                        cursor = e["id"]
                        if keep(e):
                            yield encode(e)
                    if len(batch) < BATCH:
                        break
                # 2. live events until the queue overflows
                while not sub.lagging:
                    try:
                        item = await asyncio.wait_for(sub.queue.get(), ping_s)
                    except TimeoutError:
                        if not await still_alive():
                            return
                        yield b": ping\n\n"
                        continue
                    if item is STOP:
                        return
                    if loop.time() - checked >= ping_s and not await still_alive():
                        return
                    e, data = item
                    if e.get("id") is None:  # an ephemeral signal: no cursor to move
                        if keep(e):
                            yield data
                        continue
                    if e["id"] <= cursor:
                        continue
                    cursor = e["id"]
                    if keep(e):
                        yield data
                # fell behind: drop the queue and read the file from the cursor again
                while not sub.queue.empty():
                    if sub.queue.get_nowait() is STOP:
                        return
                sub.lagging = False
        finally:
            self.subscribers.discard(sub)


def encode(e: dict) -> bytes:
    """One event in SSE form: id, event type, JSON data (an ephemeral signal: no id line,
    so it never becomes a client's Last-Event-ID)."""
    data = json.dumps(e, ensure_ascii=False, separators=(",", ":"))
    if e.get("id") is None:
        return f"event: {e['type']}\ndata: {data}\n\n".encode()
    return f"id: {e['id']}\nevent: {e['type']}\ndata: {data}\n\n".encode()


def listen_across_processes(hub: EventHub, backend: Any, tokens: Any) -> None:
    """On PostgreSQL, LISTEN for every process's commits of events (storage.notify): each
    notification wakes ``hub``, and one of a change of rights moves ``backend``'s access
    epoch, so ``tokens`` (the server's token store) forgets cached rights at once and,
    while the listener is connected, keys its cache on the epoch alone. Nothing on a
    SQLite file (the hub polls it)."""
    from ..storage.notify import listener_for

    def notified(access: bool) -> None:
        if access:
            backend._move_access_epoch()
        hub.wake_threadsafe()

    hub.listener = tokens.listener = listener_for(backend.database, notified)


def stop_listening(hub: EventHub, tokens: Any) -> None:
    """Stop what :func:`listen_across_processes` started."""
    listener, hub.listener, tokens.listener = hub.listener, None, None
    if listener is not None:
        listener.stop()
