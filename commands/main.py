"""The `cstool` command: global options and the resource sub-commands."""

from typing import Annotated

import typer
from typer.core import TyperCommand, TyperOption

from . import (
    agent,
    apply,
    bot,
    campaign,
    cart,
    channel,
    console,
    conv,
    coupon,
    customer,
    dashboard,
    db,
    demo,
    fixtures,
    group,
    help_language,
    invite,
    kb,
    metrics,
    order,
    product,
    promotion,
    qa,
    reply,
    route,
    serve,
    shop,
    simulate,
    sla,
    staffing,
    ticket,
    token,
    webhook,
    worker,
)
from .context import ApiOpt, CommandGroup, RootGroup, State, parse_args_in_language
from .usage_reasons import bad_value


def _flag_type(display):
    """typer 0.29 prints ``<bool>`` after plain flags (--json, --help) in help: a flag
    takes no value, so it shows no type."""

    def display_type_rich(self, ctx):
        return None if getattr(self, "is_bool_flag", False) else display(self, ctx)

    return display_type_rich


TyperOption.display_type_rich = _flag_type(TyperOption.display_type_rich)
help_language.install()  # --help in the interface language
# a leaf command's usage errors carry what they are about, to be said in any language
TyperCommand.parse_args = parse_args_in_language(TyperCommand.parse_args)

app = typer.Typer(
    cls=RootGroup,
    name="cstool",
    help="Terminal-first customer service for multi-shop e-commerce.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _lang(value: str | None) -> str | None:
    """``--lang`` / ``$CSTOOL_LANG``: zh or en (zh-CN, en_US ... are taken too)."""
    from cstool import i18n

    if value is None or not value.strip():
        i18n.set_language(None)  # the locale decides
        return None
    lang = i18n.normalize(value)
    if lang is None:
        i18n.set_language(None)  # the refusal itself in $CSTOOL_LANG's or the locale's
        raise bad_value("cli.reason.language", value=repr(value))
    i18n.set_language(lang)
    return lang


def _version(value: bool) -> None:
    if value:
        from cstool import __version__

        typer.echo(f"cstool {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db_path: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="CSTOOL_DB",
            help="The SQLite data file (default: the user data folder), or a PostgreSQL "
            "database: postgresql://USER@HOST/DB.",
            show_envvar=True,
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON output for every read.")] = False,
    api: ApiOpt = None,
    lang: Annotated[
        str | None,
        typer.Option(
            "--lang",
            envvar="CSTOOL_LANG",
            show_envvar=True,
            callback=_lang,
            is_eager=True,
            metavar="zh|en",
            help="Interface language of messages, the console and the dashboard: zh or en "
            "(default: the locale, LC_ALL / LC_MESSAGES / LANG; zh* is Chinese).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Terminal-first customer service for multi-shop e-commerce."""
    st = State(db=db_path, json=json_, api=api)
    ctx.obj = st
    ctx.call_on_close(st.close)


app.command("demo")(demo.demo_cmd)
app.command("console")(console.console_cmd)
app.command("worker")(worker.worker_cmd)
app.command("dashboard")(dashboard.dashboard_cmd)
app.command("serve")(serve.serve_cmd)
conv.app.command("invite")(invite.invite_cmd)
app.command("apply")(apply.apply_cmd)
app.command("export")(apply.export_cmd)
app.command("schema")(apply.schema_cmd)
app.command("simulate")(simulate.simulate_cmd)
for _name, _module in (
    ("shop", shop),
    ("group", group),
    ("agent", agent),
    ("customer", customer),
    ("product", product),
    ("order", order),
    ("coupon", coupon),
    ("promotion", promotion),
    ("route", route),
    ("conv", conv),
    ("fixtures", fixtures),
    ("db", db),
    ("kb", kb),
    ("bot", bot),
    ("reply", reply),
    ("staffing", staffing),
    ("metrics", metrics),
    ("qa", qa),
    ("ticket", ticket),
    ("sla", sla),
    ("campaign", campaign),
    ("cart", cart),
    ("webhook", webhook),
    ("channel", channel),
):
    app.add_typer(_module.app, name=_name, cls=CommandGroup)
app.add_typer(invite.price_app, name="price", cls=CommandGroup)
app.add_typer(token.app, name="token", cls=CommandGroup)


def main() -> None:
    """Console-script entry point."""
    app()
