"""Broken fixture files: each gives one clear line naming file, line and field,
exits 1, and changes nothing (all or nothing)."""

from __future__ import annotations

import pytest

BASE = """\
shops:
  - key: lf
    name: 翎衣女装
groups:
  - key: lf-pre
    shop: lf
    name: 售前组
products:
  - key: dress
    shop: lf
    title: 连衣裙
    price: 299
customers:
  - key: wl
    name: 王丽
    profiles:
      - shop: lf
"""

GOOD_FIRST = """\
shops:
  - key: mb
    name: 萌宝母婴
"""

CASES = {
    "bad_yaml": ("shops:\n  - key: x\n    name: [unclosed\n", "bad_yaml.yaml:4: not valid YAML"),
    "unknown_ref": (GOOD_FIRST + "products:\n  - key: p\n    shop: nope\n    title: t\n"
                    "    price: 1\n", "unknown_ref.yaml:6: products[0].shop: unknown shop 'nope'"),
    "wrong_type": (GOOD_FIRST + "agents:\n  - handle: a\n    name: A\n    max_chats: five\n",
                   "wrong_type.yaml:7: agents[0].max_chats: expected a whole number, got text"),
    "duplicate_key": (GOOD_FIRST + "  - key: mb\n    name: again\n",
                      "duplicate_key.yaml:4: shops[1].key: duplicate key 'mb' (also shops[0])"),
    "missing_required": (GOOD_FIRST + "products:\n  - key: p\n    shop: mb\n    title: t\n",
                         "missing_required.yaml:5: products[0].price: is required"),
    "negative_price": (GOOD_FIRST + "products:\n  - key: p\n    shop: mb\n    title: t\n"
                       "    price: -5\n",
                       "negative_price.yaml:8: products[0].price: must be >= 0 (got -5)"),
    "unknown_status": (GOOD_FIRST + "orders:\n  - key: o\n    shop: lf\n    customer: wl\n"
                       "    status: lost\n    created_at: '2026-11-11T00:00:00+08:00'\n"
                       "    items: [{product: dress}]\n",
                       "unknown_status.yaml:8: orders[0].status: 'lost' is not one of"),
    "oversized_text": (GOOD_FIRST + "products:\n  - key: p\n    shop: mb\n    title: "
                       + "长" * 201 + "\n    price: 1\n",
                       "oversized_text.yaml:7: products[0].title: too long (201 characters"),
    "unknown_field": (GOOD_FIRST + "  - key: s2\n    name: x\n    colour: red\n",
                      "unknown_field.yaml:6: shops[1].colour: unknown field"),
    "unknown_kind": ("shopz:\n  - key: a\n", "unknown_kind.yaml:1: shopz: unknown kind"),
    "duplicate_field": ("shops:\n  - key: a\n    name: A\n    name: B\n",
                        "duplicate_field.yaml:4: not valid YAML/JSON: duplicate field 'name'"),
    "top_level_list": ("- key: a\n", "top_level_list.yaml: expected a mapping of kinds"),
    "bad_time": (GOOD_FIRST + "orders:\n  - key: o\n    shop: lf\n    customer: wl\n"
                 "    status: created\n    created_at: yesterday\n    items: [{product: dress}]\n",
                 "bad_time.yaml:9: orders[0].created_at: expected a time like"),
    "discount_too_big": (GOOD_FIRST + "orders:\n  - key: o\n    shop: lf\n    customer: wl\n"
                         "    status: created\n    created_at: '2026-11-11T00:00:00+08:00'\n"
                         "    items: [{product: dress, quantity: 1}]\n    discount: 500\n",
                         "discount_too_big.yaml:11: orders[0].discount: discount 500 exceeds"),
    "three_decimals": (GOOD_FIRST + "products:\n  - key: p\n    shop: mb\n    title: t\n"
                       "    price: 1.999\n", "three_decimals.yaml:8: products[0].price: amount"),
    "nested_item_ref": (GOOD_FIRST + "orders:\n  - key: o\n    shop: lf\n    customer: wl\n"
                        "    status: created\n    created_at: '2026-11-11T00:00:00+08:00'\n"
                        "    items:\n      - product: dress\n      - product: ghost\n",
                        "nested_item_ref.yaml:12: orders[0].items[1].product: unknown product"),
    "cross_shop_group": (GOOD_FIRST + "agents:\n  - handle: a\n    name: A\n    shops: [mb]\n"
                         "    groups: [lf-pre]\n",
                         "cross_shop_group.yaml:8: agents[0].groups[0]: group 'lf-pre' belongs"),
    "bad_slug": (GOOD_FIRST + "  - key: Not A Slug\n    name: x\n",
                 "bad_slug.yaml:4: shops[1].key: 'Not A Slug' is not a valid key"),
    "paid_before_created": (GOOD_FIRST + "orders:\n  - key: o\n    shop: lf\n    customer: wl\n"
                            "    status: paid\n    created_at: '2026-11-11T10:00:00+08:00'\n"
                            "    paid_at: '2026-11-11T09:00:00+08:00'\n"
                            "    items: [{product: dress}]\n",
                            "paid_before_created.yaml:10: orders[0].paid_at: is before created_at"),
    "bad_setting": (GOOD_FIRST + "  - key: s3\n    name: x\n"
                    "    settings: {response_target_s: -1}\n",
                    "bad_setting.yaml:6: shops[1].settings.response_target_s: expected a positive"),
    "huge_number": (GOOD_FIRST + "products:\n  - key: p\n    shop: lf\n    title: t\n"
                    "    price: 1\n    stock: 99999999999999999999999\n",
                    "huge_number.yaml:9: products[0].stock: too large"),
    "yaml_off_key": (GOOD_FIRST + "promotions:\n  - key: m\n    shop: lf\n    name: 满减\n"
                     "    kind: full_reduction\n    tiers: [{threshold: 300, off: 50}]\n",
                     "quote the name, e.g. 'off'"),
    "settings_as_list": (GOOD_FIRST + "  - key: s3\n    name: x\n    settings: [1, 2]\n",
                         "shops[1].settings: expected a mapping, got a list"),
}


