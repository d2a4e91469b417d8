"""`cstool kb ...`: the knowledge the bot answers from, and its learning loop."""

import sys
from pathlib import Path
from typing import Annotated

import typer

from cstool.api.backend import Backend
from cstool.declarative import Document
from cstool.errors import InvalidInput, NotFound, UsageError
from cstool.i18n import t
from cstool.knowledge_files import (
    FORMATS,
    format_of,
    format_of_name,
    read_entries,
    refuse_questions_stored_elsewhere,
    refuse_repeated_questions,
    write_entries,
)
from cstool.knowledge_rules import platform_entries, visible_entries
from cstool.validation import FieldError

from .context import state, wants_json
from .crud import JsonOpt
from .output import counted, info, print_json, print_record, print_table
from .progress import embedding_progress

app = typer.Typer(help="Knowledge entries the bot answers from; search, import, export, "
                       "and the learning loop.", no_args_is_help=True)

KIND = "knowledge_entries"
KeyArg = Annotated[str, typer.Argument(metavar="KEY", help="The entry's key.")]
ShopOpt = Annotated[str | None, typer.Option(help="The shop (absent: platform-wide).")]
SimilarOpt = Annotated[list[str] | None, typer.Option(
    "--similar", help="Another wording of the question (repeat).")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="A tag (repeat); "
                                                  "flow:order_status, flow:product or "
                                                  "flow:coupons starts a flow.")]


def _short(text: str | None, n: int = 40) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


COLUMNS = [
    ("key", lambda r: r["key"]),
    ("shop", lambda r: r.get("shop") or "(platform)"),
    ("category", lambda r: r.get("category")),
    ("question", lambda r: _short(r["question"])),
    ("similar", lambda r: len(r.get("similar") or [])),
    ("enabled", lambda r: r.get("enabled", True)),
]


def _entries(backend: Backend, shop: str | None, platform: bool) -> list[dict]:
    """A shop's own entries plus the platform-wide ones (what its bot sees), the
    platform-wide ones alone, or all (the scope rule: ``cstool.knowledge_rules``)."""
    if platform:
        return platform_entries(backend.list(KIND))
    if shop is None:
        return backend.list(KIND)
    own = backend.list(KIND, shop=shop)
    return visible_entries(own + platform_entries(backend.list(KIND)), shop)


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(
        help="What this shop's bot sees: its entries and the platform-wide ones.")] = None,
    platform: Annotated[bool, typer.Option("--platform", help="Only platform-wide entries.")]
    = False,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    json_: JsonOpt = False,
) -> None:
    """List knowledge entries."""
    if shop is not None and platform:
        raise UsageError("give --shop or --platform, not both", key="kb_shop_or_platform")
    rows = _entries(state(ctx).backend, shop, platform)
    if category is not None:
        rows = [r for r in rows if r.get("category") == category]
    if wants_json(ctx, json_):
        print_json(rows)
    else:
        print_table(rows, COLUMNS)


