"""Knowledge entries and quick replies as resources (apply/export, references), the kb
CLI (add, list, show, update, remove, search, import, export in JSONL / YAML / CSV,
malformed files), the learning loop, and reply add / list / remove."""

from __future__ import annotations

import json

import pytest

from cstool.errors import Conflict, NotFound
from cstool.validation import FieldError

from .kb_support import KB, register_commands

register_commands()

SHOP = {"key": "s", "name": "翎衣女装", "service_mode": "bot_first"}


def seed(be, knowledge=KB):
    be.apply({
        "shops": [SHOP, {"key": "t", "name": "极客派"}],
        "groups": [{"key": "pre", "shop": "s", "name": "售前组"}],
        "agents": [{"handle": "a", "name": "小美", "shops": ["s"], "groups": ["pre"],
                    "status": "online"},
                   {"handle": "b", "name": "老张", "shops": ["t"]}],
        "knowledge_entries": knowledge,
    })


# -- the resources -----------------------------------------------------------------------------

def test_knowledge_entries_travel_through_apply_and_export(backend):
    seed(backend, [*KB, {"key": "s-size", "shop": "s", "question": "尺码怎么选？",
                         "similar": ["穿几码"], "answer": "看尺码表。", "enabled": False}])
    backend.apply({"quick_replies": [
        {"key": "qr1", "shop": "s", "title": "欢迎语", "body": "亲，欢迎光临~"},
        {"key": "qr2", "shop": "s", "agent": "a", "title": "小美的", "body": "我是小美"}]})
    doc = backend.export()
    assert [e["key"] for e in doc["knowledge_entries"]] == sorted(
        [e["key"] for e in KB] + ["s-size"])
    assert next(e for e in doc["knowledge_entries"] if e["key"] == "s-size") == {
        "key": "s-size", "shop": "s", "question": "尺码怎么选？", "similar": ["穿几码"],
        "answer": "看尺码表。", "enabled": False}
    assert doc["quick_replies"][1] == {"key": "qr2", "shop": "s", "agent": "a",
                                       "title": "小美的", "body": "我是小美"}
    assert backend.apply(doc).count("unchanged") == sum(len(v) for v in doc.values())
    # a shop's export holds its own entries, not the platform's
    assert [e["key"] for e in backend.export(shop="s")["knowledge_entries"]] == ["s-size"]


def test_knowledge_fields_are_checked(backend):
    seed(backend)
    with pytest.raises(FieldError, match=r"knowledge_entries\[0\]\.answer: is required"):
        backend.apply({"knowledge_entries": [{"key": "x", "question": "q"}]})
    with pytest.raises(FieldError, match="unknown shop 'nope'"):
        backend.apply({"knowledge_entries": [{"key": "x", "shop": "nope", "question": "q",
                                              "answer": "a"}]})
    with pytest.raises(FieldError, match="not a usable key"):
        backend.create("knowledge_entries", {"key": "two\nlines", "question": "q",
                                             "answer": "a"})
    with pytest.raises(FieldError, match=r"answer: too long \(5001 characters, at most 5000\)"):
        backend.create("knowledge_entries", {"key": "x", "question": "q", "answer": "长" * 5001})
    # intent names from other systems keep their keys; long similar questions fit
    rec = backend.create("knowledge_entries", {
        "key": "Card Arrival", "question": "When will my card arrive?",
        "similar": ["x" * 900], "answer": "In 3-5 days."})
    assert rec["key"] == "Card Arrival"
    assert backend.get("knowledge_entries", "Card Arrival")["similar"] == ["x" * 900]


