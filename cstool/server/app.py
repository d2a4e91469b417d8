"""The ASGI app of ``cstool serve``: the operations table as JSON routes under /v1, the
live event stream, the customer widget, errors as JSON with codes.

Every Backend call runs on one worker thread (the SQLite file takes one writer at a
time anyway), so the event loop stays free for connections and event streams.

Beside it: ``request_types.py`` (arguments as typed request parameters),
``error_responses.py`` (JSON responses, errors as JSON with codes), ``policies.py`` (who
may call what).

Long because: one request's path through the server (the routes built from the table,
the message lane in front of them, 405 by the OpenAPI paths, the lifespan of the hub,
listener and sender) reads as one flow here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import inspect
import json
import logging
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import ConfigDict, Field, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from .. import __version__
from ..api.operations import (
    OPERATIONS,
    REQUIRED,
    Operation,
    encode_result,
    next_cursor,
    page_size,
)
from ..auth import TokenStore, Unauthorized
from ..backend.local import LocalBackend
from ..errors import CstoolError, StorageError
from ..message_payloads import message_body_variants
from ..resources import KINDS
from ..storage.errors import DatabaseError
from ..storage.repos import events as event_log
from . import file_links, widget
from .access import Access, Page
from .conversation_policies import event_filter
from .error_responses import (
    ERROR_RESPONSES,
    _bad_text,
    _cstool_error,
    _cstool_error_response,
    _http_error,
    _internal_error,
    _no_content,
    _not_json,
    _plain,
    _storage_error,
    error_response,
    json_response,
)
from .events import EventHub, listen_across_processes, stop_listening
from .limits import BodyLimit, send_json, too_deep_body, too_deep_response, without_bom
from .policies import POLICIES
from .presence_signal import presence_signal
from .request_types import INT_RANGE, _annotation
from .schema_rules import (
    TIME_ARGS,
    TIME_RANGE,
    array_schema,
    body_rules,
    constraints,
    core_ranged,
)
from .sender import BackgroundSender
from .worker import StorageWorker

log = logging.getLogger("cstool.server")

DEFAULT_MAX_BODY = 1 << 20  # 1 MiB
ALONE = ("backup", "upgrade")  # never grouped with other calls in one commit


class ServerState:
    """What the routes share: the backend, the token store, the DB thread, the hub."""

    def __init__(self, backend: LocalBackend, *, ping_s: float, poll_s: float):
        self.backend = backend
        self.tokens = TokenStore(backend)
        self.worker: StorageWorker | None = None  # started with the app
        self.ping_s = ping_s
        db = FilePath(backend.path)
        self.backup_dir = db.parent / f"{db.stem}-backups"
        self.hub = EventHub(self._read_events, self._head, poll_s=poll_s)

    async def run(self, fn, *args, alone: bool = False, shared: bool = False,
                  hint: tuple | None = None):
        """Run a blocking storage call on the storage thread (grouped commits);
        ``shared``: a customer's post, which PostgreSQL runs beside other posts, with
        ``hint``: its (shop, customer, client id) as far as known (``StorageWorker``)."""
        if self.worker is None:
            raise StorageError("the server is not running", key="server_not_running")
        return await self.worker.run(lambda: fn(*args), alone=alone, shared=shared,
                                     hint=hint)

    async def _read_events(self, after: int, limit: int) -> list[dict]:
        return await self.run(lambda: self.backend.events(after=after, limit=limit))

    async def _head(self) -> int:
        def head() -> int:
            with self.backend.database.read() as conn:
                return event_log.head(conn)

        return await self.run(head)

    async def authenticate(self, request: Request):
        """The caller's Principal (Unauthorized without a valid token)."""
        return await self.run(self.tokens.authenticate, bearer(request))


def bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``."""
    return bearer_value(request.headers.get("authorization"))


def bearer_value(header: str | None) -> str | None:
    """The token of an ``Authorization`` header's value ``Bearer TOKEN``."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _endpoint(op: Operation):
    """A FastAPI endpoint for ``op`` whose signature FastAPI turns into validation and
    OpenAPI: path and query parameters, and one JSON body model."""
    params = [inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=Request)]
    body_fields: dict[str, Any] = {}
    for arg in op.args:
        where = op.where(arg)
        default = None if arg.http_optional or arg.required else arg.default
        ranged = core_ranged(op, arg)
        bounds = {**(INT_RANGE if arg.type is int and not ranged else {}),
                  **constraints(op, arg, enforce=where in ("path", "query"))}
        if where == "path":
            params.append(inspect.Parameter(
                arg.name, inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[_annotation(arg), Path(description=arg.doc or None,
                                                            **bounds)]))
        elif where == "query":
            required = arg.required and not arg.http_optional
            params.append(inspect.Parameter(
                arg.name, inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[_annotation(arg, array=array_schema(op, arg)),
                                     Query(description=arg.doc or None, **bounds)],
                **({} if required else {"default": default})))
        elif arg.name != op.body:
            required = arg.required and not arg.http_optional
            rules = constraints(op, arg)
            numeric = {k: rules.pop(k) for k in ("ge", "le") if k in rules}
            if arg.type == str | int and arg.name in TIME_ARGS:
                numeric = dict(TIME_RANGE)
            body_fields[arg.name] = (_annotation(arg, body=True, bounds=numeric,
                                                 array=array_schema(op, arg),
                                                 json_range=not ranged),
                                     Field(... if required else default, **rules))
    if op.body is not None:
        params.append(inspect.Parameter(
            "body_", inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[dict[str, Any], Body(description="the record")]))
    elif body_fields:
        cross = body_rules(op)
        variants = "payload" in body_fields and "kind" in body_fields

        def extra(schema: dict) -> None:
            """What the body takes across its fields: the payload each message kind
            takes (cstool.message_payloads) and ``schema_rules.BODY_RULES``."""
            if variants:
                schema["anyOf"] = message_body_variants()
            schema.update(cross)
        model = create_model(
            "".join(w.title() for w in op.name.split("_")) + "Request",
            __config__=ConfigDict(extra="forbid", strict=True, json_schema_extra=extra),
            **body_fields)
        # a body is needed when a field is, or when the body must hold one of several
        # (schema_rules.BODY_RULES: an empty body would break that rule)
        needed = any(f[1].is_required() for f in body_fields.values()) or bool(cross)
        params.append(inspect.Parameter(
            "body_", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[model, Body()],
            **({} if needed else {"default": None})))

    async def endpoint(request: Request, **kwargs: Any) -> Response:
        state: ServerState = request.app.state.cstool
        body = kwargs.pop("body_", None)
        args = {k: v for k, v in kwargs.items()}
        if op.body is not None:
            args[op.body] = body
        elif body is not None:
            args.update(body.model_dump(exclude_unset=True))
        _fill_defaults(op, args)
        return await serve_operation(state, op, args, bearer(request))

    endpoint.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    endpoint.__name__ = op.name
    endpoint.__doc__ = op.summary
    return endpoint


def _fill_defaults(op: Operation, args: dict) -> None:
    """Fill in the table's defaults for the arguments a request left out."""
    for arg in op.args:
        if arg.name not in args and arg.default is not REQUIRED and not arg.http_optional:
            args[arg.name] = arg.default


async def serve_operation(state: ServerState, op: Operation, args: dict,
                          token: str | None) -> Response:
    """Run ``op`` for the bearer of ``token`` on the storage thread: authenticate, check
    the rights (the op's policy), call, and answer in JSON. Errors are raised."""
    policy = POLICIES[op.right]

    signals: list[dict] = []

    def work() -> Any:
        principal = state.tokens.authenticate(token)
        if op.target == "principal":
            return principal.to_dict()
        if op.result == "page" and "limit" in args:  # one page at most, whatever the policy
            args["limit"] = page_size(args["limit"])
        out = policy(Access(principal, state.backend, state.tokens, state.backup_dir), op, args)
        if op.name == "presence":  # pushed live to the shop's staff (not an event)
            signals.append(presence_signal(state.backend, args, out))
        return out

    hint = None
    if op.name == LANE_OPERATION and state.worker is not None and state.worker.prefetch:
        # who posts, as the token was seen lately: the posts' thread reads the look-ups
        # of a group together (a hint only: ``work`` authenticates and checks as ever)
        seen = state.tokens.customer_hint(token)
        if seen is not None and seen[0] == args.get("shop"):
            hint = (seen[0], seen[1], args.get("client_id"))
    result = await state.run(work, alone=op.name in ALONE,
                             shared=op.name == LANE_OPERATION, hint=hint)
    if op.writes:
        state.hub.wake()
    for signal in signals:
        state.hub.publish(signal)
    return _respond(op, args, result)


LANE_OPERATION = "post_message"
LANE_PREFIX, LANE_SUFFIX = "/v1/shops/", "/messages"


