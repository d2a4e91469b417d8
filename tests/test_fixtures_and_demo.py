"""Named fixture sets, synthetic generation, the demo command and the load benchmark."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fixture_sets_list(cli):
    sets = cli.json("fixtures", "list")
    assert [s["name"] for s in sets] == ["demo"]


def test_demo_set_is_a_real_chinese_mall(demo_export):
    d = demo_export
    assert len(d["shops"]) >= 3
    assert any("en" in s["languages"] for s in d["shops"])
    assert len([a for a in d["agents"] if a["role"] == "agent"]) >= 15
    kinds = {g["kind"] for g in d["groups"]}
    assert {"presale", "aftersale", "logistics", "vip"} <= kinds
    assert len(d["customers"]) >= 200
    assert len(d["products"]) >= 100
    assert len(d["orders"]) >= 500
    statuses = {o["status"] for o in d["orders"]}
    assert statuses == {"created", "paid", "shipped", "delivered", "refund_requested",
                        "refunded", "cancelled"}
    assert all(o["logistics"] for o in d["orders"] if o["status"] == "delivered")
    assert {p["kind"] for p in d["promotions"]} == {"full_reduction", "discount", "gift"}
    assert {c["kind"] for c in d["coupons"]} == {"amount", "discount"}
    # Chinese first: names and titles are Chinese
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in s["name"]) for s in d["shops"])


def test_loading_demo_twice_changes_nothing(cli):
    first = cli.json("fixtures", "load", "demo")
    assert first["created"] >= 1000 and first["updated"] == 0
    again = cli.json("fixtures", "load", "demo")
    assert again["created"] == 0 and again["updated"] == 0
    assert again["unchanged"] == first["created"]


def test_unknown_fixture_set(cli):
    r = cli("fixtures", "load", "nope")
    assert r.exit_code == 1
    assert r.stderr.strip() == "Error: no fixture set 'nope' (available: demo)"


def test_export_apply_export_is_identical(cli, tmp_path):
    from typer.testing import CliRunner

    from commands.main import app

    cli("fixtures", "load", "demo")
    first = tmp_path / "first.yaml"
    assert cli("export", "-o", str(first)).exit_code == 0
    empty = str(tmp_path / "empty.db")
    runner = CliRunner()
    r = runner.invoke(app, ["--db", empty, "apply", "-f", str(first)])
    assert r.exit_code == 0, r.output
    second = runner.invoke(app, ["--db", empty, "export"]).stdout
    assert second == first.read_text(encoding="utf-8")


def test_one_shops_export_applied_back_changes_nothing_of_the_others(cli, tmp_path):
    cli("fixtures", "load", "demo")
    before = cli("export").stdout
    one = tmp_path / "lf.yaml"
    assert cli("export", "--shop", "lingyi-fashion", "-o", str(one)).exit_code == 0
    again = cli.json("apply", "-f", str(one))
    assert (again["created"], again["updated"], again["changes"]) == (0, 0, [])
    assert again["unchanged"] > 400
    assert cli("export").stdout == before
    # a customer record speaks for the shops it names (and the document's shops)
    customers = json.loads(cli("export", "--format", "json").stdout)["customers"]
    record = next(c for c in customers if len(c["profiles"]) > 1
                  and any(p["shop"] == "lingyi-fashion" for p in c["profiles"]))
    others = [p for p in record["profiles"] if p["shop"] != "lingyi-fashion"]
    mine = [{**p, "level": 5} for p in record["profiles"] if p["shop"] == "lingyi-fashion"]
    (tmp_path / "one.json").write_text(json.dumps(
        {"customers": [{**record, "profiles": mine, "coupons": []}]}, ensure_ascii=False))
    r = cli("apply", "-f", str(tmp_path / "one.json"))
    assert r.exit_code == 0, r.output
    after = cli.json("customer", "show", record["key"])["profiles"]
    assert [p["shop"] for p in after if p["shop"] != "lingyi-fashion"] == \
        [p["shop"] for p in others]
    assert [p["level"] for p in after if p["shop"] == "lingyi-fashion"] == [5]


def test_export_json_and_stdin_apply(cli, tmp_path):
    cli("shop", "create", "s", "--name", "店")
    text = cli("export", "--format", "json").stdout
    assert json.loads(text) == {"shops": [json.loads(text)["shops"][0]]}
    other = tmp_path / "o.db"
    from typer.testing import CliRunner

    from commands.main import app

    r = CliRunner().invoke(app, ["--db", str(other), "--json", "apply", "-f", "-"], input=text)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["created"] == 1


def test_schema_covers_every_kind(cli):
    r = cli("schema")
    schema = json.loads(r.stdout)
    assert set(schema["properties"]) == {"shops", "groups", "agents", "routing_rules",
                                         "sla_policies", "products", "coupons", "promotions",
                                         "customers", "orders", "knowledge_entries",
                                         "quick_replies", "cart_items", "campaigns",
                                         "webhooks", "channels", "macros"}
    order = schema["properties"]["orders"]["items"]
    assert order["additionalProperties"] is False
    assert set(order["required"]) == {"key", "shop", "customer", "status", "created_at", "items"}
    assert order["properties"]["status"]["enum"][0] == "created"
    r = cli("schema", "--kind", "nope")
    assert r.exit_code == 2


def test_generate_is_deterministic(tmp_path):
    from typer.testing import CliRunner

    from commands.main import app

    runner = CliRunner()
    exports = []
    for name in ("a.db", "b.db"):
        db = str(tmp_path / name)
        r = runner.invoke(app, ["--db", db, "--json", "fixtures", "generate", "--shops", "2",
                                "--customers", "60", "--orders", "120", "--seed", "5"])
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout) == {"prefix": "g5", "shops": 2, "customers": 60,
                                        "orders": 120}
        exports.append(runner.invoke(app, ["--db", db, "export"]).stdout)
    assert exports[0] == exports[1]
    r = runner.invoke(app, ["--db", str(tmp_path / "a.db"), "fixtures", "generate",
                            "--seed", "5"])
    assert r.exit_code == 1 and "exists already" in r.stderr
    r = runner.invoke(app, ["--db", str(tmp_path / "a.db"), "--json", "order", "list",
                            "--shop", "g5-shop-001"])
    orders = json.loads(r.stdout)
    assert orders and all(o["shop"] == "g5-shop-001" for o in orders)


def test_demo_loads_once_then_reuses(cli):
    r = cli("demo")
    assert r.exit_code == 0, r.output
    assert "loading the demo mall" in r.stderr
    assert "翎衣女装旗舰店" in r.stdout
    r = cli("demo")
    assert r.exit_code == 0
    assert "loading" not in r.stderr


def test_bench_load_quick_runs():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_load.py"), "--quick"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "ratio (ours/raw):" in out.stdout
    assert "rows loaded:           21,750" in out.stdout