def test_quick_replies_belong_to_the_shop_and_its_agents(backend):
    seed(backend)
    with pytest.raises(FieldError, match="agent 'b' does not work for shop 's'"):
        backend.create("quick_replies", {"key": "q", "shop": "s", "agent": "b", "title": "t",
                                         "body": "b"})
    backend.create("quick_replies", {"key": "q", "shop": "s", "agent": "a", "title": "t",
                                     "body": "b"})
    with pytest.raises(Conflict, match="agent 'a' is still used by 1 quick reply"):
        backend.delete("agents", "a")
    backend.create("knowledge_entries", {"key": "own", "shop": "s", "question": "q",
                                         "answer": "a"})
    with pytest.raises(Conflict, match="1 knowledge entry, 1 quick reply"):
        backend.delete("shops", "s")


# -- the kb CLI --------------------------------------------------------------------------------

def test_kb_add_list_show_update_remove(cli):
    cli("shop", "create", "s", "--name", "翎衣女装")
    r = cli("kb", "add", "invoice", "--question", "怎么开发票？", "--answer", "订单详情里申请。",
            "--similar", "能开发票吗", "--similar", "发票，怎么开", "--category", "invoice")
    assert r.exit_code == 0, r.output
    cli("kb", "add", "size", "--shop", "s", "--question", "尺码怎么选？", "--answer", "看尺码表",
        "--tag", "尺码")
    assert [e["key"] for e in cli.json("kb", "list", "--shop", "s")] == ["size", "invoice"]
    assert [e["key"] for e in cli.json("kb", "list", "--platform")] == ["invoice"]
    shown = cli.json("kb", "show", "invoice")
    assert shown["similar"] == ["能开发票吗", "发票，怎么开"]  # commas stay inside a question
    cli("kb", "update", "invoice", "--add-similar", "开票", "--remove-similar", "能开发票吗",
        "--disable")
    shown = cli.json("kb", "show", "invoice")
    assert (shown["similar"], shown["enabled"]) == (["发票，怎么开", "开票"], False)
    cli("kb", "update", "size", "--platform")
    assert "shop" not in cli.json("kb", "show", "size")
    r = cli("kb", "update", "size", "--remove-similar", "nope")
    assert (r.exit_code, r.stderr.strip()) == (1, "Error: 'size' has no similar question 'nope'")
    assert cli("kb", "remove", "size").exit_code == 0
    r = cli("kb", "show", "size")
    assert (r.exit_code, r.stderr.strip()) == (1, "Error: no knowledge_entry 'size'")


def test_kb_search_ranks_entries(cli, tmp_path):
    path = tmp_path / "kb.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in KB), "utf-8")
    assert cli("kb", "import", str(path)).exit_code == 0
    hits = cli.json("kb", "search", "发票怎么弄", "-k", "3")
    assert [h["entry"] for h in hits][0] == "invoice" and len(hits) == 3
    assert hits[0]["score"] > hits[1]["score"]


# -- import and export ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["jsonl", "yaml", "csv"])
def test_import_export_round_trip(cli, tmp_path, fmt):
    cli("shop", "create", "s", "--name", "翎衣女装")
    entries = [*KB, {"key": "s-only", "shop": "s", "question": "尺码怎么选？",
                     "similar": ["穿几码", "S码还是M码"], "answer": "看尺码表，\n偏小选大一码。",
                     "category": "sizing", "tags": ["尺码", "推荐"], "enabled": False}]
    src = tmp_path / f"kb.{fmt}"
    from cstool.knowledge_files import write_entries

    src.write_text(write_entries(entries, fmt), encoding="utf-8")
    first = cli.json("kb", "import", str(src))
    assert (first["created"], first["updated"]) == (len(entries), 0)
    assert cli.json("kb", "import", str(src))["unchanged"] == len(entries)
    out = tmp_path / f"out.{fmt}"
    assert cli("kb", "export", "-o", str(out)).exit_code == 0
    again = tmp_path / "again.db"
    from typer.testing import CliRunner

    from commands.main import app

    runner = CliRunner()
    runner.invoke(app, ["--db", str(again), "shop", "create", "s", "--name", "翎衣女装"])
    r = runner.invoke(app, ["--db", str(again), "kb", "import", str(out)])
    assert r.exit_code == 0, r.output
    r2 = runner.invoke(app, ["--db", str(again), "kb", "export", "--format", fmt])
    assert r2.stdout == out.read_text(encoding="utf-8")
    assert cli.json("kb", "show", "s-only")["answer"] == "看尺码表，\n偏小选大一码。"


