"""The CLI through CliRunner: exact exit codes, parsed --json, one-line errors, help."""

from __future__ import annotations

import json

import pytest
from typer.main import get_command

from commands.main import app
from cstool.storage.migrations import LATEST, MIGRATIONS


def test_shop_lifecycle(cli):
    r = cli("shop", "create", "lf", "--name", "翎衣女装", "--service-mode", "bot_first",
            "--setting", "response_target_s=120", "--language", "zh,en")
    assert r.exit_code == 0, r.output
    assert r.stderr.strip() == "created shop lf"
    shops = cli.json("shop", "list")
    assert [(s["key"], s["name"], s["languages"]) for s in shops] == [
        ("lf", "翎衣女装", ["zh", "en"])]
    assert shops[0]["settings"]["response_target_s"] == 120
    r = cli("shop", "update", "lf", "--name", "翎衣女装旗舰店")
    assert r.exit_code == 0
    assert cli.json("shop", "show", "lf")["name"] == "翎衣女装旗舰店"
    assert cli("shop", "delete", "lf").exit_code == 0
    assert cli.json("shop", "list") == []


def test_global_json_flag(cli):
    cli("shop", "create", "s", "--name", "店")
    r = cli.runner.invoke(app, ["--db", cli.db, "--json", "shop", "list"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)[0]["key"] == "s"


def test_piped_output_is_plain_tab_separated(cli):
    cli("shop", "create", "s", "--name", "店")
    r = cli("shop", "list")
    assert r.exit_code == 0
    lines = r.stdout.splitlines()
    assert lines[0].split("\t")[:3] == ["key", "name", "mode"]
    assert lines[1].split("\t")[:3] == ["s", "店", "human_first"]
    assert "\x1b[" not in r.stdout


def seed(cli):
    for args in (
        ["shop", "create", "lf", "--name", "翎衣"],
        ["group", "create", "lf-pre", "--shop", "lf", "--name", "售前组", "--kind", "presale"],
        ["agent", "create", "xm", "--name", "小美", "--shop", "lf", "--group", "lf-pre",
         "--skill", "尺码", "--skill", "搭配", "--level", "senior", "--max-chats", "6"],
        ["product", "create", "dress", "--shop", "lf", "--title", "法式连衣裙", "--price", "299.9",
         "--category", "连衣裙", "--attr", "颜色=红,蓝", "--attr", "面料=雪纺"],
        ["coupon", "create", "c20", "--shop", "lf", "--name", "满200减20", "--kind", "amount",
         "--amount", "20", "--threshold", "200"],
        ["customer", "create", "wl", "--name", "王丽",
         "--profile", "lf,level=3,tags=vip|returning,region=浙江杭州,last_agent=xm",
         "--coupon", "c20"],
    ):
        r = cli(*args)
        assert r.exit_code == 0, (args, r.output)


def test_nested_options_build_records(cli):
    seed(cli)
    agent = cli.json("agent", "show", "xm")
    assert agent["skills"] == ["尺码", "搭配"] and agent["max_chats"] == 6
    product = cli.json("product", "show", "dress")
    assert product["attributes"] == {"颜色": ["红", "蓝"], "面料": "雪纺"}
    assert product["price"] == 299.9
    cust = cli.json("customer", "show", "wl")
    assert cust["profiles"] == [{"shop": "lf", "level": 3, "tags": ["vip", "returning"],
                                 "region": "浙江杭州", "last_agent": "xm"}]
    assert cust["coupons"] == [{"coupon": "c20"}]
    assert cust["stats"] == []


def test_order_create_and_customer_stats(cli):
    seed(cli)
    r = cli("order", "create", "o1", "--shop", "lf", "--customer", "wl", "--status", "paid",
            "--created-at", "2026-11-11T00:00:00+08:00", "--paid-at", "2026-11-11T00:02:00+08:00",
            "--item", "dress,quantity=2", "--discount", "20")
    assert r.exit_code == 0, r.output
    order = cli.json("order", "show", "o1")
    assert order["items"] == [{"product": "dress", "quantity": 2, "price": 299.9}]
    assert order["created_at"] == "2026-11-11T00:00:00+08:00"
    stats = cli.json("customer", "show", "wl")["stats"]
    assert stats == [{"shop": "lf", "orders": 1, "paid_orders": 1, "spend": 579.8,
                      "average_order_value": 579.8,
                      "last_order_at": "2026-11-11T00:00:00+08:00"}]


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["shop", "create", "lf", "--name", "again"], 1, "Error: shop 'lf' exists already"),
        (["shop", "show", "nope"], 1, "Error: no shop 'nope'"),
        (["shop", "delete", "lf"], 1, "Error: shop 'lf' is still used by"),
        (["product", "update", "dress", "--price", "-3"], 1,
         "Error: price: must be >= 0 (got -3)"),
        (["product", "update", "dress", "--price", "1.234"], 1,
         "Error: price: amount '1.234' has more than 2 decimals"),
        (["product", "update", "dress"], 2, "Error: nothing to change"),
        (["product", "update", "dress", "--unset", "title"], 2,
         "Error: --unset: title is required"),
        (["agent", "create", "a2", "--name", "A", "--shop", "lf", "--group", "nope"], 1,
         "Error: groups[0]: unknown group 'nope'"),
        (["agent", "create", "Bad Handle", "--name", "A"], 1,
         "Error: handle: 'Bad Handle' is not a valid key"),
        (["agent", "create", "a3", "--name", "A", "--max-chats", "99"], 1,
         "Error: max_chats: must be <= 50 (got 99)"),
        (["shop", "create", "s2", "--name", "x", "--service-mode", "nope"], 2, "Error: "),
        (["shop", "lst"], 2, "Error: No such command 'lst'"),
        (["shop", "list", "--bogus"], 2, "Error: No such option: --bogus"),
        (["shop", "create", "s3", "--name", "长" * 101], 1,
         "Error: name: too long (101 characters, at most 100)"),
        (["shop", "list", "--shop", "lf"], 2, "Error: No such option: --shop"),
        (["order", "create", "o2", "--shop", "lf", "--customer", "wl", "--status", "shipped",
          "--created-at", "2026-11-11T00:00:00+08:00", "--item", "dress"], 1,
         "Error: paid_at: is required for an order with status shipped"),
        (["product", "list", "--shop", "nope"], 1, "Error: no shop 'nope'"),
    ],
)
def test_user_errors_are_one_line(cli, args, code, message):
    seed(cli)
    before = cli("export").stdout
    r = cli(*args)
    assert r.exit_code == code, r.output
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(message), lines[0]
    assert "Traceback" not in r.output
    assert cli("export").stdout == before