@app.command("show")
def show_cmd(ctx: typer.Context, key: KeyArg, json_: JsonOpt = False) -> None:
    """Show one entry with its similar questions and answer."""
    rec = state(ctx).backend.get(KIND, key)
    if wants_json(ctx, json_):
        print_json(rec)
    else:
        print_record(rec)


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    key: KeyArg,
    question: Annotated[str, typer.Option(help="The question, as customers ask it.")],
    answer: Annotated[str, typer.Option(help="The answer the bot sends (up to 5,000).")],
    shop: ShopOpt = None,
    similar: SimilarOpt = None,
    category: Annotated[str | None, typer.Option(help="shipping, returns, sizing ...")] = None,
    tag: TagOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Add a knowledge entry."""
    rec = {"key": key, "question": question, "answer": answer, "similar": similar or [],
           "tags": tag or [], "enabled": not disabled}
    if shop is not None:
        rec["shop"] = shop
    if category is not None:
        rec["category"] = category
    stored = state(ctx).backend.create(KIND, rec)
    _done(ctx, json_, stored, t("cli.added", key=key))


@app.command("update")
def update_cmd(
    ctx: typer.Context,
    key: KeyArg,
    question: Annotated[str | None, typer.Option(help="A new question.")] = None,
    answer: Annotated[str | None, typer.Option(help="A new answer.")] = None,
    similar: Annotated[list[str] | None, typer.Option(
        "--similar", help="Replace the similar questions (repeat).")] = None,
    add_similar: Annotated[list[str] | None, typer.Option(
        "--add-similar", help="Add a similar question (repeat).")] = None,
    remove_similar: Annotated[list[str] | None, typer.Option(
        "--remove-similar", help="Remove a similar question (repeat).")] = None,
    category: Annotated[str | None, typer.Option(help="A new category.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Replace the tags (repeat).")]
    = None,
    shop: Annotated[str | None, typer.Option(help="Move it to this shop.")] = None,
    platform: Annotated[bool, typer.Option("--platform", help="Make it platform-wide.")]
    = False,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable", help="Switch it.")]
    = None,
    json_: JsonOpt = False,
) -> None:
    """Change an entry's fields; the others stay."""
    backend = state(ctx).backend
    changes: dict = {}
    for name, value in (("question", question), ("answer", answer), ("category", category),
                        ("tags", tag), ("enabled", enabled), ("shop", shop)):
        if value is not None:
            changes[name] = value
    if platform:
        if shop is not None:
            raise UsageError("give --shop or --platform, not both", key="kb_shop_or_platform")
        changes["shop"] = None
    if similar is not None or add_similar or remove_similar:
        current = list(similar) if similar is not None else backend.get(KIND, key).get(
            "similar", [])
        missing = [s for s in remove_similar or [] if s not in current]
        if missing:
            raise InvalidInput(f"{key!r} has no similar question {missing[0]!r}",
                               key="kb_no_similar_question", the_key=key, value=missing[0])
        current = [s for s in current if s not in (remove_similar or [])]
        current += [s for s in add_similar or [] if s not in current]
        changes["similar"] = current
    if not changes:
        raise UsageError("nothing to change (see --help)", key="kb_nothing_to_change")
    stored = backend.update(KIND, key, changes)
    _done(ctx, json_, stored, t("cli.kb_updated", key=key))


@app.command("remove")
def remove_cmd(ctx: typer.Context, key: KeyArg) -> None:
    """Remove an entry."""
    state(ctx).backend.delete(KIND, key)
    info(t("cli.removed", key=key))


def _done(ctx: typer.Context, json_: bool, stored: dict, message: str) -> None:
    if wants_json(ctx, json_):
        print_json(stored)
    else:
        info(message)


@app.command("search")
def search_cmd(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="A customer question.")],
    shop: Annotated[str | None, typer.Option(help="Rank as this shop's bot does.")] = None,
    k: Annotated[int, typer.Option("-k", "--top", min=1, max=100, help="How many.")] = 5,
    json_: JsonOpt = False,
) -> None:
    """Rank the entries for a question (scores add up to 1 over all entries)."""
    hits = state(ctx).backend.search_knowledge(text, shop=shop, k=k)
    if wants_json(ctx, json_):
        print_json(hits)
        return
    print_table(hits, [("entry", lambda h: h["entry"]), ("score", lambda h: f"{h['score']:.3f}"),
                       ("question", lambda h: _short(h["question"])),
                       ("answer", lambda h: _short(h["answer"], 50))])


def _read_input(path: str) -> tuple[str, str]:
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    if p.is_dir():
        raise InvalidInput(f"{path} is a folder: give a .jsonl, .yaml or .csv file",
                           key="kb_file_is_folder", the_path=str(path))
    if not p.is_file():
        raise InvalidInput(f"{path}: no such file", key="kb_no_such_file", the_path=str(path))
    try:
        return p.read_text(encoding="utf-8"), path
    except UnicodeDecodeError:
        raise InvalidInput(f"{path}: not UTF-8 text (save it as UTF-8; in Excel: CSV UTF-8)",
                           key="kb_not_utf8",
                           the_path=str(path)) from None


