"""User key remapping: a TOML file mapping binding ids to keys.

``$CSTOOL_KEYS`` or ``<user config dir>/cstool/keys.toml``, for example::

    accept = "f2,ctrl+a"
    send = "enter"
    newline = "ctrl+j"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path


def keymap_path() -> Path:
    """Where the keymap file is read from."""
    env = os.environ.get("CSTOOL_KEYS")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("cstool", appauthor=False)) / "keys.toml"


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], str | None]:
    """The keymap (binding id -> keys) and a warning line if the file could not be used."""
    path = path or keymap_path()
    if not path.exists():
        return {}, None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        return {}, f"{path}: not valid TOML ({e}); default keys in use"
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    if bad:
        return {}, f"{path}: {bad[0]} must be a text like \"f2\"; default keys in use"
    return dict(data), None
