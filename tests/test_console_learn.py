"""The console's one-key proposal (#20 item 5): a question of the chat the agent just
answered is shown in the right panel and proposed for the knowledge base with Ctrl+E,
through Textual's Pilot, asserting what is stored."""

from __future__ import annotations

from cstool.i18n import t
from tests.test_console import app_for, conv_of, desk, notices, press, settle, shown  # noqa: F401
from tui.widgets import Suggestions


async def test_an_answered_question_is_proposed_with_one_key(desk):  # noqa: F811
    b, clock = desk
    app = app_for(b, clock)
    async with app.run_test(size=(120, 34)) as pilot:
        await settle(app, pilot)
        c1 = conv_of(b, "c1")["id"]
        assert app.current == c1
        assert t("console.learn_title") not in shown(app.query_one(Suggestions))  # no answer yet
        await press(app, pilot, "ctrl+e")  # nothing answered: refused, nothing stored
        assert b.suggest_knowledge("s", since="all") == []
        await press(app, pilot, *"有的亲M码现货按平时尺码拍就可以", "enter")
        panel = shown(app.query_one(Suggestions))
        assert t("console.learn_title") in panel and "这条裙子有M码吗？" in panel
        await press(app, pilot, "ctrl+e")
        [p] = b.suggest_knowledge("s", since="all")
        assert (p["question"], p["conversations"], p["proposed_by"], p["status"]) == (
            "这条裙子有M码吗？", [c1], "a", "open")
        assert p["answer"] == "有的亲M码现货按平时尺码拍就可以"
        assert t("console.learn_proposed", id=p["id"]) in notices(app)
        assert t("console.learn_title") not in shown(app.query_one(Suggestions))
        assert b.list("knowledge_entries", shop="s") == []  # nothing applied by itself
