"""Output for people and scripts: JSON with ``--json``, rich tables on a terminal,
plain tab-separated text when piped. Data goes to stdout, diagnostics to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer

Column = tuple[str, Callable[[dict], Any]]  # (header, getter)


def print_json(data: Any) -> None:
    """Print ``data`` as JSON (Chinese kept as is)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def is_terminal() -> bool:
    """True when stdout is a terminal (tables and colour), False when piped."""
    return sys.stdout.isatty()


def print_table(rows: Sequence[dict], columns: Sequence[Column], title: str | None = None) -> None:
    """Rows as a rich table on a terminal, as tab-separated text when piped."""
    if not is_terminal():
        sys.stdout.write("\t".join(h for h, _ in columns) + "\n")
        for row in rows:
            sys.stdout.write(
                "\t".join(
                    _cell(get(row)).replace("\t", " ").replace("\n", " ") for _, get in columns
                )
                + "\n"
            )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, header_style="bold", show_lines=False)
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(get(row)) for _, get in columns))
    Console().print(table)
    if not rows:
        typer.echo("(none)", err=True)


def print_record(record: dict) -> None:
    """One record as readable YAML (Chinese kept as is)."""
    import yaml

    text = yaml.safe_dump(record, allow_unicode=True, sort_keys=False, width=100)
    if is_terminal():
        from rich.console import Console
        from rich.syntax import Syntax

        Console().print(Syntax(text, "yaml", theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(text)


def info(message: str) -> None:
    """A diagnostic line on stderr."""
    typer.echo(message, err=True)
