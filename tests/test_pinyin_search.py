"""Quick-reply search by pinyin initials: "fh" finds 发货, through the CLI and the
console's picker."""

from __future__ import annotations

from cstool.pinyin_match import fuzzy_match
from tui.screens import PickScreen


def test_initials_characters_and_mixtures_match_in_order():
    assert fuzzy_match("fh", "什么时候发货")
    assert fuzzy_match("FH", "什么时候发货")
    assert fuzzy_match("发h", "什么时候发货")
    assert fuzzy_match("kfp", "可以开发票吗")
    assert fuzzy_match("yh", "银行卡") and fuzzy_match("yx", "银行卡")  # 行: hang or xing
    assert fuzzy_match("ship", "Ships today 今天发货")
    assert not fuzzy_match("hf", "发货")  # order counts
    assert not fuzzy_match("fhz", "发货")


def test_reply_list_search_finds_by_initials(cli):
    cli("fixtures", "load", "demo")
    cli("reply", "add", "发货时间", "亲，48 小时内发货哦", "--shop", "lingyi-fashion")
    every = cli.json("reply", "list", "--shop", "lingyi-fashion")
    found = cli.json("reply", "list", "--shop", "lingyi-fashion", "--search", "fhsj")
    assert "发货时间" in [r["title"] for r in found]
    assert found == [r for r in every if fuzzy_match("fhsj", f"{r['title']}：{r['body']}")]
    assert 0 < len(found) < len(every)


async def test_the_console_picker_filters_by_initials():
    from textual.app import App

    items = [("a", "发货时间：亲，48 小时内发货哦"), ("b", "欢迎语：亲，欢迎光临~"),
             ("c", "开发票：可以开发票的")]

    class Host(App):
        def on_mount(self) -> None:
            self.push_screen(PickScreen("快捷回复", items))

    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f", "h")
        await pilot.pause()
        options = app.screen.query_one("#pick-list")
        shown = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert shown == ["a"]