@pytest.fixture
def seeded(cli, tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text(BASE, encoding="utf-8")
    r = cli("apply", "-f", str(base))
    assert r.exit_code == 0, r.output
    return cli


def test_there_are_many_cases():
    assert len(CASES) >= 10


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_file_is_refused_and_changes_nothing(seeded, tmp_path, name):
    text, expected = CASES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    before_export = seeded("export").stdout
    before_counts = seeded.json("db", "info")["tables"]
    r = seeded("apply", "-f", str(path))
    assert r.exit_code == 1, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert expected in lines[0], lines[0]
    assert r.stdout == ""
    assert seeded("export").stdout == before_export
    assert seeded.json("db", "info")["tables"] == before_counts


def test_invalid_json_file(seeded, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"shops": [{"key": "a", "name": "A"},]}', encoding="utf-8")
    r = seeded("apply", "-f", str(path))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {path}:1: not valid YAML/JSON")


def test_not_utf8(seeded, tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes("shops:\n  - key: a\n    name: 店铺\n".encode("gbk"))
    r = seeded("apply", "-f", str(path))
    assert r.exit_code == 1 and "not UTF-8 text" in r.stderr


def test_missing_file_and_missing_option(seeded, tmp_path):
    r = seeded("apply", "-f", str(tmp_path / "none.yaml"))
    assert r.exit_code == 1 and "no such file or folder" in r.stderr
    r = seeded("apply")
    assert r.exit_code == 2 and r.stderr.startswith("Error: Missing option")


def test_error_in_second_file_of_a_folder_names_that_file(seeded, tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "a.yaml").write_text(GOOD_FIRST, encoding="utf-8")
    (folder / "b.yaml").write_text("products:\n  - key: p\n    shop: mb\n    title: t\n"
                                   "    price: -1\n", encoding="utf-8")
    r = seeded("apply", "-f", str(folder))
    assert r.exit_code == 1
    assert f"{folder / 'b.yaml'}:5: products[0].price: must be >= 0" in r.stderr
    assert [s["key"] for s in seeded.json("shop", "list")] == ["lf"]


def test_export_to_a_missing_folder_is_one_line(seeded, tmp_path):
    r = seeded("export", "-o", str(tmp_path / "nodir" / "x.yaml"))
    assert r.exit_code == 1 and r.stderr.strip().endswith("No such file or directory")
    assert len(r.stderr.splitlines()) == 1


def test_an_empty_file_is_refused(seeded, tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("", encoding="utf-8")
    r = seeded("apply", "-f", str(path))
    assert r.exit_code == 1 and r.stderr.strip() == f"Error: {path}: no records to apply"
    r = seeded("apply", "-f", "-", input="")
    assert r.exit_code == 1 and "no records to apply" in r.stderr