def test_import_fills_in_the_default_shop_and_reads_stdin(cli):
    cli("shop", "create", "s", "--name", "翎衣女装")
    text = ("key,question,answer,similar,tags\n"
            "q1,怎么开发票？,订单里申请,能开票吗|要发票,2026|发票\n")
    r = cli("kb", "import", "-", "--format", "csv", "--shop", "s", input=text)
    assert r.exit_code == 0, r.output
    e = cli.json("kb", "show", "q1")
    assert (e["shop"], e["similar"], e["tags"]) == ("s", ["能开票吗", "要发票"], ["2026", "发票"])
    # another shop's import never takes the entry over (keys are one namespace)
    cli("shop", "create", "t", "--name", "极客派")
    r = cli("kb", "import", "-", "--format", "csv", "--shop", "t", input=text)
    assert r.exit_code == 1 and "entry 'q1' belongs to shop 's'" in r.stderr
    assert len(r.stderr.splitlines()) == 1 and cli.json("kb", "show", "q1")["shop"] == "s"


@pytest.mark.parametrize("name,text,message", [
    ("bad.jsonl", '{"key": "a", "question": "q", "answer": "x"}\n{"key": "b", "question": \n',
     "bad.jsonl:2: not valid JSON: Expecting value"),
    ("list.jsonl", '{"key": "a", "question": "q", "answer": "x"}\n["b"]\n',
     "list.jsonl:2: expected a JSON object (one entry per line)"),
    ("missing.jsonl", '{"key": "a", "question": "q", "answer": "x"}\n\n'
                      '{"key": "b", "question": "q"}\n',
     "missing.jsonl:3: knowledge_entries[1].answer: is required"),
    ("shop.jsonl", '{"key": "a", "shop": "nope", "question": "q", "answer": "x"}\n',
     "shop.jsonl:1: knowledge_entries[0].shop: unknown shop 'nope'"),
    ("dup.jsonl", '{"key": "a", "question": "q", "answer": "x"}\n'
                  '{"key": "a", "question": "q2", "answer": "y"}\n',
     "dup.jsonl:2: knowledge_entries[1].key: duplicate key 'a' (also knowledge_entries[0])"),
    ("cols.csv", "key,question,answer,colour\na,q,x,red\n",
     "cols.csv:1: unknown column 'colour' (known: key, shop, question, similar, answer, "
     "category, tags, enabled; 编号, 店铺, 问题, 相似问题, 答案, 分类, 标签, 启用)"),
    ("short.csv", 'key,question,answer\na,q,x\nb,"two\nlines",y\nc,q\n',
     "short.csv:5: expected 3 columns, got 2"),
    ("flag.csv", "key,question,answer,enabled\na,q,x,maybe\n",
     "flag.csv:2: enabled: expected true or false, got 'maybe'"),
    ("bad.yaml", "- key: a\n  question: q\n  answer: [x\n",
     "bad.yaml:4: not valid YAML/JSON"),
    ("field.yaml", "- key: a\n  question: q\n  answer: x\n  colour: red\n",
     "field.yaml:4: knowledge_entries[0].colour: unknown field"),
    # a merchant's spreadsheet without an answer column is named at its header
    ("noanswer.csv", "key,question,similar,category\na,换屏多少钱,,价格\n",
     "noanswer.csv:1: no column 'answer' (a CSV needs key, question, answer)"),
    ("big.csv", "key,question,answer\na,q," + "长" * 200_000 + "\n",
     "big.csv:2: a cell is longer than 131,072 characters (an answer holds at most 5,000)"),
    # the same question twice, full-width and spacing aside, would answer at random
    ("twice.csv", "key,question,answer\r\na,换屏多少钱？,399\r\nb, 换屏多少钱? ,199\r\n",
     "twice.csv:3: question '换屏多少钱?' repeats the entry 'a' (line 2); one question, "
     "one entry"),
    ("twice.jsonl", '{"key": "a", "question": "Refund?", "answer": "x"}\n'
                    '{"key": "b", "question": "refund?", "answer": "y"}\n',
     "twice.jsonl:2: question 'refund?' repeats the entry 'a' (line 1); one question, "
     "one entry"),
    ("empty.csv", "", "empty.csv: no entries in the file"),
    ("header.csv", "\ufeffkey,question,answer\r\n", "header.csv: no entries in the file"),
])
def test_malformed_files_import_nothing(cli, tmp_path, name, text, message):
    cli("kb", "add", "keep", "--question", "留着", "--answer", "在")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    r = cli("kb", "import", str(path))
    assert r.exit_code == 1
    assert r.stderr.startswith(f"Error: {tmp_path / message}") or r.stderr.startswith(
        f"Error: {path.parent}/{message}"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert [e["key"] for e in cli.json("kb", "list")] == ["keep"]


def test_a_csv_cell_separates_items_with_the_full_width_bar_too(cli):
    cli("shop", "create", "s", "--name", "快修手机维修")
    text = ("\ufeffkey,question,similar,answer,tags\r\n"
            "z1,贴膜多少钱？,手机膜多少钱｜钢化膜贵吗 | 膜,30元,价格｜配件\r\n")
    r = cli("kb", "import", "-", "--format", "csv", "--shop", "s", input=text)
    assert r.exit_code == 0, r.output
    e = cli.json("kb", "show", "z1")
    assert (e["similar"], e["tags"]) == (["手机膜多少钱", "钢化膜贵吗", "膜"], ["价格", "配件"])


def test_an_import_not_in_utf8_says_how_to_save_it(cli, tmp_path):
    path = tmp_path / "faq.csv"
    path.write_bytes("key,question,answer\r\na,换屏多少钱,399元\r\n".encode("gbk"))
    r = cli("kb", "import", str(path))
    assert (r.exit_code, r.stderr.strip()) == (
        1, f"Error: {path}: not UTF-8 text (save it as UTF-8; in Excel: CSV UTF-8)")
    assert cli.json("kb", "list") == []


def test_the_same_question_in_two_shops_is_two_entries(cli, tmp_path):
    cli("shop", "create", "s", "--name", "一店")
    cli("shop", "create", "t", "--name", "二店")
    path = tmp_path / "faq.csv"
    path.write_text("key,shop,question,answer\na,s,换屏多少钱,399\nb,t,换屏多少钱,199\n",
                    encoding="utf-8")
    assert cli.json("kb", "import", str(path))["created"] == 2


# -- the learning loop ---------------------------------------------------------------------------

def test_unanswered_questions_are_grouped_and_learned(backend):
    seed(backend)
    for customer, text in (("c1", "你们家衣服好看吗"), ("c2", "你们家衣服好看吗？"),
                           ("c3", "价格"), ("c4", "你们家的衣服好看吗")):
        backend.post_message("s", customer, text)
    groups = backend.unanswered_questions(shop="s")
    assert [(g["question"], g["count"]) for g in groups] == [
        ("你们家衣服好看吗", 2), ("价格", 1), ("你们家的衣服好看吗", 1)]
    assert groups[0]["actions"] == {"handoff": 2}
    assert groups[0]["wordings"] == ["你们家衣服好看吗", "你们家衣服好看吗？"]
    assert groups[1]["actions"] == {"suggest": 1} and groups[1]["top_entry"] == "my_coupons"
    # a new entry from the biggest group
    learned = backend.learn_question(groups[0]["group"], new="quality",
                                     answer="亲，都是实拍，版型很好哦~", category="product")
    assert learned["created"] and learned["resolved"] == 2
    assert learned["record"]["question"] == "你们家衣服好看吗"
    assert learned["record"]["similar"] == ["你们家衣服好看吗？"]
    assert learned["record"]["shop"] == "s"
    # another wording as a similar question of it
    learned = backend.learn_question("你们家的衣服好看吗", entry="quality", shop="s")
    assert (learned["added"], learned["resolved"]) == (["你们家的衣服好看吗"], 1)
    assert [g["question"] for g in backend.unanswered_questions()] == ["价格"]
    r = backend.ask_bot("你们家的衣服好看吗", shop="s")
    assert (r["action"], r["entry"]) == ("answer", "quality")
    assert backend.dismiss_unanswered(groups[1]["group"]) == 1
    assert backend.unanswered_questions() == []
    for missing in ("#999", "#10000000000000000000"):  # past SQLite's integers too
        with pytest.raises(NotFound):
            backend.dismiss_unanswered(missing)


def test_kb_unanswered_and_learn_commands(cli, tmp_path):
    cli("shop", "create", "s", "--name", "翎衣女装", "--service-mode", "bot_first")
    path = tmp_path / "kb.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in KB), "utf-8")
    cli("kb", "import", str(path))
    cli("conv", "post", "能给个收据吗", "--shop", "s", "--customer", "c1")
    groups = cli.json("kb", "unanswered", "--shop", "s")
    assert [(g["group"], g["question"], g["count"]) for g in groups] == [
        ("#1", "能给个收据吗", 1)]
    r = cli("kb", "learn", "#1", "--entry", "invoice")
    assert r.exit_code == 0 and r.stderr.strip() == (
        "entry invoice: learned 1 wording(s), resolved 1 unanswered")
    assert "能给个收据吗" in cli.json("kb", "show", "invoice")["similar"]
    assert cli.json("bot", "ask", "能给个收据吗", "--shop", "s")["action"] == "answer"
    r = cli("kb", "learn", "发票", "--entry", "invoice", "--new", "x")
    assert r.exit_code == 2
    r = cli("kb", "learn", "发票", "--new", "x")
    assert (r.exit_code, r.stderr.strip()) == (2, "Error: a new entry needs an answer")


# -- quick replies -------------------------------------------------------------------------------

def test_reply_add_list_remove(cli):
    cli("shop", "create", "s", "--name", "翎衣女装")
    cli("agent", "create", "a", "--name", "小美", "--shop", "s")
    cli("agent", "create", "b", "--name", "阿杰", "--shop", "s")
    assert cli("reply", "add", "欢迎语", "亲，欢迎光临~", "--shop", "s").exit_code == 0
    r = cli("reply", "add", "搭配", "这件配牛仔裤好看", "--shop", "s", "--agent", "a")
    assert r.exit_code == 0 and r.stderr.strip() == "added s-qr-2"
    cli("reply", "add", "阿杰的", "我是阿杰", "--shop", "s", "--agent", "b", "--key", "b-hi")
    mine = cli.json("reply", "list", "--shop", "s", "--agent", "a")
    assert [(q["key"], q["title"], q.get("agent")) for q in mine] == [
        ("s-qr-1", "欢迎语", None), ("s-qr-2", "搭配", "a")]
    assert len(cli.json("reply", "list", "--shop", "s")) == 3
    assert cli("reply", "remove", "s-qr-1").exit_code == 0
    assert [q["key"] for q in cli.json("reply", "list")] == ["b-hi", "s-qr-2"]
    r = cli("reply", "add", "x", "y", "--shop", "nope")
    assert (r.exit_code, r.stderr.strip()) == (1, "Error: no shop 'nope'")


@pytest.fixture
def served_backend(db_path, clock):
    """A Local backend as ``cstool serve`` opens it (``background_builds``)."""
    from cstool.backend.local import LocalBackend

    b = LocalBackend(db_path, clock=clock, background_builds=True)
    yield b
    b.close()


def test_a_server_answers_from_the_old_knowledge_while_the_new_builds(served_backend,
                                                                      monkeypatch):
    """In the background mode ``cstool serve`` uses, a knowledge edit does not make the
    next question wait for the model: it is answered from the previous knowledge, and the
    new takes over when built."""
    import threading
    import time

    from cstool.bot import knowledge_bot

    backend = served_backend
    seed(backend)
    assert backend.ask_bot("怎么开发票", shop="s")["answer"] == KB[3]["answer"]
    release = threading.Event()
    real = knowledge_bot.index_for

    def slow_build(*args, **kwargs):  # a big knowledge base: the build takes a while
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(knowledge_bot, "index_for", slow_build)
    backend.update("knowledge_entries", "invoice", {"answer": "在订单详情里申请电子发票。"})
    before = backend.bot.cache.builds
    started = time.monotonic()
    assert backend.ask_bot("怎么开发票", shop="s")["answer"] == KB[3]["answer"]
    assert time.monotonic() - started < 5  # did not wait for the build
    release.set()
    deadline = time.monotonic() + 30
    while backend.bot.cache.builds == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert backend.bot.cache.builds == before + 1
    assert backend.ask_bot("怎么开发票", shop="s")["answer"] == "在订单详情里申请电子发票。"


def csv_import(cli, shop, text):
    """``kb import -`` of a CSV text into ``shop``."""
    return cli("kb", "import", "-", "--format", "csv", "--shop", shop, input=text)


def test_a_spreadsheet_with_chinese_or_capitalised_column_names_imports(cli):
    cli("shop", "create", "s", "--name", "快修手机维修")
    text = ("\ufeff编号,问题,相似问法,答案,分类,标签\r\n"
            "screen,换屏多少钱？,屏幕碎了修要多少钱|换个屏贵吗,399元起,价格,换屏\r\n")
    r = csv_import(cli, "s", text)
    assert r.exit_code == 0, r.output
    e = cli.json("kb", "show", "screen")
    assert (e["question"], e["similar"], e["answer"], e["category"], e["tags"]) == (
        "换屏多少钱？", ["屏幕碎了修要多少钱", "换个屏贵吗"], "399元起", "价格", ["换屏"])
    r = csv_import(cli, "s", "Key,Question,Answer\nbattery,换电池多久,半小时\n")
    assert r.exit_code == 0, r.output
    assert cli.json("kb", "show", "battery")["answer"] == "半小时"
    # an alias naming a field already given is a column named twice
    r = csv_import(cli, "s", "key,问题,question,answer\na,q,q,x\n")
    assert (r.exit_code, r.stderr.strip()) == (1, "Error: <stdin>:1: a column is named twice")


def test_an_import_repeating_a_stored_entrys_question_under_another_key_is_refused(cli):
    cli("shop", "create", "s", "--name", "快修手机维修")
    cli("shop", "create", "t", "--name", "二店")
    first = "key,question,answer\nscreen,换屏多少钱？,399元\n"
    assert csv_import(cli, "s", first).exit_code == 0
    r = csv_import(cli, "s", "key,question,answer\nok,贴膜多少钱,30元\nagain, 换屏多少钱? ,199元\n")
    assert r.exit_code == 1
    assert r.stderr.strip() == ("Error: <stdin>:3: question '换屏多少钱?' is already the "
                                "question of the entry 'screen'; one question, one entry "
                                "(import it under that key to change it)")
    assert [e["key"] for e in cli.json("kb", "list", "--shop", "s")] == ["screen"]
    # the same key rewrites its entry; another shop may ask the same question
    assert csv_import(cli, "s", "key,question,answer\nscreen,换屏多少钱？,299元\n").exit_code == 0
    assert cli.json("kb", "show", "screen")["answer"] == "299元"
    assert csv_import(cli, "t", "key,question,answer\nscreen2,换屏多少钱？,199元\n").exit_code == 0