@app.command("import")
def import_cmd(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(metavar="FILE", help="A .jsonl, .yaml or .csv file, "
                                        "or - for stdin.")],
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl, yaml or csv (default: "
                                            "from the suffix or the text).")] = None,
    shop: Annotated[str | None, typer.Option(help="The shop of entries that name none "
                                             "(default: platform-wide).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Import entries, by key (again = unchanged), all or nothing: a malformed file names
    its line and nothing is imported. The bot's model is rebuilt at once."""
    text, source = _read_input(file)
    fmt = fmt or format_of(None if file == "-" else file, text)
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}",
                         key="kb_format_one_of", join=', '.join(FORMATS))
    records = read_entries(text, source, fmt, default_shop=shop)
    if not records:
        raise InvalidInput(f"{source}: no entries in the file", key="kb_no_entries",
                           the_path=source)
    refuse_repeated_questions(records, source)
    backend = state(ctx).backend
    refuse_questions_stored_elsewhere(records, _stored_of(backend, records), source)
    doc = Document()
    doc.add(source, {KIND: records})
    # keys are one namespace across shops: apply refuses to move another scope's entry
    # (cstool.knowledge_rules.check_owner), for this import as for any document
    try:
        result = backend.apply(doc.records, dry_run=dry_run)
    except FieldError as e:
        raise doc.locate(e) from None
    ready = []
    if not dry_run and (result.count("create") or result.count("update")):
        with embedding_progress(quiet=wants_json(ctx, json_)):
            for scope in sorted({r.get("shop") for r in records}, key=lambda s: s or ""):
                ready.append(backend.warm_knowledge(scope))
    if wants_json(ctx, json_):
        print_json({**result.to_dict(), "models": ready})
        return
    info(t("cli.kb_imported_dry" if dry_run else "cli.kb_imported", source=source,
           entries=counted(len(records), "entry"), created=result.count("create"),
           updated=result.count("update"), unchanged=result.count("unchanged")))
    for r in ready:
        if r.get("how") == "built":
            info(t("cli.kb_model_built", scope=r["shop"] or t("cli.kb_platform"),
                   entries=counted(r["entries"], "entry"), seconds=f"{r['seconds']:.1f}"))


def _stored_of(backend: Backend, records: list) -> list[dict]:
    """The stored entries of the scopes an import writes to (an unknown shop has none:
    the import's own validation names it at its line)."""
    stored: list[dict] = []
    for scope in {r.get("shop") or None for r in records}:
        try:
            stored += (backend.list(KIND, shop=scope) if scope
                       else platform_entries(backend.list(KIND)))
        except NotFound:
            continue
    return stored


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's own entries.")] = None,
    platform: Annotated[bool, typer.Option("--platform", help="Only platform-wide entries.")]
    = False,
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl, yaml or csv (default: "
                                            "from -o's suffix, else jsonl).")] = None,
    output: Annotated[str | None, typer.Option("-o", "--output", help="Write to this file.")]
    = None,
) -> None:
    """Export entries as JSONL, YAML or CSV (what kb import reads)."""
    if shop is not None and platform:
        raise UsageError("give --shop or --platform, not both", key="kb_shop_or_platform")
    fmt = fmt or format_of_name(output) or "jsonl"
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}",
                         key="kb_format_one_of", join=', '.join(FORMATS))
    backend = state(ctx).backend
    if platform:
        rows = platform_entries(backend.list(KIND))
    else:
        rows = backend.list(KIND, shop=shop)
    text = write_entries(rows, fmt)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        info(t("cli.kb_wrote", entries=counted(len(rows), "entry"), path=output))
    else:
        sys.stdout.write(text)


