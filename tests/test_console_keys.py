"""The key file ($CSTOOL_KEYS): remaps apply; a collision, an unknown action, a key no
terminal sends or a plain character is refused naming the file and the line."""

from __future__ import annotations

import pytest

from cstool.errors import InvalidInput
from tui.console import default_keys
from tui.keys import keymap_path, load_keymap


def _file(tmp_path, text: str):
    path = tmp_path / "keys.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_file_is_found_through_cstool_keys(tmp_path, monkeypatch):
    path = _file(tmp_path, 'accept = "f12"\n')
    monkeypatch.setenv("CSTOOL_KEYS", str(path))
    assert keymap_path() == path
    assert load_keymap(defaults=default_keys()) == {"accept": "f12"}


def test_a_missing_file_means_the_default_keys(tmp_path):
    assert load_keymap(tmp_path / "none.toml", default_keys()) == {}


def test_a_remap_may_take_a_key_its_owner_gives_up(tmp_path):
    path = _file(tmp_path, 'accept = "f8"\nclose_chat = "f12"\n')
    assert load_keymap(path, default_keys()) == {"accept": "f8", "close_chat": "f12"}


@pytest.mark.parametrize(("text", "line", "words"), [
    ('# mine\naccept = "f2"\nclose_chat = "F2"\n', 3, ["close_chat", "'f2'", "accept"]),
    ('\n\ntransfer = "f9"\n', 3, ["transfer", "'f9'", "status", "default"]),
    ('search = "ctrl+f"\n\nsuggestions = "ctrl+f"\n', 3, ["suggestions", "search"]),
    ('send = "ctrl+j"\n', 1, ["send", "newline"]),
    ('accept = "f2"\nacept = "f3"\n', 2, ["unknown action 'acept'"]),
    ('help = "f1,ctrl+foo"\n', 1, ["'ctrl+foo'", "not a key"]),
    ('quit = "q"\n', 1, ["types a character"]),
    ('accept = 2\n', 1, ["must be text"]),
    ('accept = "f2"\nclose_chat = \n', 2, ["not valid TOML"]),
])
def test_a_bad_file_is_refused_naming_file_and_line(tmp_path, text, line, words):
    path = _file(tmp_path, text)
    with pytest.raises(InvalidInput) as e:
        load_keymap(path, default_keys())
    message = str(e.value)
    assert message.startswith(f"{path}:{line}: "), message
    for word in words:
        assert word in message, message
    assert "\n" not in message
