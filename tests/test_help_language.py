"""``--help`` in one language at a time: every help text of every command has a Chinese
translation (a test fails when one lacks it, or when the catalog keeps one no command
has); in Chinese no word of typer's English is left; in English the help is typer's
drawing, wrapped at the terminal's width."""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

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
def test_help_in_english_is_typers_drawing(monkeypatch, path):
    monkeypatch.setenv("CSTOOL_LANG", "en")
    monkeypatch.setenv("COLUMNS", "100")
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0
    assert "Usage: cstool" in result.stdout and "Show this message and exit." in result.stdout


GROUPS = [[], ["conv"], ["campaign"], ["kb"], ["metrics"], ["db"], ["webhook"], ["channel"]]


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "cstool")
def test_english_help_wraps_at_the_width_not_at_the_sources_line_ends(monkeypatch, path,
                                                                       columns):
    """A command's help in a group's list is wrapped by the terminal's width: a line that
    continues on the next is full (the next word would not have fitted), never cut where
    the docstring's source line ended ("... paged" / "with --limit and --after.")."""
    monkeypatch.setenv("CSTOOL_LANG", "en")
    monkeypatch.setenv("COLUMNS", str(columns))
    out = CliRunner().invoke(app, [*path, "--help"]).stdout
    panel = out[out.index("╭─ Commands"):]
    panel = panel[:panel.index("╰")]
    rows = [line[1:-1] for line in panel.splitlines()
            if line.startswith("│") and line.endswith("│")]
    entries = [r for r in rows if re.match(r" [a-z][\w-]* +\S", r)]
    assert entries, out
    start = max(re.match(r" [a-z][\w-]* +", r).end() for r in entries)
    width = len(rows[0]) - 1
    cut = []
    for line, following in zip(rows, rows[1:], strict=False):
        here, nxt = line[start:].rstrip(), following[start:].strip()
        continues = following[:start].strip() == "" and nxt and here
        if continues and len(here) + 1 + len(nxt.split()[0]) <= width - start:
            cut.append((line.strip(), nxt))
    assert not cut, cut


def test_help_in_chinese_leaves_the_commands_as_they_were(monkeypatch):
    """The translation is drawn, not stored: English help after a Chinese one is typer's."""
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("CSTOOL_LANG", "en")
    before = CliRunner().invoke(app, ["shop", "--help"]).stdout
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    assert "店铺" in CliRunner().invoke(app, ["shop", "--help"]).stdout
    monkeypatch.setenv("CSTOOL_LANG", "en")
    assert CliRunner().invoke(app, ["shop", "--help"]).stdout == before
