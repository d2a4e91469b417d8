"""``--help`` in one language at a time: every help text of every command has a Chinese
translation (a test fails when one lacks it, or when the catalog keeps one no command
has); in Chinese no word of typer's English is left; in English the help is typer's
own, byte for byte."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from commands import help_language
from commands.help_language import help_catalog, help_key
from commands.main import app

ROOT = typer.main.get_command(app)


def all_commands():
    """(path, command, context) of every command and group, depth first."""
    out = []

    def walk(cmd, ctx, path):
        out.append((path, cmd, ctx))
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                walk(sub, typer.Context(sub, parent=ctx, info_name=name), [*path, name])

    walk(ROOT, typer.Context(ROOT, info_name="cstool"), [])
    return out


def help_texts() -> dict[str, str]:
    """Every help text (its catalog key) → where it is."""
    found: dict[str, str] = {}
    for path, cmd, ctx in all_commands():
        where = " ".join(["cstool", *path])
        for attr in ("help", "short_help", "epilog"):
            if getattr(cmd, attr, None):
                found.setdefault(help_key(getattr(cmd, attr)), where)
        for param in cmd.get_params(ctx):
            if getattr(param, "help", None):
                found.setdefault(help_key(param.help), f"{where} {param.name}")
    return found


def test_every_help_text_has_a_chinese_translation():
    catalog = help_catalog()
    missing = {key: where for key, where in help_texts().items()
               if not catalog.get(key, "").strip()}
    assert missing == {}, "help texts without a translation in cstool-help.po"


def test_the_help_catalog_keeps_no_text_that_no_command_has():
    assert set(help_catalog()) - set(help_texts()) == set()


def test_a_translation_keeps_the_option_names_it_mentions():
    for english, chinese in help_catalog().items():
        for option in re.findall(r"(?<![\w-])--[a-z][a-z-]+", english):
            assert option in chinese, (english, chinese)


SAMPLES = [[], ["shop"], ["shop", "create"], ["conv", "list"], ["simulate"],
           ["staffing", "plan"], ["dashboard"], ["token", "create"], ["route", "add"]]
TYPER_WORDS = ("Usage", "Options", "Arguments", "Commands", "Show this message",
               "[default", "[required]", "env var")


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: " ".join(p) or "cstool")
def test_help_in_chinese_has_no_english_of_ours_or_typers(monkeypatch, path):
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    monkeypatch.setenv("COLUMNS", "100")
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "用法：cstool" in out
    for word in TYPER_WORDS:
        assert word not in out, (word, out)
    # the help's prose is Chinese: no run of three English words (names and values,
    # --options, metavars and <types> aside)
    out = out.replace("cstool " + " ".join(path), "cstool")
    prose = re.sub(r"--?[\w-]+|<[^>]*>|\{[^}]*\}|\[[^\]]*\]|\$?[A-Z_]{2,}|[\w.:/-]*[_./:][\w.:/-]*",
                   " ", out)
    assert not re.search(r"\b[a-z]{2,} [a-z]{2,} [a-z]{2,}\b", prose, re.I), out


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: " ".join(p) or "cstool")
def test_help_in_english_is_typers_own(monkeypatch, path):
    monkeypatch.setenv("CSTOOL_LANG", "en")
    monkeypatch.setenv("COLUMNS", "100")
    ours = CliRunner().invoke(app, [*path, "--help"])
    monkeypatch.setattr(typer.rich_utils, "rich_format_help", help_language._original)
    theirs = CliRunner().invoke(app, [*path, "--help"])
    assert ours.exit_code == theirs.exit_code == 0
    assert ours.stdout == theirs.stdout and "Usage: cstool" in ours.stdout


def test_help_in_chinese_leaves_the_commands_as_they_were(monkeypatch):
    """The translation is drawn, not stored: English help after a Chinese one is typer's."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("CSTOOL_LANG", "en")
    before = CliRunner().invoke(app, ["shop", "--help"]).stdout
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    assert "店铺" in CliRunner().invoke(app, ["shop", "--help"]).stdout
    monkeypatch.setenv("CSTOOL_LANG", "en")
    assert CliRunner().invoke(app, ["shop", "--help"]).stdout == before
