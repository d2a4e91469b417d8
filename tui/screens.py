"""Modal screens of the console: a fuzzy picker, a text prompt, a yes/no question and
the key help."""

from __future__ import annotations

from dataclasses import replace

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from cstool.i18n import has, t
from cstool.pinyin_match import fuzzy_match as pinyin_fuzzy_match
from cstool.text_rules import terminal_safe

from .cjk_text import Wrapped


def _safe(text: str) -> str:
    """Text from the data (names, titles, messages) with control characters escaped."""
    return terminal_safe(text, keep_lines=True) if isinstance(text, str) else text


def _plain(text: str) -> Text:
    """A dialog's title as plain text: a customer's name holding "[" is not markup (a
    Label would parse it, and refuse "[/x]" by raising), nor a control sequence."""
    return Text(_safe(text)) if isinstance(text, str) else text


def localize_bindings(node) -> None:
    """Give a widget's (or app's) bindings their labels in the interface language: a
    binding's description is a catalog id (``key.<id>``), looked up when the node is made
    (the language may be chosen after the class was defined); Textual's own bindings (the
    command palette's) are found by their action (``key.<action>``)."""

    def label(b: Binding) -> str | None:
        if has(b.description):
            return t(b.description)
        if has(f"key.{b.action}"):
            return t(f"key.{b.action}")
        return b.description

    bindings = node._bindings  # this node's own copy of its class's bindings
    for key, items in list(bindings.key_to_bindings.items()):
        bindings.key_to_bindings[key] = [
            replace(b, description=label(b)) if b.description else b for b in items]


def open_command_palette(app) -> None:
    """Textual's command palette, its prompt in the interface language."""
    from textual.command import CommandPalette

    if app.use_command_palette and not CommandPalette.is_open(app):
        app.push_screen(CommandPalette(placeholder=t("console.palette_search"),
                                       id="--command-palette"))


def localized_system_commands(commands):
    """Textual's own palette commands (Theme, Quit, Keys ...) with their titles and help in
    the interface language (``palette.<title>``); others pass as they are."""
    for command in commands:
        msgid = f"palette.{command.title.lower()}"
        title = t(msgid)
        if title == msgid:  # a command this catalog does not know
            yield command
            continue
        yield command._replace(title=title, help=t(msgid + ".help"))


def fuzzy_match(query: str, text: str) -> bool:
    """True when every character of ``query`` appears in ``text`` in order (case-blind),
    as itself or as a pinyin initial: 发货 and fh both find 什么时候发货."""
    return pinyin_fuzzy_match(query, text)


class PickScreen(ModalScreen[str | None]):
    """Pick one item by typing part of its label or of its key (``away`` finds 离开 in
    Chinese too); Enter chooses, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "key.cancel", id="cancel")]

    def __init__(self, title: str, items: list[tuple[str, str]], placeholder: str | None = None):
        super().__init__()
        localize_bindings(self)
        self.title_text = title
        self.items = items
        self.placeholder = t("console.filter") if placeholder is None else placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_plain(self.title_text), classes="dialog-title")
            yield Input(placeholder=self.placeholder, id="pick-filter")
            yield OptionList(*[Option(Wrapped(_safe(label)), id=key) for key, label in self.items],
                             id="pick-list")

    def on_input_changed(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(Wrapped(_safe(label)), id=key) for key, label in self.items
                             if fuzzy_match(event.value, label) or fuzzy_match(event.value, key)])
        if options.option_count:
            options.highlighted = 0

    def on_mount(self) -> None:
        # After the refresh: a picker pushed while another screen is being dismissed
        # (Esc then F5 in one burst) may be mounted before its dialog's children are.
        self.call_after_refresh(self._highlight_first)

    def _highlight_first(self) -> None:
        for options in self.query(OptionList):
            if options.option_count and options.highlighted is None:
                options.highlighted = 0

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def key_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def key_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceScreen(ModalScreen[str | None]):
    """A short numbered list: the item's number (1-9) or Enter on it chooses, Escape
    cancels. Items are (key, label); the n-th item is chosen by n."""

    BINDINGS = [Binding("escape", "cancel", "key.cancel", id="cancel")] + [
        Binding(str(n), f"choose({n})", str(n), show=False) for n in range(1, 10)]

    def __init__(self, title: str, items: list[tuple[str, str]]):
        super().__init__()
        localize_bindings(self)
        self.title_text = title
        self.items = items

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_plain(self.title_text), classes="dialog-title")
            yield OptionList(*[Option(Wrapped(_safe(label), max_lines=3), id=key)
                               for key, label in self.items], id="pick-list")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if options.option_count:
            options.highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_choose(self, n: int) -> None:
        if 1 <= n <= len(self.items):
            self.dismiss(self.items[n - 1][0])

    def action_cancel(self) -> None:
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (``value`` pre-filled); Enter accepts (empty is allowed),
    Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "key.cancel", id="cancel")]

    def __init__(self, title: str, placeholder: str = "", value: str = ""):
        super().__init__()
        localize_bindings(self)
        self.title_text = title
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_plain(self.title_text), classes="dialog-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: Enter or y says yes, Escape or n says no."""

    BINDINGS = [Binding("enter,y", "answer(True)", "key.confirm_yes", id="confirm_yes"),
                Binding("escape,n", "answer(False)", "key.confirm_no", id="confirm_no")]

    def __init__(self, title: str, body: str, keys: str | None = None):
        super().__init__()
        localize_bindings(self)
        self.title_text = title
        self.body = body
        self.keys = t("console.confirm_keys") if keys is None else keys

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_plain(self.title_text), classes="dialog-title")
            yield Static(Wrapped(_safe(self.body)))
            yield Static(Text(self.keys, style="bold yellow"), classes="dialog-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """Every key of the console with what it does; scrolls (↑↓, PageUp/PageDown,
    Home/End) when the terminal is shorter than the list."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "key.close_help", id="close_help")]

    def __init__(self, rows: list[tuple[str, str]]):
        super().__init__()
        localize_bindings(self)
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, padding=(0, 1), expand=True)
        table.add_column(style="bold yellow", justify="right", no_wrap=True)
        table.add_column(ratio=1)  # long lines wrap under their own column
        for key, description in self.rows:
            table.add_row(key.replace(",", " "), description)
        with VerticalScroll(classes="dialog help", id="help-body"):
            yield Static(Text(t("console.help_title"), style="bold"), classes="dialog-title")
            yield Static(table)
            yield Static(Text(t("console.help_foot"), style="dim"), classes="help-foot")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