class MessageLane:
    """Customer messages (``POST /v1/shops/{shop}/messages``, the bulk of the traffic)
    served without FastAPI's per-request machinery (its middleware, routing, dependency
    solving, the pydantic body model), which costs more than the message itself.

    The lane takes only requests FastAPI would accept and handle the same way: a
    declared ``Content-Length`` within the server's limit, ``Content-Type:
    application/json``, and a JSON object whose fields are all the operation's, of the
    types its strict body model takes, with every required one present. It runs exactly
    what the route runs (``serve_operation``) and answers as the app's error handlers
    do. Anything else (a missing or unknown field, a wrong type, bad JSON, another
    content type, a chunked body) goes on to FastAPI with the body replayed, so
    validation errors, their codes and the OpenAPI schema stay FastAPI's.
    """

    def __init__(self, state: ServerState, op: Operation, fields: dict, max_body: int):
        self.state = state
        self.op = op
        self.fields = fields
        self.max_body = max_body
        self.served = 0  # requests the lane answered itself (for tests and figures)

    def shop_of(self, scope: dict) -> str | None:
        """The shop of a request the lane may take (None: not the lane's)."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope.get("root_path"):
            return None
        path = scope["path"]
        if not (path.startswith(LANE_PREFIX) and path.endswith(LANE_SUFFIX)):
            return None
        shop = path[len(LANE_PREFIX):-len(LANE_SUFFIX)]
        return shop if shop and "/" not in shop else None

    async def serve(self, scope: dict, shop: str, receive: Any,
                    send: Any) -> tuple[bool, bytes | None]:
        """Answer the request if it is the lane's: (answered, the body read if any, for
        whoever answers instead)."""
        length = content_type = authorization = None
        for name, value in scope["headers"]:  # the first of each, as Starlette reads them
            if name == b"content-length":
                length = value if length is None else length
            elif name == b"content-type":
                content_type = value if content_type is None else content_type
            elif name == b"authorization":
                authorization = value if authorization is None else authorization
        if content_type != b"application/json" or length is None or not length.isdigit() \
                or not 0 < int(length) <= self.max_body:
            return False, None
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return True, None
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = without_bom(b"".join(chunks))
        if too_deep_body(body):  # before parsing, as BodyLimit does for every route
            await send_json(send, *too_deep_response())
            return True, body
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            return False, body
        args = _lane_args(self.op, self.fields, shop, data)
        if args is None:
            return False, body
        token = bearer_value(None if authorization is None else authorization.decode("latin-1"))
        try:
            response = await serve_operation(self.state, self.op, args, token)
        except CstoolError as e:
            response = _cstool_error_response(e)
        except DatabaseError as e:
            response = _storage_error(None, e)  # type: ignore[arg-type]
        except UnicodeEncodeError as e:
            response = _bad_text(None, e)  # type: ignore[arg-type]
        except Exception as e:  # as Starlette's ServerErrorMiddleware: a 500, then raise
            await _internal_error(Request(scope), e)(scope, receive, send)
            raise
        self.served += 1
        await response(scope, receive, send)
        return True, body


class CstoolAPI(FastAPI):
    """The FastAPI app with the message lane in front of it (see ``MessageLane``), and
    405 answered by the OpenAPI document's paths (see ``allowed_methods``)."""

    lane: MessageLane | None = None
    _paths: list[tuple[Any, frozenset[str], bool, int]] | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        """Serve a request: the lane's if it takes it, else FastAPI's."""
        lane = self.lane
        if lane is not None and (shop := lane.shop_of(scope)) is not None:
            answered, body = await lane.serve(scope, shop, receive, send)
            if answered:
                return
            if body is not None:  # read already: FastAPI gets it again
                receive = _replay(body, receive)
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            allowed = self.allowed_methods(scope["path"])
            if allowed and scope["method"] not in allowed:
                await _method_not_allowed(scope["method"], scope["path"], allowed)(
                    scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    def allowed_methods(self, path: str) -> set[str]:
        """The methods the OpenAPI document declares for the path ``path`` falls under
        (empty: no such path). A specific path (``/v1/agents/{agent}/desk``) hides the
        record routes (``/v1/{kind}/{key}``) that would also match it, so ``PATCH`` on
        a GET-only path is 405 with ``Allow``, never an update of a record called
        ``x/desk``; every method of the path is listed, not only one route's."""
        if self._paths is None:
            self._paths = [(r.path_regex, frozenset(r.methods), r.path.startswith("/v1/{kind}"),
                            r.path.count("{"))
                           for r in self.router.routes
                           if isinstance(r, APIRoute) and r.path.startswith("/v1/")]
        best: dict[bool, tuple[int, set[str]]] = {}
        for regex, methods, is_generic, params in self._paths:
            if regex.match(path):
                # the path with the fewest parameters is the one meant
                # (/v1/tickets/report, not /v1/tickets/{ticket})
                fewest, found = best.get(is_generic, (params, set()))
                if params < fewest:
                    fewest, found = params, set()
                if params == fewest:
                    found |= methods
                best[is_generic] = (fewest, found)
        allowed = set((best.get(False) or best.get(True) or (0, set()))[1])
        if "GET" in allowed:
            allowed.add("HEAD")
        return allowed


def _method_not_allowed(method: str, path: str, allowed: set[str]) -> Response:
    order = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
    allow = ", ".join(m for m in order if m in allowed)
    return error_response(405, "method_not_allowed", f"{method} is not allowed on {path} "
                          f"(allowed: {allow})", headers={"Allow": allow})


def _replay(body: bytes, receive: Any) -> Any:
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _message_lane(app: FastAPI) -> tuple[Operation, dict] | None:
    """The lane's operation and its body fields, if the app routes the lane's requests to
    that operation (the first route to match them is its own) and every body field is
    of a type the lane checks; else None (no lane: FastAPI serves them all)."""
    op = next((o for o in OPERATIONS if o.name == LANE_OPERATION), None)
    if op is None or op.path != LANE_PREFIX + "{shop}" + LANE_SUFFIX or op.body is not None:
        return None
    fields: dict[str, tuple[Any, bool, bool]] = {}
    for arg in op.args:
        if op.where(arg) == "path":
            continue
        if op.where(arg) != "body" or arg.type not in (str, int, Any):
            return None
        nullable = arg.default is None or arg.http_optional  # as _annotation makes it
        fields[arg.name] = (arg.type, nullable, arg.required and not arg.http_optional)
    probe = {"type": "http", "method": "POST", "path": LANE_PREFIX + "probe" + LANE_SUFFIX,
             "root_path": "", "headers": []}
    for route in app.router.routes:
        match, _ = route.matches(probe)
        if match is Match.FULL:
            return (op, fields) if getattr(route, "name", None) == op.name else None
    return None


def _lane_args(op: Operation, fields: dict, shop: str, data: Any) -> dict | None:
    """The call's arguments from a lane request's JSON, or None when FastAPI's body model
    would not take the body as it is (FastAPI then answers)."""
    if type(data) is not dict:
        return None
    for name, (_, _, required) in fields.items():
        if required and name not in data:
            return None
    args: dict[str, Any] = {"shop": shop}
    for name, value in data.items():
        spec = fields.get(name)
        if spec is None:
            return None  # extra="forbid"
        kind, nullable, _ = spec
        if value is None:
            if not nullable:
                return None
        elif kind is str:
            if type(value) is not str:
                return None
        elif kind is int:  # strict: no bool, no float; JSON's exact range
            if type(value) is not int or not INT_RANGE["ge"] <= value <= INT_RANGE["le"]:
                return None
        args[name] = value
    _fill_defaults(op, args)
    return args


def _respond(op: Operation, args: dict, result: Any) -> Response:
    if isinstance(result, Page):
        return json_response({"items": result.items, "next": result.next})
    if op.result == "page":
        size = page_size(args.get("limit"))
        return json_response({"items": result, "next": next_cursor(op, args, result, size)})
    if op.result == "list":
        return json_response({"items": result})
    if result is None:
        return Response(status_code=204)
    return json_response(encode_result(op, result), 201 if op.name.startswith("create") else 200)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    # Who asks comes before what they ask: a bad token is a 401 whatever the body.
    state: ServerState = request.app.state.cstool
    if request.url.path.startswith("/v1/") and request.url.path != "/v1/health":
        try:
            await state.authenticate(request)
        except Unauthorized as e:
            return _cstool_error(request, e)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    if first.get("type") == "json_invalid" or _not_json(request.scope.get("cstool.body")):
        return error_response(400, "malformed_json",
                              f"the request body is not valid JSON ({first.get('msg')})")
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body_")
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return error_response(422, "invalid", f"{where}: {_plain(first.get('msg'))}{more}",
                          details=[{"loc": [str(p) for p in e.get("loc", ())],
                                    "msg": _plain(e.get("msg"))} for e in errors[:20]])


def create_app(backend: LocalBackend, *, max_body: int = DEFAULT_MAX_BODY, ping_s: float = 15.0,
               poll_s: float = 0.25, fast_lane: bool = True,
               sender_s: float | None = None) -> FastAPI:
    """The ASGI app over ``backend`` (a LocalBackend; the app does not close it).

    ``fast_lane=False`` serves customer messages through FastAPI like every other
    request (see ``MessageLane``; the tests compare the two). ``sender_s``: see
    ``server/sender.py``."""
    state = ServerState(backend, ping_s=ping_s, poll_s=poll_s)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        state.worker = StorageWorker(backend.database,
                                     prefetch=backend.ctx.desk.prefetch_posts)
        await state.hub.start()
        await asyncio.to_thread(listen_across_processes, state.hub, backend, state.tokens)
        state.sender = await BackgroundSender.started(state, sender_s)
        gc.freeze()  # what start-up built lives on: full collections skip it (no long pauses)
        try:
            yield
        finally:
            await BackgroundSender.stopped(state.sender)  # before the storage thread
            await state.hub.stop()
            await asyncio.to_thread(stop_listening, state.hub, state.tokens)
            state.worker.stop()
            state.worker = None

    app = CstoolAPI(
        title="cstool",
        version=__version__,
        summary="Customer service desk for multi-shop e-commerce: the Backend over HTTP.",
        description=(
            "Every Backend operation as JSON under /v1. Authenticate with "
            "`Authorization: Bearer TOKEN` (`cstool token create`). Errors are "
            '`{"error": {"code", "message"}}`. Lists are pages: `{"items", "next"}`; pass '
            "`next` back as `after`. Live events: `GET /v1/events` (server-sent events, "
            f"resumable with Last-Event-ID). Record kinds: {', '.join(KINDS)}."),
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.cstool = state
    app.add_middleware(BodyLimit, max_bytes=max_body)
    app.add_exception_handler(CstoolError, _cstool_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DatabaseError, _storage_error)
    app.add_exception_handler(UnicodeEncodeError, _bad_text)
    app.add_exception_handler(Exception, _internal_error)

    @app.get("/v1/health", tags=["store"], summary="The server is up (no token needed)")
    async def health() -> dict:
        return {"ok": True, "version": __version__}

    @app.get("/v1/events", tags=["events"], summary="Live events (server-sent events)",
             operation_id="event_stream",
             response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "id / event / data lines; `: ping` keep-alives"},
                        **{k: v for k, v in ERROR_RESPONSES.items() if k in (400, 401, 403)}})
    async def event_stream(
        request: Request,
        after: Annotated[int | None, Query(ge=0, description="start after this event id "
                                                             "(or send Last-Event-ID)")] = None,
        shop: Annotated[str | None, Query(description="only this shop's events")] = None,
    ) -> Response:
        principal = await state.authenticate(request)
        last_id = request.headers.get("last-event-id")
        if last_id is not None:
            if not last_id.strip().isdigit():
                return error_response(400, "usage", "Last-Event-ID must be an event id")
            after = int(last_id)
        if after is None:
            after = await state._head()  # from now on
        elif after > state.hub.head and after > (head := await state._head()):
            # a cursor from another file: it would wait for ever (the hub's head spares
            # the storage thread a look-up per subscriber; the file has the last word)
            return error_response(400, "usage", f"event {after} is past the newest ({head})")
        access = Access(principal, backend, state.tokens)
        if shop is not None:
            if principal.is_customer and shop != principal.shop or not principal.may_use_shop(
                    shop):
                return error_response(403, "forbidden",
                                      f"{principal.describe()} may not use shop {shop!r}")
        token = bearer(request)
        rights = {"shops": principal.shops, "base": await state.run(event_filter, access)}

        def keep(e: dict) -> bool:
            return (shop is None or e["shop"] == shop) and rights["base"](e)

        async def alive() -> bool:
            """Asked at every ping and every ping interval while events flow: a revoked
            token ends the stream; changed rights (an agent moved out of a shop) filter
            from then on, or end it when the shop asked for is no longer theirs."""
            try:
                now = await state.run(state.tokens.authenticate, token)
            except Unauthorized:
                return False
            if await request.is_disconnected():
                return False
            if now.shops != rights["shops"]:
                if shop is not None and not now.may_use_shop(shop):
                    return False
                rights["shops"] = now.shops
                rights["base"] = await state.run(event_filter,
                                                 Access(now, backend, state.tokens))
            return True

        return StreamingResponse(
            state.hub.stream(after, keep, ping_s=state.ping_s, alive=alive),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    for op in OPERATIONS:  # every Backend has every operation (cstool.api.backend)
        app.add_api_route(
            op.path, _endpoint(op), methods=[op.verb], tags=[op.tag], summary=op.summary,
            name=op.name, operation_id=op.name,
            responses={**ERROR_RESPONSES, **_no_content(op)},
            status_code=(204 if op.result == "none" else
                         201 if op.name.startswith("create") else 200),
        )
    widget.add_routes(app)
    file_links.add_routes(app)
    lane = _message_lane(app) if fast_lane else None
    if lane is not None:
        app.lane = MessageLane(state, *lane, max_body)
    return app

