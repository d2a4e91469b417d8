"""`cstool conv queue` in pages: --limit and --after as the Backend's queue takes them,
with exact exit codes and the JSON of each page."""

from __future__ import annotations

import pytest

from cstool.backend.local import LocalBackend


@pytest.fixture
def waiting(db_path, clock):
    """Five customers wait in shop s (nobody is online to serve them)."""
    b = LocalBackend(db_path, clock=clock)
    b.apply({"shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"},
                       {"key": "t", "name": "另一家", "service_mode": "human_first"}],
             "agents": [{"handle": "a", "name": "小美", "shops": ["s", "t"],
                         "status": "offline"}]})
    for i in range(1, 6):
        b.post_message("s", f"c{i}", "在吗")
        clock.advance(10)
    b.post_message("t", "c9", "在吗")
    ids = [c["id"] for c in b.queue("s")]
    other = b.queue("t")[0]["id"]
    b.close()
    assert len(ids) == 5
    return ids, other


def test_pages_follow_each_other_to_the_end(cli, waiting):
    ids, _ = waiting
    first = cli.json("conv", "queue", "--shop", "s", "--limit", "2")
    assert [c["id"] for c in first] == ids[:2]
    assert [c["queue_position"] for c in first] == [1, 2]
    second = cli.json("conv", "queue", "--shop", "s", "--limit", "2", "--after", str(ids[1]))
    assert [c["id"] for c in second] == ids[2:4]
    assert [c["queue_position"] for c in second] == [3, 4]
    last = cli.json("conv", "queue", "--shop", "s", "--limit", "2", "--after", str(ids[3]))
    assert [c["id"] for c in last] == ids[4:]
    assert cli.json("conv", "queue", "--shop", "s", "--after", str(ids[4])) == []
    assert [c["id"] for c in cli.json("conv", "queue", "--shop", "s")] == ids


def test_a_full_page_says_how_to_get_the_next_one(cli, waiting, monkeypatch):
    ids, _ = waiting
    result = cli("conv", "queue", "--shop", "s", "--limit", "2")
    assert result.exit_code == 0
    assert result.stderr == f"more are waiting: --after {ids[1]} shows the next page\n"
    assert len(result.stdout.splitlines()) == 3  # the header and two chats (TSV)
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    result = cli("conv", "queue", "--shop", "s", "--limit", "2")
    assert result.stderr == f"后面还有人在排队：用 --after {ids[1]} 看下一页\n"
    result = cli("conv", "queue", "--shop", "s", "--limit", "5")
    assert result.exit_code == 0 and "--after" not in result.stderr  # nothing more to say


@pytest.mark.parametrize("args,code,stderr", [
    (["--limit", "0"], 2, "Error: Invalid value for '--limit': Input should be greater than "
                          "or equal to 1 (see 'cstool conv queue --help')\n"),
    (["--limit", "x"], 2, None),
    (["--after", "x"], 2, None),
    (["--after", "999999"], 1, "Error: no conversation 999999 in shop 's'\n"),
])
def test_bad_pages_are_refused(cli, waiting, args, code, stderr):
    result = cli("conv", "queue", "--shop", "s", *args, "--json")
    assert result.exit_code == code and result.stdout == ""
    assert result.stderr.count("\n") == 1
    if stderr is not None:
        assert result.stderr == stderr


def test_a_chat_of_another_shop_is_no_cursor(cli, waiting):
    """--after names a chat of this shop's queue; another shop's chat is not found here."""
    _, other = waiting
    result = cli("conv", "queue", "--shop", "s", "--after", str(other), "--json")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == f"Error: no conversation {other} in shop 's'\n"
