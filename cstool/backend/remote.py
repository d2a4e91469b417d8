"""The Remote backend: the whole Backend interface over HTTP to ``cstool serve``.

Its methods are made from the operations table (``cstool.api.operations``), the
same table the server builds its routes from, so the two never drift apart. Errors
come back as the same ``cstool.errors`` classes with the same messages (a FieldError
keeps its path and line); lists are read page by page; ``subscribe`` follows the live
event stream and resumes after a dropped connection with Last-Event-ID.
"""

from __future__ import annotations

import abc
import datetime as _dt
import inspect
import json
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from .. import __version__
from ..api.backend import Backend
from ..api.operations import (
    BY_NAME,
    MAX_PAGE,
    OPERATIONS,
    REQUIRED,
    Operation,
    decode_result,
)
from ..auth import Forbidden, Unauthorized
from ..clock import default_clock
from ..errors import (
    Conflict,
    CstoolError,
    InvalidInput,
    NotFound,
    StorageError,
    TooLarge,
    UsageError,
)
from ..validation import FieldError

BULK_CHUNK = 2000  # records per request of bulk_load (each chunk is one transaction)
_ERRORS: dict[str, type[CstoolError]] = {
    "invalid": InvalidInput, "malformed_json": InvalidInput, "too_large": TooLarge,
    "usage": UsageError, "method_not_allowed": UsageError, "not_found": NotFound,
    "conflict": Conflict, "storage": StorageError, "unauthorized": Unauthorized,
    "forbidden": Forbidden,
}


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def error_from(response: httpx.Response) -> CstoolError:
    """The cstool error an error response stands for."""
    try:
        err = response.json()["error"]
        code, message = err["code"], err["message"]
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        return StorageError(
            f"server error {response.status_code}: {text or response.reason_phrase}",
            key="server_error", http_status=response.status_code,
            text=text or response.reason_phrase)
    params = err.get("params")
    params = {str(k): v for k, v in params.items()} if isinstance(params, dict) else {}
    key = err.get("key") if isinstance(err.get("key"), str) else None
    if err.get("path") is not None and code == "invalid":
        # the key and its own parameters (kind, record ...) cross too, so the client
        # translates the refusal as the Local backend's; path/reason/line are the fields
        extra = {k: v for k, v in params.items()
                 if k not in ("path", "reason", "line", "source")}
        return FieldError(err["path"], err.get("reason") or message, err.get("line"),
                          key=None if key == "field" else key, **extra)
    cls = _ERRORS.get(code)
    if cls is None:
        cls = StorageError if response.status_code >= 500 else UsageError
    if key is not None and isinstance(err.get("params"), dict):
        return cls(message, key=key, **params)
    return cls(message)


