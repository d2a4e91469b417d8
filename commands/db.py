"""`cstool db ...`: the store itself: init, info, upgrade, backup, copy."""

from typing import Annotated

import typer
from rich.cells import cell_len

from cstool.i18n import t

from .context import state, wants_json
from .crud import JsonOpt
from .output import info, print_json, print_table

app = typer.Typer(
    help="The data file: create, schema version, size, upgrade, backup.", no_args_is_help=True
)


@app.command("init")
def init_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Create the data file (and its folder), empty and at the latest schema; a file that
    is there already is left as it is."""
    st = state(ctx)
    data = st.backend.info()  # opening creates the file (said on stderr) when missing
    if wants_json(ctx, json_):
        print_json({"path": data["path"], "schema_version": data["schema_version"]})
    elif not st.created:
        info(t("cli.db_exists", path=data["path"], version=data["schema_version"]))


ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


@app.command("info")
def info_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Show the file's path, schema version, size and row counts."""
    data = state(ctx).backend.info()
    if wants_json(ctx, json_):
        print_json(data)
        return
    lines = [
        ("engine", ENGINE_NAMES.get(data.get("engine", ""), data.get("engine", ""))),
        ("path", data["path"]),
        ("schema_version", t("cli.db.version_latest", version=data["schema_version"],
                             latest=data["latest_schema_version"])),
        ("size", f"{data['size_bytes'] / 1024:,.0f} KiB")]
    if data.get("engine") == "sqlite":  # PostgreSQL always writes ahead: nothing to say
        lines.append(("journal_mode", data["journal_mode"]))
    for label, text in lines:
        name = t(f"cli.db.{label}")
        typer.echo(name + " " * max(1, 16 - cell_len(name)) + str(text))
    rows = [{"table": t, "rows": n} for t, n in data["tables"].items()]
    print_table(rows, [("table", lambda r: r["table"]), ("rows", lambda r: r["rows"])])


@app.command("upgrade")
def upgrade_cmd(ctx: typer.Context, json_: JsonOpt = False) -> None:
    """Apply pending schema migrations (safe to run any time)."""
    backend = state(ctx).backend
    applied = backend.upgrade() or (backend.database.migrated if backend.has_database_file
                                    else [])
    version = backend.info()["schema_version"]
    if wants_json(ctx, json_):
        print_json({"applied": applied, "schema_version": version})
    elif applied:
        info(t("cli.db_migrated", migrations=", ".join(map(str, applied)), version=version))
    else:
        info(t("cli.db_up_to_date", version=version))


@app.command("backup")
def backup_cmd(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Where to write the copy (must not exist).")],
    json_: JsonOpt = False,
) -> None:
    """Copy the file with SQLite's online backup, safe while others write."""
    result = state(ctx).backend.backup(path)
    if wants_json(ctx, json_):
        print_json(result)
    else:
        info(t("cli.db_backed_up", path=result["path"],
               size=f"{result['size_bytes'] / 1024:,.0f}"))


@app.command("copy")
def copy_cmd(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(
        help="The store to copy: a data file or a postgresql:// URL.")],
    target: Annotated[str, typer.Argument(
        help="An empty store to copy into: a new data file or an empty PostgreSQL "
             "database (postgresql://...).")],
    json_: JsonOpt = False,
) -> None:
    """Move a whole mall between stores (SQLite file to PostgreSQL and back): all or
    nothing, verified table by table (row counts) and whole (the export's bytes equal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from cstool.backend.local import LocalBackend
    from cstool.services.store_copy import copy_store, require_empty

    src = LocalBackend(source, create=False)
    try:
        dst = LocalBackend(target)
        try:
            require_empty(dst)  # refused before a progress bar is drawn
            with Progress("[progress.description]{task.description}", BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(),
                          disable=wants_json(ctx, json_), transient=False) as bar:
                task = bar.add_task(t("cli.db_copying"), total=None)

                def progress(table: str, done: int, total: int) -> None:
                    bar.update(task, description=table, completed=done, total=total)

                result = copy_store(src, dst, progress=progress)
        finally:
            dst.close()
    finally:
        src.close()
    if wants_json(ctx, json_):
        print_json(result)
    else:
        info(t("cli.db_copied", rows=f"{result['rows']:,}", tables=len(result["tables"]),
               target=result["target"]))
