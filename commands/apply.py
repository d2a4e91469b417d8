"""`cstool apply`, `cstool export`, `cstool schema`: declarative configuration."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cstool.api.backend import Backend
from cstool.declarative import dump, json_schema, kind_schema, load_document
from cstool.errors import UsageError
from cstool.i18n import has, t, value
from cstool.resources import kind as kind_named
from cstool.validation import FieldError

from .context import state, wants_json
from .crud import JsonOpt
from .output import counted, info, print_json

SHOW_EACH = 30  # list changes one by one up to this many (more with --verbose)


def apply_files(backend: Backend, files: list[str], dry_run: bool = False):
    """Read fixture files and apply them; errors name the file and line."""
    doc = load_document(files)
    if doc.count() == 0:  # an empty or truncated file is a mistake a CI step must see
        from cstool.errors import InvalidInput

        raise InvalidInput(f"{', '.join(files)}: no records to apply",
                           key="apply_no_records", join=', '.join(files))
    try:
        return backend.apply(doc.records, dry_run=dry_run), doc
    except FieldError as e:
        raise doc.locate(e) from None


def apply_cmd(
    ctx: typer.Context,
    files: Annotated[
        list[str],
        typer.Option(
            "-f", "--file", help="A YAML/JSON file, a folder of them, or - for stdin (repeat)."
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="List every change.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Create or update everything in fixture files, by stable keys, all or nothing."""
    result, doc = apply_files(state(ctx).backend, files, dry_run)
    if wants_json(ctx, json_):
        print_json(result.to_dict())
        return
    changed = [c for c in result.changes if c.action != "unchanged"]
    if verbose or len(changed) <= SHOW_EACH:
        for c in changed:
            what = f" ({', '.join(c.fields)})" if c.fields else ""
            typer.echo(t("cli.apply_change", action=_action(c.action, dry_run),
                         kind=value("kind", kind_named(c.kind).singular), key=c.key,
                         fields=what))
    else:
        per_kind: dict[str, dict[str, int]] = {}
        for c in changed:
            per_kind.setdefault(c.kind, {}).setdefault(c.action, 0)
            per_kind[c.kind][c.action] += 1
        for kind, counts in per_kind.items():
            parts = t("cli.list_sep").join(t("cli.apply_count", action=_action(a, dry_run),
                                                 count=n) for a, n in counts.items())
            typer.echo(t("cli.apply_kind", kind=kind, parts=parts))
    info((t("cli.dry_run") if dry_run else "")
         + t("cli.apply_summary", created=result.count("create"),
             updated=result.count("update"), unchanged=result.count("unchanged"),
             records=counted(doc.count(), "record")))


def _action(action: str, dry_run: bool) -> str:
    """What a change does (``create``, ``update`` ...), as it would when ``dry_run``, in
    the interface language."""
    msgid = f"cli.action.{'would_' if dry_run else ''}{action}"
    return t(msgid) if has(msgid, "en") else (f"would {action}" if dry_run else action)


def export_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's records.")] = None,
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Write to this file instead of stdout.")
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="yaml or json (default: from -o's suffix, else yaml)."),
    ] = None,
) -> None:
    """Print every record (or one shop's) in the fixture format that apply reads."""
    if fmt is None:
        fmt = "json" if (output or "").endswith(".json") or state(ctx).json else "yaml"
    if fmt not in ("yaml", "json"):
        raise UsageError("--format must be yaml or json", key="apply_bad_format")
    text = dump(state(ctx).backend.export(shop=shop), fmt)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        info(t("cli.wrote", path=output))
    else:
        sys.stdout.write(text)


def schema_cmd(
    kind: Annotated[str | None, typer.Option(help="Only one kind's record schema.")] = None,
) -> None:
    """Print the JSON Schema of the fixture format (for editors)."""
    if kind is None:
        data = json_schema()
    else:
        try:
            data = kind_schema(kind_named(kind))
        except KeyError:
            raise UsageError(f"unknown kind {kind!r}", key="apply_unknown_kind",
                             kind=kind) from None
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