def test_db_info_upgrade_backup(cli, tmp_path):
    seed(cli)
    info = cli.json("db", "info")
    assert info["schema_version"] == LATEST and info["journal_mode"] == "wal"
    assert info["tables"]["agents"] == 1 and info["tables"]["events"] >= 6
    # every numbered migration, in order (numbers are reserved per branch: a gap until
    # the branch holding it is merged)
    assert [m["version"] for m in info["migrations"]] == [v for v, _, _ in MIGRATIONS]
    assert cli.json("db", "upgrade") == {"applied": [], "schema_version": LATEST}
    shown = cli("db", "info").stdout.splitlines()
    assert shown[0].split() == ["engine", "SQLite"]
    assert shown[4].split() == ["journal", "mode", "wal"]
    target = tmp_path / "copy.db"
    out = cli.json("db", "backup", str(target))
    assert out["path"] == str(target.resolve())
    r = cli.runner.invoke(app, ["--db", str(target), "--json", "agent", "list"])
    assert [a["handle"] for a in json.loads(r.stdout)] == ["xm"]
    r = cli("db", "backup", str(target))
    assert r.exit_code == 1 and "exists already" in r.stderr


def test_db_env_var_chooses_the_file(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    path = tmp_path / "env.db"
    monkeypatch.setenv("CSTOOL_DB", str(path))
    r = CliRunner().invoke(app, ["shop", "create", "s", "--name", "店"])
    assert r.exit_code == 0
    assert path.exists()


def test_version():
    from typer.testing import CliRunner

    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.startswith("cstool ")


def _all_commands(group, path=()):
    for name, cmd in sorted(group.commands.items()):
        yield (*path, name), cmd
        if hasattr(cmd, "commands"):
            yield from _all_commands(cmd, (*path, name))


COMMANDS = list(_all_commands(get_command(app)))


def test_there_are_many_commands():
    names = {" ".join(p) for p, _ in COMMANDS}
    for expected in ("shop create", "agent list", "customer show", "order update",
                     "coupon delete", "promotion list", "db backup", "fixtures generate",
                     "apply", "export", "schema", "demo"):
        assert expected in names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_command_has_help(path):
    from typer.testing import CliRunner

    cmd = dict(COMMANDS)[path]
    assert (cmd.help or "").strip(), f"{' '.join(path)} has no help text"
    r = CliRunner().invoke(app, [*path, "--help"])
    assert r.exit_code == 0
    assert "Usage:" in r.stdout


def test_setting_and_hours_options_change_only_the_names_given(cli):
    assert cli("shop", "create", "s", "--name", "店", "--setting", "quiet_hours=21:30-08:30",
               "--hours", "mon=09:00-18:00", "--hours", "tue=09:00-18:00").exit_code == 0
    updated = cli.json("shop", "update", "s", "--setting", 'holidays=["2026-10-01"]',
                       "--hours", "tue=closed")
    assert updated["settings"]["quiet_hours"] == "21:30-08:30"
    assert updated["settings"]["holidays"] == ["2026-10-01"]
    assert updated["business_hours"] == {"mon": "09:00-18:00", "tue": "closed"}
    dropped = cli.json("shop", "update", "s", "--setting", "quiet_hours=")
    assert "quiet_hours" not in dropped["settings"] or \
        dropped["settings"]["quiet_hours"] != "21:30-08:30"


def test_a_required_name_cannot_be_blank(cli):
    for args in (["shop", "create", "x1", "--name", ""], ["shop", "create", "x1", "--name", "  "]):
        r = cli(*args)
        assert r.exit_code == 1 and r.stderr.strip() == "Error: name: is empty", r.stderr
    assert cli.json("shop", "list") == []


def test_list_options_split_on_chinese_commas_too(cli):
    assert cli("shop", "create", "s", "--name", "茶").exit_code == 0
    agent = cli.json("agent", "create", "a", "--name", "小雅", "--shop", "s",
                     "--skill", "普洱，绿茶、白茶")
    assert agent["skills"] == ["普洱", "绿茶", "白茶"]
