"""`cstool bot ask`: what the bot replies to a question, one or a file of them."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cstool.errors import InvalidInput, UsageError
from cstool.i18n import t, value
from cstool.service import MAX_MESSAGE_CHARS
from cstool.text_rules import check_text, terminal_safe

from .context import state, wants_json
from .crud import JsonOpt
from .output import print_json

app = typer.Typer(help="The knowledge bot: ask it what it would reply.", no_args_is_help=True)


@app.command("ask")
def ask_cmd(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Argument(help="A customer question.")] = None,
    shop: Annotated[str | None, typer.Option(
        help="Answer as this shop's bot (its entries, the platform's, its settings); "
             "default: all knowledge.")] = None,
    customer: Annotated[str | None, typer.Option(
        help="As asked by this customer (flows read their orders and coupons).")] = None,
    file: Annotated[str | None, typer.Option(
        "--file", "-f", help="Questions one a line (- for stdin); prints one JSON object a "
                             "line.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Ask the bot: answer, suggest (did you mean) or handoff, with the entry, its
    confidence and the choices. Nothing is stored."""
    if (text is None) == (file is None):
        raise UsageError("give a question or --file FILE (one question a line)",
                         key="bot_ask_nothing")
    backend = state(ctx).backend
    if file is not None:
        if file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            path = Path(file)
            if path.is_dir():
                raise InvalidInput(f"{file} is a folder: give a file of questions",
                                   key="file_is_folder_questions", file=str(file))
            if not path.is_file():
                raise InvalidInput(f"{file}: no such file", key="no_such_file", file=str(file))
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except UnicodeDecodeError:
                raise InvalidInput(f"{file}: not UTF-8 text (save it as UTF-8; in Excel: "
                                   "CSV UTF-8)", key="questions_not_utf8",
                                   file=str(file)) from None
        # one line of output a line of input (a blank line too: reason "empty"), but a
        # file with no question at all is a mistake, not a run of nothing
        questions = [line.lstrip("\ufeff").strip() for line in lines]
        if not any(questions):
            raise InvalidInput(f"{file}: no questions (one question a line)",
                               key="bot_ask_no_questions", file=str(file))
        # every line is checked before any is asked: a bad line is named by its number and
        # nothing is printed, rather than the run stopping halfway without saying where
        where = "<stdin>" if file == "-" else file
        for n, question in enumerate(questions, start=1):
            check_text(question, f"{where}:{n}", multiline=True)
            if len(question) > MAX_MESSAGE_CHARS:
                raise InvalidInput(f"{where}:{n} too long ({len(question)} characters, at "
                                   f"most {MAX_MESSAGE_CHARS})", key="text_too_long",
                                   what=f"{where}:{n}", length=len(question),
                                   max=MAX_MESSAGE_CHARS)
        out = sys.stdout
        for question in questions:
            result = backend.ask_bot(question, shop=shop, customer=customer)
            out.write(json.dumps(_public(result), ensure_ascii=False) + "\n")
        out.flush()
        return
    result = backend.ask_bot(text, shop=shop, customer=customer)
    if wants_json(ctx, json_):
        print_json(_public(result))
        return
    head = value("bot_action", result["action"])
    if result["entry"]:
        head += t("cli.bot_entry", entry=result["entry"],
                  confidence=f"{result['confidence']:.2f}",
                  reason=t("cli.bot_reason", reason=value("bot_reason", result["reason"]))
                  if result["reason"]
                  else "")
    elif result["reason"]:
        head += t("cli.bot_reason_only", reason=value("bot_reason", result["reason"]))
    typer.echo(head)
    if result["text"]:
        typer.echo(terminal_safe(result["text"], keep_lines=True))
    if result["action"] == "handoff":
        typer.echo(t("cli.bot_handoff") + (
            t("cli.bot_closest", entries=", ".join(result["choices"])) if result["choices"]
            else ""))


def _public(result: dict) -> dict:
    """The fields of the JSON form, in order (question, action, entry, confidence,
    answer, choices, then reason, the message text, the flow step and the products
    recommended)."""
    keys = ("question", "action", "entry", "confidence", "answer", "choices", "reason", "text",
            "flow", "products")
    return {k: result.get(k) for k in keys}


@app.command("info")
def info_cmd(ctx: typer.Context,
             shop: Annotated[str | None, typer.Option(
                 help="As this shop's bot (its own model endpoint, if it set one).")] = None,
             json_: JsonOpt = False) -> None:
    """Which ranker answers in this install: ``hybrid`` (lexical + sentence embeddings
    from the bundled model or a configured model endpoint) or ``lexical`` (no encoder
    here), and why; with an endpoint, whether it answers now."""
    from cstool.bot import IndexConfig
    from cstool.bot.embeddings import ranker_info
    from cstool.bot.endpoint import endpoint_for, platform_endpoint

    ep = platform_endpoint()
    if shop is not None:
        settings = state(ctx).backend.get("shops", shop).get("settings") or {}
        ep = endpoint_for(settings) or ep
    info = ranker_info(ep)
    cfg = IndexConfig()
    info["semantic_weight"] = cfg.semantic_weight if info["ranker"] == "hybrid" else None
    if wants_json(ctx, json_):
        print_json(info)
        return
    if info["ranker"] == "hybrid":
        typer.echo(t("cli.bot_ranker_hybrid", encoder=info["encoder"],
                     weight=info["semantic_weight"]))
    else:  # the reason is the bot's own words (English)
        typer.echo(t("cli.bot_ranker_lexical", reason=info["reason"]))
    if info.get("endpoint"):
        e = info["endpoint"]
        if e["ok"]:
            typer.echo(t("cli.bot_endpoint_ok", model=e["model"], host=e["host"]))
        else:
            typer.echo(t("cli.bot_endpoint_down", model=e["model"], host=e["host"],
                         error=e["error"], fallback=info["fallback"]))
    typer.echo(t("cli.bot_opencc" if info["opencc"] else "cli.bot_builtin_table"))
