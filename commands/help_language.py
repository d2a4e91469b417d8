"""``--help`` in the interface language.

The help texts are written in English in the code (docstrings, ``help=`` of options), so
the English help is typer's own, byte for byte. In Chinese they are translated when the
help is drawn: each text is looked up, by its English words (paragraphs with their
spaces collapsed, :func:`help_key`), in the help catalog
``cstool/i18n/locale/zh_CN/LC_MESSAGES/cstool-help.po`` (msgid = the English text, as
gettext does it); typer's own words (Usage, Options, [default: ...], [required], ...)
come from the message catalogs. ``tests/test_help_language.py`` fails when a help text
of any command has no Chinese translation.
"""

from __future__ import annotations

import inspect
import re
from contextlib import contextmanager
from functools import cache
from typing import Any

from cstool.i18n import CATALOG_DIRS, LOCALE_DIR, language, t
from cstool.i18n.po import read_po

HELP_DOMAIN = "cstool-help"

# typer's words in the help (rich_utils' constants) → catalog ids
_TYPER_WORDS = {
    "ARGUMENTS_PANEL_TITLE": "cli.help.arguments",
    "OPTIONS_PANEL_TITLE": "cli.help.options",
    "COMMANDS_PANEL_TITLE": "cli.help.commands",
    "DEFAULT_STRING": "cli.help.default",
    "ENVVAR_STRING": "cli.help.envvar",
    "REQUIRED_LONG_STRING": "cli.help.required",
    "DEPRECATED_STRING": "cli.help.deprecated",
}
# the pieces of a usage line that are words, not names (click's)
_USAGE_PIECES = {"[OPTIONS]": "cli.help.usage_options",
                 "COMMAND [ARGS]...": "cli.help.usage_command"}


def help_catalog_path() -> Any:
    """The ``.po`` file of the Chinese help texts."""
    return LOCALE_DIR / CATALOG_DIRS["zh"] / "LC_MESSAGES" / f"{HELP_DOMAIN}.po"


@cache
def help_catalog() -> dict[str, str]:
    """English help text (its :func:`help_key`) → its Chinese translation."""
    entries = read_po(help_catalog_path().read_text(encoding="utf-8"))
    entries.pop("", None)
    return entries


def help_key(text: str) -> str:
    """A help text as the catalog knows it: dedented, cut at ``\\f``, each paragraph on
    one line with single spaces, paragraphs apart by a blank line."""
    text = inspect.cleandoc(text).partition("\f")[0]
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())


def translate_help(text: str | None) -> str | None:
    """``text`` in Chinese when the catalog has it, else as it is."""
    if not text:
        return text
    return help_catalog().get(help_key(text), text)


@contextmanager
def _swapped(pairs: list[tuple[Any, str, Any]]):
    """Set each ``(object, attribute, value)`` for the duration, then put back what was."""
    before = [(obj, name, obj.__dict__.get(name, _ABSENT)) for obj, name, _ in pairs]
    try:
        for obj, name, value in pairs:
            setattr(obj, name, value)
        yield
    finally:
        for obj, name, old in reversed(before):
            if old is _ABSENT:
                try:
                    delattr(obj, name)
                except AttributeError:  # a class attribute shadowed by nothing
                    pass
            else:
                setattr(obj, name, old)


_ABSENT = object()


def _translated_usage(obj: Any) -> Any:
    """``obj.format_usage`` with click's prefix and generic pieces in the language."""

    def format_usage(ctx: Any, formatter: Any) -> None:
        pieces = [t(_USAGE_PIECES[p]) if p in _USAGE_PIECES else p
                  for p in obj.collect_usage_pieces(ctx)]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=t("cli.help.usage"))

    return format_usage


def joined_help(text: str | None) -> str | None:
    """``text`` with each paragraph on one line (:func:`help_key`), so that the help is
    wrapped at the terminal's width, not at the source's line ends (typer's rich mode
    keeps a docstring's line breaks: "... paged" / "with --limit" in a 40-column cell)."""
    if not text:
        return text
    return help_key(text)


