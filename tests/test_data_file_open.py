"""A mistyped --db: reads refuse a missing file and create nothing; commands that create
data make the file and say so once."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from commands.main import app

MISSING = "no data file at {}; `cstool db init` or `apply` creates one"


def run(*args: str):
    return CliRunner().invoke(app, list(args))


def test_a_read_on_a_missing_file_is_one_line_and_creates_nothing(tmp_path):
    path = tmp_path / "nope" / "sub" / "m.db"
    for args in (("shop", "list"), ("db", "info"), ("conv", "list"), ("db", "upgrade"),
                 ("customer", "show", "c1"), ("shop", "update", "x", "--name", "y")):
        r = run("--db", str(path), *args)
        assert r.exit_code == 1, (args, r.output)
        assert r.stderr == f"Error: {MISSING.format(path)}\n"
        assert r.stdout == ""
    assert list(tmp_path.iterdir()) == []  # no folder either


def test_the_missing_file_error_carries_its_code(tmp_path):
    from cstool.backend.local import LocalBackend
    from cstool.errors import NoDataFile

    try:
        LocalBackend(tmp_path / "x.db", create=False)
    except NoDataFile as e:
        assert e.code == "no_data_file" and e.exit_code == 1
    else:
        raise AssertionError("a missing file was opened")
    assert not (tmp_path / "x.db").exists()


def test_db_init_creates_the_file_and_says_so_once(tmp_path):
    path = tmp_path / "new" / "m.db"
    r = run("--db", str(path), "db", "init")
    assert r.exit_code == 0, r.output
    assert r.stderr == f"created data file {path}\n"
    assert path.exists()
    again = run("--db", str(path), "db", "init")
    assert again.exit_code == 0
    assert "created" not in again.stderr and "is there already" in again.stderr
    r = run("--db", str(path), "shop", "list", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout) == []


def test_creating_commands_make_the_file_and_say_so(tmp_path):
    path = tmp_path / "a" / "m.db"
    r = run("--db", str(path), "shop", "create", "tea", "--name", "茶语")
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines() == [f"created data file {path}", "created shop tea"]
    r = run("--db", str(path), "shop", "create", "tea2", "--name", "茶语二")
    assert r.stderr.splitlines() == ["created shop tea2"]  # once: the file is there now
    doc = tmp_path / "mall.json"
    doc.write_text(json.dumps({"shops": [{"key": "s", "name": "店"}]}), encoding="utf-8")
    other = tmp_path / "b.db"
    r = run("--db", str(other), "apply", "-f", str(doc))
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines()[0] == f"created data file {other}"
