"""Output for people and scripts: JSON with ``--json``, rich tables on a terminal,
plain tab-separated text when piped. Data goes to stdout, diagnostics to stderr."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer

from cstool.i18n import has, language, t
from cstool.plural import count, count_zh
from cstool.text_rules import terminal_safe

Column = tuple[str, Callable[[dict], Any]]  # (header, getter)


class Header(str):
    """A column header whose catalog id is not ``col.<header>`` (two columns of the same
    English name that mean different things)."""

    msgid: str

    def __new__(cls, text: str, msgid: str) -> Header:
        obj = super().__new__(cls, text)
        obj.msgid = msgid
        return obj


def header_text(header: str) -> str:
    """A column header in the interface language (catalog id ``col.<header>``, or the
    header's own id); a header without an entry (a dimension's value) as it is."""
    msgid = getattr(header, "msgid", f"col.{header}")
    return t(msgid) if has(msgid, "en") else header


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (a Chinese character takes
    two), on the left when ``right`` (numbers' columns)."""
    from rich.cells import cell_len

    space = " " * max(0, width - cell_len(text))
    return space + text if right else text + space


def counted(n: int, noun: str) -> str:
    """``n`` with ``noun`` in the interface language: "3 records" / "3 条记录" (the noun's
    Chinese is the catalog's ``noun.<noun>``, with its measure word)."""
    if language() == "zh" and has(f"noun.{noun}", "zh"):
        return count_zh(n, t(f"noun.{noun}"))
    return count(n, noun)


# What JSON leaves raw but a terminal obeys (C1 controls such as CSI U+009B, DEL) or
# reorders (bidi overrides): written as \u escapes, still the same JSON.
_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def print_json(data: Any) -> None:
    """Print ``data`` as JSON (Chinese kept as is; control characters escaped)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    sys.stdout.write(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")


def _cell(value: Any, human: bool = False) -> str:
    """A value as one terminal-safe line of a table or TSV (``cstool.text_rules``); true
    and false in the interface language in a table (``human``), as yes/no in TSV."""
    if value is None:
        return ""
    if isinstance(value, list):
        text = ",".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bool):
        if human:
            return t("cli.yes") if value else t("cli.no")
        return "yes" if value else "no"
    else:
        text = str(value)
    # a line break or tab inside a cell reads as a space; any other control character
    # is shown as an escape (\x1b) and never reaches the terminal
    return terminal_safe(text.replace("\t", " ").replace("\r\n", " ").replace("\n", " "))


def is_terminal() -> bool:
    """True when stdout is a terminal (tables and colour), False when piped."""
    return sys.stdout.isatty()


def print_table(rows: Sequence[dict], columns: Sequence[Column], title: str | None = None) -> None:
    """Rows as a rich table on a terminal, as tab-separated text when piped. On a
    terminal the headers are in the interface language; the tab-separated form is for
    scripts and keeps its English column names (as ``--json`` keeps its keys)."""
    if not is_terminal():
        sys.stdout.write("\t".join(h for h, _ in columns) + "\n")
        for row in rows:
            sys.stdout.write(
                "\t".join(
                    _cell(get(row)) for _, get in columns
                )
                + "\n"
            )
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, header_style="bold", show_lines=False)
    for header, _ in columns:
        table.add_column(header_text(header), overflow="fold")
    for row in rows:
        # Text: a title like "[red]x" is text, not rich markup
        table.add_row(*(Text(_cell(get(row), human=True)) for _, get in columns))
    Console().print(table)
    if not rows:
        typer.echo(t("cli.none"), err=True)


def print_record(record: dict) -> None:
    """One record as readable YAML (Chinese kept as is)."""
    import yaml

    text = terminal_safe(yaml.safe_dump(record, allow_unicode=True, sort_keys=False,
                                        width=100), keep_lines=True)
    if is_terminal():
        from rich.console import Console
        from rich.syntax import Syntax

        Console().print(Syntax(text, "yaml", theme="ansi_dark", background_color="default"))
    else:
        sys.stdout.write(text)


def info(message: str) -> None:
    """A diagnostic line on stderr."""
    typer.echo(message, err=True)