def _pairs(obj: Any, ctx: Any) -> list[tuple[Any, str, Any]]:
    """What to swap to draw the help of ``obj`` in the interface language: in Chinese
    typer's words, the usage line and the texts (translated); in English the texts with
    their paragraphs joined."""
    from typer import rich_utils

    if language() == "en":
        return _text_pairs(obj, ctx, joined_help)
    pairs: list[tuple[Any, str, Any]] = [(rich_utils, name, t(msgid))
                                         for name, msgid in _TYPER_WORDS.items()]
    pairs.append((obj, "format_usage", _translated_usage(obj)))
    return pairs + _text_pairs(obj, ctx, translate_help)


def _text_pairs(obj: Any, ctx: Any, text: Any) -> list[tuple[Any, str, Any]]:
    """``(target, attribute, text(value))`` for the help texts drawn in ``obj``'s help:
    its own, its parameters' and its subcommands'."""
    pairs: list[tuple[Any, str, Any]] = []
    for target in [obj, *[p for p in obj.get_params(ctx)]]:
        for name in ("help", "short_help"):
            if getattr(target, name, None):
                pairs.append((target, name, text(getattr(target, name))))
    if hasattr(obj, "list_commands"):
        for name in obj.list_commands(ctx):
            sub = obj.get_command(ctx, name)
            for attr in ("help", "short_help"):
                if sub is not None and getattr(sub, attr, None):
                    pairs.append((sub, attr, text(getattr(sub, attr))))
    if getattr(obj, "epilog", None):
        pairs.append((obj, "epilog", text(obj.epilog)))
    return pairs


_original: Any = None  # typer's rich_format_help, kept by _install_rich_help


def rich_format_help(*, obj: Any, ctx: Any, markup_mode: Any) -> None:
    """typer's help, drawn in the interface language (in English typer's own drawing of
    the texts with their paragraphs joined)."""
    with _swapped(_pairs(obj, ctx)):
        return _original(obj=obj, ctx=ctx, markup_mode=markup_mode)


_TYPE_LABEL = re.compile(r"<(list\[)?(str|int|float|path|file|dir|datetime|bool|Decimal)"
                         r"( range)?(\])?>")


def type_label(label: str | None) -> str | None:
    """A parameter's type as the help shows it (``<int range>``, ``<list[str]>``) in the
    interface language; choices and formats stay as they are."""
    if not label or language() == "en":
        return label
    match = _TYPE_LABEL.fullmatch(label)
    if match is None or bool(match.group(1)) != bool(match.group(4)):
        return label
    name = t(f"cli.help.type.{match.group(2).lower()}")
    return "<" + (t("cli.help.type.list_of", type=name) if match.group(1) else name) + ">"


def _typed(display: Any) -> Any:
    """A ``display_type_rich`` whose type label is in the interface language."""

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        return type_label(display(self, ctx))

    return display_type_rich


def _install_rich_help() -> None:
    """Put :func:`rich_format_help` in typer's ``rich_utils`` (typer calls it by its
    module attribute). Done at the first help drawn: importing ``rich_utils`` (rich's
    markdown, tables, tracebacks) costs a quarter of a second that a command which
    prints no help should not pay."""
    global _original
    from typer import rich_utils

    if rich_utils.rich_format_help is not rich_format_help:
        _original = rich_utils.rich_format_help
        rich_utils.rich_format_help = rich_format_help


def _helping(format_help: Any) -> Any:
    """A ``format_help`` that installs :func:`rich_format_help` first."""

    def wrapped(self: Any, ctx: Any, formatter: Any) -> None:
        _install_rich_help()
        return format_help(self, ctx, formatter)

    return wrapped


def install() -> None:
    """Draw every ``--help`` through :func:`rich_format_help` (installed in typer's
    ``rich_utils`` at the first help drawn), with the parameters' types in the interface
    language."""
    from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

    for cls in (TyperCommand, TyperGroup):
        if not getattr(cls.format_help, "_cstool_help", False):
            cls.format_help = _helping(cls.format_help)
            cls.format_help._cstool_help = True
    for cls in (TyperOption, TyperArgument):
        cls.display_type_rich = _typed(cls.display_type_rich)