@app.command("unanswered")
def unanswered_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="Only this shop's.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000, help="How many groups.")] = 50,
    dismiss: Annotated[str | None, typer.Option(
        help="Drop a group (#id) without learning it.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Questions the bot could not answer, grouped, most asked first. Teach them with
    `kb learn`."""
    backend = state(ctx).backend
    if dismiss is not None:
        n = backend.dismiss_unanswered(dismiss)
        info(t("cli.kb_dismissed", group=dismiss, questions=counted(n, "question")))
        return
    groups = backend.unanswered_questions(shop=shop, limit=limit)
    if wants_json(ctx, json_):
        print_json(groups)
        return
    print_table(groups, [
        ("group", lambda g: g["group"]), ("shop", lambda g: g["shop"] or ""),
        ("count", lambda g: g["count"]), ("question", lambda g: _short(g["question"])),
        ("wordings", lambda g: len(g["wordings"])),
        ("handed off", lambda g: g["actions"].get("handoff", 0)),
        ("best entry", lambda g: g["top_entry"]),
        ("confidence", lambda g: "" if g["confidence"] is None else f"{g['confidence']:.2f}"),
    ])


@app.command("learn")
def learn_cmd(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The question, or a group id like #12 from "
                                            "kb unanswered.")],
    entry: Annotated[str | None, typer.Option(help="Add it as a similar question of this "
                                              "entry.")] = None,
    new: Annotated[str | None, typer.Option(help="Make a new entry with this key from it "
                                            "(needs --answer).")] = None,
    answer: Annotated[str | None, typer.Option(help="The new entry's answer.")] = None,
    shop: Annotated[str | None, typer.Option(help="The shop (default: the group's).")] = None,
    category: Annotated[str | None, typer.Option(help="The new entry's category.")] = None,
    tag: TagOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Teach the bot a question it could not answer: every wording of its group becomes a
    similar question of an entry (--entry) or a new entry (--new, --answer)."""
    if (entry is None) == (new is None):
        raise UsageError("give --entry KEY or --new KEY --answer TEXT", key="kb_entry_or_new")
    result = state(ctx).backend.learn_question(question, entry=entry, new=new, answer=answer,
                                               shop=shop, category=category, tags=tag)
    if wants_json(ctx, json_):
        print_json(result)
        return
    info(t("cli.kb_learned_new" if result["created"] else "cli.kb_learned",
           entry=result["entry"], count=len(result["added"]))
         + (t("cli.kb_resolved", count=result["resolved"]) if result["resolved"] else ""))


suggest_app = typer.Typer(help="Proposals learned from what agents answer in closed human "
                                "chats: list them, accept or reject.")
app.add_typer(suggest_app, name="suggest")


def _suggestion_table(rows: list[dict]) -> None:
    print_table(rows, [
        ("id", lambda r: r["id"]), ("kind", lambda r: r["kind"]),
        ("entry", lambda r: r["entry"] or ""), ("evidence", lambda r: r["evidence"]),
        ("question", lambda r: _short(r["question"])),
        ("wordings", lambda r: 1 + len(r["similar"])),
        ("answer", lambda r: _short(r["answer"])),
    ])


@suggest_app.callback(invoke_without_command=True)
def suggest_cmd(
    ctx: typer.Context,
    shop: Annotated[str | None, typer.Option(help="The shop whose chats are mined.")] = None,
    since: Annotated[str, typer.Option(help="How far back: 7d, 12h, 2w or all.")] = "7d",
    json_: JsonOpt = False,
) -> None:
    """Mine the shop's closed human chats for customer questions and the agent replies
    that answered them, and list the proposals (new entries, or similar questions of an
    entry) with their evidence. Nothing is applied: `kb suggest accept ID` or
    `kb suggest reject ID`."""
    if ctx.invoked_subcommand is not None:
        return
    if shop is None:
        raise UsageError("give --shop SHOP (the shop whose chats are mined)",
                         key="kb_suggest_needs_shop")
    rows = state(ctx).backend.suggest_knowledge(shop, since=since)
    if wants_json(ctx, json_):
        print_json(rows)
        return
    if not rows:
        info(t("cli.kb_suggest_none", shop=shop))
        return
    _suggestion_table(rows)


SuggestionArg = Annotated[int, typer.Argument(help="The proposal's id (from kb suggest).")]
ShopOpt = Annotated[str | None, typer.Option(help="The proposal's shop (default: the "
                                             "token's one shop).")]


@suggest_app.command("accept")
def suggest_accept_cmd(
    ctx: typer.Context,
    suggestion: SuggestionArg,
    shop: ShopOpt = None,
    key: Annotated[str | None, typer.Option(help="The new entry's key (default "
                                            "SHOP-learned-ID).")] = None,
    answer: Annotated[str | None, typer.Option(help="The new entry's answer in place of "
                                               "the agents' one.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Apply a proposal: a new entry of the shop, or similar questions of its entry."""
    r = state(ctx).backend.accept_kb_suggestion(suggestion, shop=shop, key=key, answer=answer)
    if wants_json(ctx, json_):
        print_json(r)
        return
    info(t("cli.kb_learned_new" if r["created"] else "cli.kb_learned",
           entry=r["result_entry"], count=len(r["added"])))


@suggest_app.command("reject")
def suggest_reject_cmd(ctx: typer.Context, suggestion: SuggestionArg, shop: ShopOpt = None,
                       json_: JsonOpt = False) -> None:
    """Turn a proposal down: its questions are not proposed again."""
    r = state(ctx).backend.reject_kb_suggestion(suggestion, shop=shop)
    if wants_json(ctx, json_):
        print_json(r)
        return
    info(t("cli.kb_suggest_rejected", suggestion=r["id"]))


