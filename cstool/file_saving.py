"""A chat's files on the agent's own machine, for the front ends: reading one to send
(``conv reply --file``, the console's attach key) and saving one into a folder (``conv
file``, the console's save key), under a safe name that never overwrites a file."""

from __future__ import annotations

import base64
from pathlib import Path

from .errors import InvalidInput, TooLarge
from .file_types import human_size
from .services.files import MB, clean_name, platform_max_mb


def read_upload(path: Path) -> str:
    """The file at ``path`` as base64 text; refused (one line) when it is not a readable
    file or is over the platform's limit (checked before reading it)."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise OSError("not a file")
    except OSError as e:
        raise InvalidInput(f"{path}: cannot read ({e.strerror or e})", key="file_unreadable",
                           file=str(path), detail=str(e.strerror or e)) from None
    limit = platform_max_mb() * MB
    if size > limit:
        raise TooLarge(f"file too large ({human_size(size)}, at most {limit / MB:g} MB)",
                       key="chat_file_too_large", size=human_size(size),
                       most=f"{limit / MB:g} MB")
    return base64.b64encode(path.read_bytes()).decode("ascii")


def save_download(got: dict, folder: Path) -> Path:
    """Write a fetched file (``get_file``'s answer) into ``folder`` under its own name
    (made safe; ``name (2).jpg`` when the name is taken); the path written."""
    if not folder.is_dir():
        raise InvalidInput(f"{folder}: not a folder", key="file_folder_missing",
                           the_path=str(folder))
    name = clean_name(got["name"], "bin")
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    target, n = folder / name, 1
    while target.exists():
        n += 1
        target = folder / f"{stem} ({n}){dot}{ext}"
    target.write_bytes(base64.b64decode(got["data"]))
    return target
