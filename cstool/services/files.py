"""Pictures, PDFs and short videos in chats (``ctx.files``).

A customer (the widget, the API) or the assigned agent (``conv reply --file``, the
console) sends a file as base64 text. Before anything is stored the bytes are checked:
at most the shop's limit (``max_file_mb``, default ``$CSTOOL_MAX_FILE_MB`` or 10 MB; a
shop may set a lower limit, never a higher one than the platform's), of a type a chat
takes as sniffed from the bytes (:mod:`cstool.file_types`; the name's extension counts
for nothing), and an image loses its metadata (EXIF, GPS, XMP, comments). The bytes
are then kept by SHA-256 (:class:`cstool.storage.file_blobs.FileBlobs`) and the message
(kind ``file``) is written with its file row in one transaction.

A file is reached only through its message and the message's conversation: staff by
their rights on the chat, the chat's customer by their token, the widget's ``<img>``
by a signed link that expires (``file_link``). No path is ever taken from a request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any

from ..auth import Forbidden
from ..errors import InvalidInput, NotFound, TooLarge
from ..file_types import BadFile, dimensions, human_size, sniff, strip_metadata
from ..storage.file_blobs import FileBlobs
from ..storage.repos.files import ChatFiles
from ..text_rules import check_text
from ..values import format_time
from .context import ServiceContext
from .messages import in_shop_language

DEFAULT_MAX_FILE_MB = 10
MB = 1024 * 1024
LINK_TTL_S = 600  # a widget's file link works for ten minutes
MAX_NAME_CHARS = 200
LABELS = {"image": ("图片", "Image"), "pdf": ("PDF", "PDF"), "video": ("视频", "Video")}
_DATA_URL = re.compile(r"^data:[\w.+/-]*(;[\w=.-]+)*;base64,")
TOKEN_RE = re.compile(r"^(\d{1,18})\.(\d{1,12})\.([0-9a-f]{32})\Z")


def platform_max_mb() -> int:
    """The platform's limit per file in MB: ``$CSTOOL_MAX_FILE_MB``, else 10."""
    raw = os.environ.get("CSTOOL_MAX_FILE_MB", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else DEFAULT_MAX_FILE_MB


def max_upload_body() -> int:
    """The largest request body an upload may need: the platform's limit in base64 with
    room for the JSON around it (the server lets upload routes take this much)."""
    return (platform_max_mb() * 1024 * 1024 * 4) // 3 + 64 * 1024


@dataclass(frozen=True)
class Attachment:
    """A checked file, ready to be stored: its clean bytes and what a message says of it."""

    name: str
    data: bytes
    sha256: str
    mime: str
    category: str
    width: int | None
    height: int | None

    @property
    def payload(self) -> dict:
        """The message's payload (what a client shows; never the bytes)."""
        return {"name": self.name, "type": self.mime, "category": self.category,
                "bytes": len(self.data), "sha256": self.sha256, "width": self.width,
                "height": self.height}

    def body(self, shop: dict) -> str:
        """The message's text: ``[图片 破损照片.jpg 1.2 MB]`` (in the shop's language)."""
        zh, en = LABELS[self.category]
        return f"[{in_shop_language(shop, zh, en)} {self.name} {human_size(len(self.data))}]"


def clean_name(name: Any, ext: str) -> str:
    """A file name to show: its last path part, no control characters, at most 200
    characters (``file.<ext>`` when nothing is left)."""
    if not isinstance(name, str):
        raise InvalidInput("file name must be text", key="file_name_bad")
    check_text(name, "file name")
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or name in (".", ".."):
        name = f"file.{ext}"
    if len(name) > MAX_NAME_CHARS:
        raise InvalidInput(f"file name too long ({len(name)} characters, at most "
                           f"{MAX_NAME_CHARS})", key="file_name_too_long",
                           length=len(name), max=MAX_NAME_CHARS)
    return name


def decode(data: Any, limit: int) -> bytes:
    """The bytes of base64 text (a ``data:...;base64,`` prefix allowed), refused
    (TooLarge) before decoding when they would pass ``limit`` bytes."""
    if not isinstance(data, str):
        raise InvalidInput("file data must be base64 text", key="file_data_bad")
    data = _DATA_URL.sub("", data, count=1)
    estimate = (len(data) * 3) // 4 - data[-2:].count("=")
    if estimate > limit:
        size = human_size(estimate) if estimate > limit * 1.1 else f"{estimate:,} bytes"
        most = f"{limit / MB:g} MB"
        raise TooLarge(f"file too large ({size}, at most {most})", key="chat_file_too_large",
                       size=size, most=most)
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("file data is not valid base64", key="file_data_bad") from None
    if not raw:
        raise InvalidInput("the file is empty", key="file_empty")
    return raw


def prepare(name: Any, data: Any, limit: int) -> Attachment:
    """Check and clean a file: size, type from the bytes, metadata stripped."""
    raw = decode(data, limit)
    kind = sniff(raw)
    if kind is None:
        raise InvalidInput("not a file a chat takes (JPEG, PNG, WebP, GIF, PDF or MP4, "
                           "judged by its content, not its name)", key="file_type_refused")
    try:
        clean = strip_metadata(kind, raw)
    except BadFile as e:
        raise InvalidInput(f"{e}", key="file_broken", type=kind.ext.upper()) from None
    size = dimensions(kind, clean)
    return Attachment(clean_name(name, kind.ext), clean, hashlib.sha256(clean).hexdigest(),
                      kind.mime, kind.category, *(size or (None, None)))


def shop_limit(shop: dict) -> int:
    """The shop's limit per file in bytes (its ``max_file_mb``, never above the
    platform's)."""
    mb = platform_max_mb()
    own = (shop.get("settings") or {}).get("max_file_mb")
    if isinstance(own, int) and 0 < own < mb:
        mb = own
    return mb * 1024 * 1024


def file_dict(row: dict) -> dict:
    """A file row in the public shape (no bytes)."""
    return {"message": row["message_id"], "conversation": row["conversation_id"],
            "name": row["name"], "type": row["mime"], "category": row["category"],
            "bytes": row["bytes"], "sha256": row["sha256"], "width": row["width"],
            "height": row["height"], "at": format_time(row["created_at"])}


class FileService:
    """Files in chats: sending them, reading them, signed links, forgetting them."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx
        self.blobs = FileBlobs(ctx.database)

    def _prepared(self, shop_key: str | None, conversation: int | None, name: Any,
                  data: Any) -> tuple[Attachment, dict]:
        with self.ctx.read() as uow:
            if conversation is not None:
                shop = uow.shops.by_id(uow.conversations.get(conversation)["shop_id"])
            else:
                shop = uow.shops.by_key(shop_key)
        return prepare(name, data, shop_limit(shop)), shop

    # -- sending -----------------------------------------------------------------------
    def post_file(self, shop: str, customer: str, name: str, data: str, *,
                  client_id: str | None = None, channel: str | None = None) -> dict:
        """A customer sends a file to a shop (as ``post_message``; the message's kind is
        ``file``)."""
        att, shop_row = self._prepared(shop, None, name, data)
        return self.ctx.desk.post_message(shop, customer, att.body(shop_row),
                                          client_id=client_id, channel=channel,
                                          attachment=att)

    def reply_file(self, agent: str, conversation: int, name: str, data: str) -> dict:
        """The assigned agent sends a file to the customer (as ``reply``)."""
        att, shop_row = self._prepared(None, conversation, name, data)
        return self.ctx.desk.reply(agent, conversation, att.body(shop_row), attachment=att)

    def attach(self, uow: Any, conv: dict, message: dict, att: Attachment) -> None:
        """Keep the file of ``message`` (inside the transaction that writes it)."""
        self.blobs.put(uow, att.sha256, att.data)
        uow.repo(ChatFiles).add(message["id"], conv["id"], conv["shop_id"], att.sha256,
                                att.name, att.mime, att.category, len(att.data), att.width,
                                att.height, uow.now)

    # -- reading -------------------------------------------------------------------------
    def _file(self, uow: Any, conversation: int, message: int) -> dict:
        uow.conversations.get(conversation)  # NotFound for an unknown chat
        row = uow.repo(ChatFiles).get(message)
        if row is None or row["conversation_id"] != conversation:
            raise NotFound(f"no file in message {message} of conversation {conversation}",
                           key="no_file", msg_id=message, conversation=conversation)
        return row

    def file_info(self, conversation: int, message: int) -> dict:
        """A file's name, type and size (no bytes)."""
        with self.ctx.read() as uow:
            return file_dict(self._file(uow, conversation, message))

    def get_file(self, conversation: int, message: int) -> dict:
        """A file with its bytes (``data``, base64)."""
        with self.ctx.read() as uow:
            row = self._file(uow, conversation, message)
            raw = self.blobs.get(uow, row["sha256"])
        if raw is None:
            raise NotFound(f"the bytes of the file in message {message} are gone",
                           key="file_gone", msg_id=message)
        return {**file_dict(row), "data": base64.b64encode(raw).decode("ascii")}

    def files_of(self, conversation_ids: list[int]) -> list[dict]:
        """The files of these chats (a ticket's pictures), oldest first."""
        with self.ctx.read() as uow:
            return [file_dict(r) for r in uow.repo(ChatFiles).of_conversations(
                conversation_ids)]

    # -- signed links (the widget's <img>) --------------------------------------------------
    def _key(self) -> bytes:
        with self.ctx.read() as uow:
            key = uow.repo(ChatFiles).link_key()
        if key is None:
            with self.ctx.write() as uow:
                uow.repo(ChatFiles).set_link_key(secrets.token_hex(32), uow.now)
                key = uow.repo(ChatFiles).link_key()
        return key.encode()

    def _sign(self, message: int, expires: int) -> str:
        text = f"{message}.{expires}"
        return hmac.new(self._key(), text.encode(), hashlib.sha256).hexdigest()[:32]

    def file_link(self, conversation: int, message: int) -> dict:
        """A link to the file that works without a token until it expires (ten minutes):
        ``url`` is a path on the server (``/files/<signed token>``)."""
        with self.ctx.read() as uow:
            self._file(uow, conversation, message)
        expires = self.ctx.now() // 1000 + LINK_TTL_S
        token = f"{message}.{expires}.{self._sign(message, expires)}"
        return {"url": f"/files/{token}", "expires_at": format_time(expires * 1000)}

    def open_link(self, token: str) -> tuple[dict, bytes]:
        """The file a signed link names, with its bytes; Forbidden when the signature is
        wrong or the link has expired."""
        m = TOKEN_RE.match(token or "")
        if m is None:
            raise Forbidden("not a file link", key="file_link_bad")
        message, expires, sig = int(m[1]), int(m[2]), m[3]
        if not hmac.compare_digest(sig, self._sign(message, expires)):
            raise Forbidden("not a file link", key="file_link_bad")
        if expires * 1000 < self.ctx.now():
            raise Forbidden("the file link has expired", key="file_link_expired")
        with self.ctx.read() as uow:
            row = uow.repo(ChatFiles).get(message)
            raw = None if row is None else self.blobs.get(uow, row["sha256"])
        if row is None or raw is None:
            raise NotFound("no such file", key="no_file_link")
        return file_dict(row), raw

    # -- forgetting ----------------------------------------------------------------------
    def forget(self, uow: Any, message_ids: list[int]) -> None:
        """Delete the files of these messages (inside the caller's transaction); bytes
        no other file shares go too."""
        for sha in uow.repo(ChatFiles).forget(message_ids):
            self.blobs.drop(uow, sha)
