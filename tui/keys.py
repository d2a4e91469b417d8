"""User key remapping: a TOML file mapping binding ids to keys.

``$CSTOOL_KEYS`` or ``<user config dir>/cstool/keys.toml``, for example::

    accept = "f2,ctrl+n"
    send = "enter"
    newline = "ctrl+j"

A file that cannot be used is refused, naming the file and the line: not TOML, a value
that is not text, an unknown action, a key name no terminal sends, a plain character
(it would be typed in the reply box, never reach the action), or a key that two actions
would share (the file's own keys or a default key of an action the file leaves alone).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

from textual.keys import Keys, _normalize_key_list, key_to_character

from cstool.errors import InvalidInput

MODIFIERS = {"ctrl", "alt", "shift", "meta", "super", "hyper"}
_KEY_NAMES = {k.value for k in Keys} | {f"f{i}" for i in range(1, 25)}


def keymap_path() -> Path:
    """Where the keymap file is read from."""
    env = os.environ.get("CSTOOL_KEYS")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("cstool", appauthor=False)) / "keys.toml"


def _line_of(text: str, action: str) -> int:
    """The line of ``text`` that sets ``action`` (1 when not found)."""
    pattern = re.compile(rf"""^\s*["']?{re.escape(action)}["']?\s*=""")
    for n, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return n
    return 1


def key_problem(key: str) -> str | None:
    """Why ``key`` (one key, normalised) cannot be a binding, or None."""
    if not key:
        return "an empty key"
    *mods, base = key.split("+")
    unknown = [m for m in mods if m not in MODIFIERS]
    if unknown or not base:
        return f"{key!r} is not a key (modifiers are {', '.join(sorted(MODIFIERS))})"
    if base not in _KEY_NAMES and key_to_character(base) is None and len(base) != 1:
        return f"{key!r} is not a key name (like f2, ctrl+n, tab, pageup)"
    char = key_to_character(base)
    if set(mods) <= {"shift"} and char is not None and char.isprintable():
        return f"{key!r} types a character in the reply box; use a function key or ctrl+KEY"
    return None


def load_keymap(path: Path | None = None, defaults: dict[str, str] | None = None
                ) -> dict[str, str]:
    """The keymap (binding id -> keys, normalised) from ``path`` (default
    ``keymap_path()``; none when the file does not exist). ``defaults`` (binding id ->
    default keys) names the actions there are and the keys they keep when not remapped.
    Raises InvalidInput naming the file and line of the first problem."""
    path = path or keymap_path()
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{path}: cannot read the key file ({e})",
                           key="keys_file_unreadable", file=str(path), detail=str(e)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"line (\d+)", str(e))
        raise InvalidInput(f"{path}:{m[1] if m else 1}: not valid TOML ({e})",
                           key="keys_not_toml", at=f"{path}:{m[1] if m else 1}",
                           detail=str(e)) from None
    defaults = defaults or {}
    keymap: dict[str, str] = {}
    for action, value in data.items():
        where = f"{path}:{_line_of(text, action)}"
        if defaults and action not in defaults:
            raise InvalidInput(f"{where}: unknown action {action!r} (actions: "
                               f"{', '.join(sorted(defaults))})",
                               key="keys_unknown_action", at=where, name=repr(action),
                               known=', '.join(sorted(defaults)))
        if not isinstance(value, str):
            raise InvalidInput(f"{where}: {action} must be text like \"f2\" or \"f2,ctrl+n\"",
                               key="keys_not_text", at=where, name=action)
        keys = _normalize_key_list(value.strip().lower().replace(" ", ""))
        for key in keys.split(","):
            problem = key_problem(key)
            if problem:
                raise InvalidInput(f"{where}: {action}: {problem}",
                                   key="keys_bad_key", at=where, name=action, problem=problem)
        keymap[action] = keys
    owner: dict[str, str] = {}
    effective = {**defaults, **keymap}
    order = [a for a in keymap] + [a for a in defaults if a not in keymap]
    for action in order:
        for key in effective[action].split(","):
            other = owner.setdefault(key, action)
            if other != action:
                mine = action if action in keymap else other
                theirs = other if mine == action else action
                how = "remapped in this file" if theirs in keymap else "its default key"
                raise InvalidInput(
                    f"{path}:{_line_of(text, mine)}: {mine}: {key!r} is already the key of "
                    f"{theirs} ({how}); give one of them another key",
                    key="keys_collision", at=f"{path}:{_line_of(text, mine)}", name=mine,
                    the_key=repr(key), other=theirs, how=how)
    return keymap
