"""The paper cuts a new user tripped on: one-line usage errors, a folder given for a
file, counted nouns, flags without a type in --help, a streamed day that shows progress."""

from __future__ import annotations

import json

from cstool.plural import count, count_zh


def test_a_missing_choice_argument_is_one_line(cli):
    r = cli("agent", "status", "someone")
    assert r.exit_code == 2
    assert r.stderr == ("Error: Missing argument 'status'. Choose from: online, busy, away, "
                        "offline (see 'cstool agent status --help')\n")


def test_kb_import_of_a_folder_says_it_is_a_folder(cli, tmp_path):
    folder = tmp_path / "faq"
    folder.mkdir()
    cli("fixtures", "load", "demo")
    r = cli("kb", "import", str(folder), "--shop", "lingyi-fashion")
    assert r.exit_code == 1
    assert r.stderr == f"Error: {folder} is a folder: give a .jsonl, .yaml or .csv file\n"


def test_counts_agree_with_their_nouns():
    assert count(1, "group") == "1 group" and count(2, "group") == "2 groups"
    assert count(1, "quick reply") == "1 quick reply"
    assert count(3, "quick reply") == "3 quick replies"
    assert count(0, "SLA policy") == "0 SLA policies"
    assert count(12000, "record") == "12,000 records"
    assert count_zh(1, "客户") == "1 位客户" and count_zh(3, "消息") == "3 条消息"
    assert count_zh(2, "会话") == "2 个会话"


def test_deleting_a_shop_counts_what_holds_it(cli):
    cli("shop", "create", "tea", "--name", "茶")
    cli("group", "create", "tea-pre", "--shop", "tea", "--name", "售前组", "--kind", "presale")
    r = cli("shop", "delete", "tea")
    assert r.exit_code == 1
    assert "still used by 1 group;" in r.stderr
    cli("group", "create", "tea-after", "--shop", "tea", "--name", "售后组", "--kind",
        "aftersale")
    assert "still used by 2 groups;" in cli("shop", "delete", "tea").stderr


def test_help_shows_no_type_on_plain_flags(cli):
    r = cli("conv", "post", "--help")
    assert r.exit_code == 0
    lines = [line for line in r.stdout.splitlines() if "--json" in line or "--help" in line]
    assert len(lines) == 2 and not any("<bool>" in line for line in lines)
    assert "<str>" in r.stdout  # options that take a value keep their type


def test_a_streamed_day_shows_its_progress(cli):
    r = cli("fixtures", "generate", "--shops", "1", "--customers", "5", "--orders", "5",
            "--day", "2026-11-11", "--conversations", "20", "--no-baseline", "--stream",
            "--speed", "200000")
    assert r.exit_code == 0, r.output
    bar = [line for line in r.stderr.splitlines() if "×200000" in line]
    assert bar and "20 conversations" in bar[-1] and "messages" in bar[-1]
    again = cli("fixtures", "generate", "--shops", "1", "--customers", "5", "--orders", "5",
                "--prefix", "q", "--day", "2026-11-12", "--conversations", "20",
                "--no-baseline", "--stream", "--speed", "200000", "--json")
    assert again.exit_code == 0 and "×200000" not in again.stderr
    assert json.loads(again.stdout)["day"]["conversations"] == 20
