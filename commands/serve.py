"""`cstool serve`: the Backend over HTTP for many agents and the customer widget."""

from typing import Annotated

import typer

from cstool.errors import UsageError
from cstool.i18n import t

from .context import state
from .output import info


def serve_cmd(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option(
        "--db", envvar="CSTOOL_DB", show_envvar=True,
        help="The SQLite data file to serve (default: the global --db, else the user data "
             "folder), or a postgresql:// URL.")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8765,
    max_body_kb: Annotated[int, typer.Option(
        "--max-body-kb", min=1, max=1024 * 1024,
        help="Largest request body accepted, in KiB (larger: 413).")] = 1024,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = False,
    workers: Annotated[int, typer.Option(
        min=1, max=64,
        help="Server processes on the one port (above 1: a postgresql:// database only).")
    ] = 1,
    sender_interval: Annotated[float, typer.Option(
        "--sender-interval", min=0, max=3600,
        help="Send due webhook and channel deliveries every so many seconds (0: only "
             "`cstool worker` sends).")] = 2.0,
) -> None:
    """Serve the data file over HTTP: JSON API under /v1, OpenAPI at /openapi.json, live
    events at /v1/events, the customer widget at /widget/SHOP. SIGTERM or Ctrl+C stops
    gracefully (requests in flight finish first)."""
    st = state(ctx)
    if st.api_url() is not None:
        raise UsageError("serve works on a data file: unset --api / CSTOOL_API",
                         key="serve_needs_file")
    from cstool import __version__
    from cstool.server.run import serve
    from cstool.storage import database_exists, default_db_path
    from cstool.storage.database import is_postgres_url

    path = db or st.db or default_db_path()
    if workers > 1 and not is_postgres_url(path):
        raise UsageError("--workers above 1 needs a postgresql:// database (a SQLite file "
                         "has one writer: serve it from one process)",
                         key="serve_workers_need_postgres")
    if not database_exists(path):  # serving a new mall: make the file now and say so once
        from cstool.backend.local import LocalBackend

        LocalBackend(path).close()
        info(t("cli.created_data_file", path=path))
    shown = f"[{host}]" if ":" in host else host
    info(t("cli.serving", version=__version__, path=path, url=f"http://{shown}:{port}"))
    if host not in ("127.0.0.1", "localhost", "::1"):
        info(t("cli.serve_public"))
    if workers > 1:
        info(t("cli.serving_workers", workers=workers))
    serve(path, host=host, port=port, max_body=max_body_kb * 1024, access_log=access_log,
          workers=workers, sender_s=sender_interval or None)