class RemoteBackend(Backend):
    """The Backend over HTTP: ``RemoteBackend("http://127.0.0.1:8765", token)``."""

    def __init__(self, url: str, token: str | None, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0):
        if not url.startswith(("http://", "https://")):
            raise UsageError(f"the API address must start with http:// or https://, not {url!r}",
                             key="api_url_bad", url=url)
        if not token:
            raise UsageError("give a token for the API: set CSTOOL_TOKEN "
                             "(make one with 'cstool token create')", key="api_needs_token")
        self.url = url.rstrip("/")
        self.clock = default_clock()  # the console reads the time; the server keeps its own
        self.client = httpx.Client(
            base_url=self.url, transport=transport, timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": f"cstool/{__version__}",
                     "Accept": "application/json"})

    # -- calls --------------------------------------------------------------------------
    def _send(self, op: Operation, args: dict) -> httpx.Response:
        path = op.url(args)
        query: dict[str, Any] = {}
        body: Any = None
        fields: dict[str, Any] = {}
        for arg in op.args:
            if arg.name not in args or op.where(arg) == "path":
                continue
            value = args[arg.name]
            if op.where(arg) == "query":
                if value is not None:
                    query[arg.name] = str(value).lower() if isinstance(value, bool) else value
            elif arg.name == op.body:
                body = value
            elif value is not None or arg.required:
                fields[arg.name] = value
        if op.body is None and any(op.where(a) == "body" for a in op.args):
            body = fields
        content = None
        headers = {}
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, default=_json_default).encode()
            headers["Content-Type"] = "application/json"
        attempts = 2 if op.verb == "GET" else 1
        for attempt in range(attempts):
            try:
                return self.client.request(op.verb, path, params=query or None, content=content,
                                           headers=headers)
            except httpx.TransportError as e:
                if attempt + 1 < attempts:
                    time.sleep(0.2)
                    continue
                raise StorageError(f"cannot reach the cstool server at {self.url}: {e}",
                                   key="server_unreachable", url=self.url, detail=str(e)) from None
        raise AssertionError("unreachable")

    def call(self, op: Operation, args: dict) -> Any:
        """Make one call of ``op`` (all pages of a list) and decode the result."""
        if op.result == "page":
            return self._pages(op, args)
        response = self._send(op, args)
        if response.status_code >= 400:
            raise error_from(response)
        if response.status_code == 204:
            return None
        return decode_result(op, response.json())

    def _pages(self, op: Operation, args: dict) -> list:
        want = args.get("limit")
        items: list = []
        args = dict(args)
        while True:
            args["limit"] = MAX_PAGE if want is None else min(MAX_PAGE, want - len(items))
            response = self._send(op, args)
            if response.status_code >= 400:
                raise error_from(response)
            data = response.json()
            items.extend(data["items"])
            if data.get("next") is None or (want is not None and len(items) >= want):
                return items
            args["after"] = data["next"]

    # -- operations that need more than one call ------------------------------------------
    def bulk_load(self, kind: str, records: Iterable[dict[str, Any]]) -> int:
        """Load records in chunks of BULK_CHUNK (each chunk is one transaction)."""
        op, total, chunk = BY_NAME["bulk_load"], 0, []
        for rec in records:
            chunk.append(rec)
            if len(chunk) == BULK_CHUNK:
                total += self.call(op, {"kind": kind, "records": chunk})
                chunk = []
        if chunk or total == 0:
            total += self.call(op, {"kind": kind, "records": chunk})
        return total

    def keep_open(self, shop: str, keep: bool = True) -> None:
        """Ask the server to serve ``shop`` as if inside its business hours (admin
        tokens; the server's process only) and remember it in ``kept_open``."""
        self.call(BY_NAME["keep_open"], {"shop": shop, "keep": keep})
        self.kept_open = (self.kept_open | {shop}) if keep else (self.kept_open - {shop})

    def subscribe(self, *, after: int | None = None, shop: str | None = None,
                  reconnect: bool = True, read_timeout_s: float = 60.0) -> Iterator[dict]:
        """Live events from ``GET /v1/events`` (after event ``after``; None: from now),
        resuming with Last-Event-ID after a dropped connection. Close the iterator to stop."""
        last = after
        delay = 0.2
        while True:
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            params = {"shop": shop} if shop else None
            try:
                with self.client.stream(
                        "GET", "/v1/events", params=params, headers=headers,
                        timeout=httpx.Timeout(10.0, read=read_timeout_s)) as response:
                    if response.status_code != 200:
                        response.read()
                        raise error_from(response)
                    delay = 0.2
                    for event in parse_sse(response.iter_lines()):
                        if event.get("id") is not None:  # a signal (presence) has none
                            last = event["id"]
                        yield event
            except httpx.TransportError as e:
                if not reconnect:
                    raise StorageError(f"event stream from {self.url} dropped: {e}",
                                       key="event_stream_dropped", url=self.url,
                                       detail=str(e)) from None
            if not reconnect:
                return
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()


def parse_sse(lines: Iterable[str]) -> Iterator[dict]:
    """Events (the JSON ``data`` of each block) from the lines of an SSE stream."""
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield json.loads("\n".join(data))
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))


def _method(op: Operation):
    """A Backend method that calls ``op`` over HTTP, with the table's signature."""
    params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_ONLY)]
    for arg in op.args:
        kind = (inspect.Parameter.KEYWORD_ONLY if arg.kw_only
                else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        default = inspect.Parameter.empty if arg.default is REQUIRED else arg.default
        params.append(inspect.Parameter(arg.name, kind, default=default))
    signature = inspect.Signature(params)

    def method(self: RemoteBackend, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        values.pop("self")
        return self.call(op, values)

    method.__signature__ = signature  # type: ignore[attr-defined]
    method.__name__ = method.__qualname__ = op.name
    method.__doc__ = f"{op.summary} ({op.verb} {op.path})."
    return method


for _op in OPERATIONS:
    if _op.name not in RemoteBackend.__dict__:
        setattr(RemoteBackend, _op.name, _method(_op))
abc.update_abstractmethods(RemoteBackend)
