"""The interface languages: complete catalogs, the language chosen, errors by their code
(CLI in both languages with exact exit codes; the server's JSON keeps code and English
message and adds the key; a remote backend gets the key back)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from commands.main import app
from cstool import i18n
from cstool.errors import CstoolError, InvalidInput
from cstool.i18n.po import PoError, compile_mo, read_po
from cstool.resources import AGENT_STATUSES, CLASSIFICATIONS, KINDS, ORDER_STATUSES
from cstool.services.tickets import TICKET_TYPES
from tests.server_support import serve
from tui.console import ACTIONS, ConsoleApp
from tui.dashboard import SORTS, TILE_NAMES, DashboardApp

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for d in ("cstool", "commands", "tui") for p in (ROOT / d).rglob("*.py")]


def catalog(lang: str) -> dict[str, str]:
    entries = read_po(i18n.catalog_path(lang).read_text(encoding="utf-8"))
    entries.pop("", None)
    return entries


def error_classes() -> list[type[CstoolError]]:
    import cstool.auth  # noqa: F401  (Unauthorized, Forbidden)
    import cstool.routing.conditions  # noqa: F401  (RuleError)
    import cstool.validation  # noqa: F401  (FieldError)

    out, todo = [], [CstoolError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return out


def used_ids() -> dict[str, str]:
    """Every catalog id the code names literally: ``t("id")`` calls, ``key="..."`` of an
    error (as ``err.<key>``), with where it is used."""
    found: dict[str, str] = {}
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name == "t" and node.args and isinstance(node.args[0], ast.Constant):
                found[node.args[0].value] = f"{path.relative_to(ROOT)}:{node.lineno}"
            for kw in node.keywords:
                if kw.arg == "key" and isinstance(kw.value, ast.Constant) \
                        and isinstance(kw.value.value, str) and name[:1].isupper():
                    found[f"err.{kw.value.value}"] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def families() -> list[str]:
    """Ids the code builds from data: keys and help of every binding, enum values, tiles,
    the categories of every error class."""
    ids = [f"key.{a[0]}" for a in ACTIONS] + [f"help.{a[0]}" for a in ACTIONS]
    ids += [label for a in ACTIONS for label in (a[2], a[3])]
    for node in (ConsoleApp, DashboardApp):
        ids += [b.description for b in node.BINDINGS if b.description.startswith("key.")]
    ids += [f"val.status.{s}" for s in AGENT_STATUSES]
    ids += [f"val.classification.{c}" for c in CLASSIFICATIONS]
    ids += [f"val.order_status.{s}" for s in ORDER_STATUSES]
    ids += [f"val.ticket_type.{k}" for k in TICKET_TYPES]
    ids += [f"val.kind.{k.singular}" for k in KINDS.values()]
    ids += [f"val.sender.{s}" for s in ("customer", "agent", "bot", "system")]
    ids += [f"dash.tile.{n}{s}" for n in TILE_NAMES for s in ("", ".short")]
    ids += [column for _, column in SORTS]
    ids += [f"console.status_pick.{s}" for s in AGENT_STATUSES]
    ids += [f"err.{cls.code}" for cls in error_classes()]
    return ids


# -- the catalogs ---------------------------------------------------------------------------
def test_both_catalogs_translate_the_same_ids_with_the_same_fields():
    zh, en = catalog("zh"), catalog("en")
    assert sorted(set(zh) ^ set(en)) == [], "an id is in one language only"
    for msgid in en:
        assert zh[msgid].strip() and en[msgid].strip(), f"{msgid}: no translation"
        assert i18n.template_fields(zh[msgid]) == i18n.template_fields(en[msgid]), msgid


def untranslated(zh: dict[str, str], en: dict[str, str]) -> list[str]:
    """The ids the code uses that a catalog lacks (or leaves empty), with where."""
    wanted = {**used_ids(), **{i: "built from data" for i in families()}}
    assert len(wanted) > 200
    return sorted(f"{i} ({where})" for i, where in wanted.items()
                  if not zh.get(i, "").strip() or not en.get(i, "").strip())


def test_every_id_the_code_uses_is_translated_in_both_languages():
    assert untranslated(catalog("zh"), catalog("en")) == []


def test_every_error_raised_with_a_key_in_the_code_has_a_catalog_entry():
    keys = [i for i in used_ids() if i.startswith("err.")]
    assert "err.text_too_long" in keys and len(keys) > 40
    for lang in i18n.LANGUAGES:
        assert all(i18n.has(k, lang) for k in keys), lang


def test_a_missing_translation_is_caught(tmp_path):
    """The completeness check is real: a catalog missing one id fails it."""
    text = i18n.catalog_path("zh").read_text(encoding="utf-8")
    cut = re.sub(r'msgid "console\.no_unread"\nmsgstr "[^"]*"\n', "", text)
    assert cut != text
    assert untranslated(read_po(cut), catalog("en")) == [
        "console.no_unread (tui/console.py:" + untranslated_line() + ")"]
    emptied = {**catalog("en"), "key.accept": " "}
    assert [m.split(" ")[0] for m in untranslated(catalog("zh"), emptied)] == ["key.accept"]


def untranslated_line() -> str:
    return used_ids()["console.no_unread"].rsplit(":", 1)[1]


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="GNU gettext not installed")
def test_msgfmt_accepts_the_catalogs(tmp_path):
    for lang in i18n.LANGUAGES:
        done = subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / f"{lang}.mo"),
                               str(i18n.catalog_path(lang))], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        # the compiler here and GNU's agree on every message
        import gettext

        ours = gettext.GNUTranslations(__import__("io").BytesIO(compile_mo(catalog(lang))))
        gnu = gettext.GNUTranslations((tmp_path / f"{lang}.mo").open("rb"))
        for msgid in catalog(lang):
            assert ours.gettext(msgid) == gnu.gettext(msgid)


def test_po_reader_refuses_what_it_cannot_read():
    assert read_po('msgid "a"\nmsgstr "x\\ny"\n"z"\n') == {"a": "x\nyz"}
    for bad in ('msgid "a"\n', 'msgid "a"\nmsgstr "b"\nmsgid "a"\nmsgstr "c"\n',
                'msgid "a"\nmsgstr "b\\q"\n', 'msgid_plural "a"\n'):
        with pytest.raises(PoError, match="line"):
            read_po(bad)


def test_the_catalogs_ship_in_the_wheel(tmp_path):
    """A normal (non-editable) install carries the .po sources the catalogs load from."""
    import sys
    import zipfile

    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("cstool-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for lang in ("zh_CN", "en"):
        assert f"cstool/i18n/locale/{lang}/LC_MESSAGES/cstool.po" in names


# -- choosing the language ------------------------------------------------------------------
@pytest.mark.parametrize("env,lang", [
    ({}, "en"), ({"LANG": "zh_CN.UTF-8"}, "zh"), ({"LANG": "C.UTF-8"}, "en"),
    ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_TW.UTF-8"}, "zh"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
    ({"LC_ALL": "zh_HK", "LC_MESSAGES": "en_US"}, "zh"), ({"LC_ALL": "", "LANG": "zh"}, "zh"),
])
def test_the_locale_decides_when_nothing_else_does(monkeypatch, env, lang):
    for name in ("CSTOOL_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert i18n.from_locale() == lang and i18n.language() == lang


def test_cstool_lang_beats_the_locale_and_set_language_beats_both(monkeypatch):
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.setenv("CSTOOL_LANG", "en")
    assert i18n.language() == "en"
    monkeypatch.setenv("CSTOOL_LANG", "zh-CN")
    assert i18n.language() == "zh"
    i18n.set_language("en")
    assert i18n.language() == "en"
    with pytest.raises(ValueError):
        i18n.set_language("fr")


# -- errors by their code -------------------------------------------------------------------
def test_an_error_is_shown_by_its_key_not_its_text():
    e = InvalidInput("whatever the English says", key="text_too_long", what="reply",
                     length=2100, max=2000)
    assert i18n.error_text(e, lang="zh") == "回复太长了（2100 字，最多 2000 字）"
    assert i18n.error_text(e, lang="en") == "reply too long (2100 characters, at most 2000)"
    plain = InvalidInput("some other refusal")
    assert plain.key == "invalid" and plain.params == {}
    assert i18n.error_text(plain, lang="zh") == "输入有误：some other refusal"


def test_the_backend_raises_reply_too_long_with_its_numbers(backend):
    backend.apply({"shops": [{"key": "s", "name": "翎衣女装", "service_mode": "human_first"}],
                   "agents": [{"handle": "a", "name": "小美", "shops": ["s"],
                               "status": "online", "max_chats": 3}]})
    conv = backend.post_message("s", "c1", "在吗")["conversation"]
    with pytest.raises(InvalidInput) as caught:
        backend.reply("a", conv, "好" * 2100)
    e = caught.value
    assert e.message == "reply too long (2100 characters, at most 2000)"  # the API's words
    assert (e.code, e.key, e.params) == ("invalid", "text_too_long",
                                         {"what": "reply", "length": 2100, "max": 2000})
    assert i18n.error_text(e, lang="zh") == "回复太长了（2100 字，最多 2000 字）"


def test_an_error_about_me_speaks_to_me_and_names_others(backend):
    from cstool.errors import Conflict

    e = Conflict("agent 'a' is at capacity (3/3)", key="agent_at_capacity", agent="a",
                 active=3, max=3)
    assert i18n.error_text(e, me="a", lang="zh") == "你已接满 3/3：先结束一个会话"
    assert i18n.error_text(e, me="b", names={"a": "小美"}, lang="zh") == "客服 小美 已接满（3/3）"
    busy = Conflict("agent 'b' is away", key="agent_unavailable", agent="b", status="away")
    assert i18n.error_text(busy, names={"b": "阿杰"}, lang="zh") \
        == "客服 阿杰 现在离开，接不了新会话"
    assert i18n.error_text(busy, names={"b": "Jay"}, lang="en") == "agent Jay is away"


# -- the CLI in both languages --------------------------------------------------------------
def run(cli, *args, env=None):
    from typer.testing import CliRunner

    return CliRunner(env=env).invoke(app, ["--db", cli.db, *args])


@pytest.mark.parametrize("how,expected", [
    (("--lang", "zh"), "错误：没有会话 999\n"),
    (("--lang", "en"), "Error: no conversation 999\n"),
    (("--lang", "zh-CN"), "错误：没有会话 999\n"),
])
def test_cli_errors_in_the_language_asked(cli, how, expected):
    cli("db", "init")
    result = cli.runner.invoke(app, [*how, "--db", cli.db, "conv", "show", "999"])
    assert result.exit_code == 1 and result.stderr == expected and result.stdout == ""


def test_cli_language_from_the_environment_and_the_locale(cli, monkeypatch):
    cli("db", "init")
    monkeypatch.setenv("CSTOOL_LANG", "zh")
    result = cli("shop", "show", "nope")
    assert result.exit_code == 1 and result.stderr == "错误：没有这个店铺（nope）\n"
    monkeypatch.delenv("CSTOOL_LANG")
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    assert cli("shop", "show", "nope").stderr == "错误：没有这个店铺（nope）\n"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert cli("shop", "show", "nope").stderr == "Error: no shop 'nope'\n"
    assert cli("--lang", "zh", "shop", "show", "nope").stderr.startswith("错误：")


def test_cli_usage_error_in_chinese_keeps_exit_2(cli):
    result = cli("--lang", "zh", "conv", "list", "--state", "sleeping")
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("错误：") and "sleeping" in result.stderr


def test_an_unknown_language_is_a_usage_error(cli, monkeypatch):
    result = cli("--lang", "fr", "shop", "list")
    assert result.exit_code == 2 and "zh or en" in result.stderr and result.stdout == ""
    monkeypatch.setenv("CSTOOL_LANG", "klingon")
    result = cli("shop", "list")
    assert result.exit_code == 2 and "CSTOOL_LANG" in result.stderr


# -- the server keeps its JSON and adds the key; the remote backend gets it back -------------
def test_server_error_json_and_a_remote_error_in_chinese(tmp_path):
    served = serve(tmp_path / "s.db")
    try:
        served.backend.apply({"shops": [{"key": "s", "name": "翎衣女装"}]})
        response = served.http("GET", "/v1/conversations/999")
        err = response.json()["error"]
        assert response.status_code == 404
        assert (err["code"], err["message"]) == ("not_found", "no conversation 999")
        assert (err["key"], err["params"]) == ("no_conversation", {"conversation": 999})
        with pytest.raises(CstoolError) as caught:
            served.remote().get_conversation(999)
        assert caught.value.key == "no_conversation"
        assert i18n.error_text(caught.value, lang="zh") == "没有会话 999"
    finally:
        served.close()


def test_a_record_error_names_file_line_and_field_in_both_languages(cli, tmp_path):
    cli("db", "init")
    bad = tmp_path / "bad.yaml"
    bad.write_text("customers:\n  - key: c9\n    name: 甲\n    profiles:\n      - shop: nope\n",
                   encoding="utf-8")
    zh = cli("--lang", "zh", "apply", "-f", str(bad))
    en = cli("--lang", "en", "apply", "-f", str(bad))
    assert zh.exit_code == en.exit_code == 1
    assert zh.stderr == f"错误：{bad}:5: customers[0].profiles[0].shop：没有这个店铺（nope）\n"
    assert en.stderr == f"Error: {bad}:5: customers[0].profiles[0].shop: unknown shop 'nope'\n"
    missing = tmp_path / "missing.yaml"
    missing.write_text("customers:\n  - key: c9\n", encoding="utf-8")
    assert cli("--lang", "zh", "apply", "-f", str(missing)).stderr \
        == f"错误：{missing}:2: customers[0].name：必填\n"
