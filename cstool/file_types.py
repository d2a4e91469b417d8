"""What a file sent in a chat is, read from its bytes (never its name), and the same
file without the metadata a photo carries (EXIF with GPS, XMP, comments, text chunks).

Pure: bytes in, bytes and facts out (no I/O, no clock). The types a chat takes:

========  =====================  ==============================================
category  type                   recognised by
========  =====================  ==============================================
image     image/jpeg             ``FF D8 FF``
image     image/png              ``89 50 4E 47 0D 0A 1A 0A``
image     image/gif              ``GIF87a`` / ``GIF89a``
image     image/webp             ``RIFF`` .... ``WEBP``
pdf       application/pdf        ``%PDF-``
video     video/mp4              a first box ``ftyp`` with an MP4/QuickTime brand
========  =====================  ==============================================

Stripping is done by hand, segment by segment, so that the picture's pixels are never
decoded (no decompression bombs, no image library): JPEG keeps its frame, tables,
JFIF (APP0), colour profile (APP2 ``ICC_PROFILE``) and Adobe (APP14) segments and drops
every other APPn (EXIF and XMP live in APP1) and comments; PNG drops its text, time and
EXIF chunks; WebP drops its ``EXIF`` and ``XMP `` chunks (and their flags); GIF drops
comment extensions. A file whose structure does not parse is refused (``BadFile``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


class BadFile(ValueError):
    """The bytes are not a file of a type a chat takes (or are a broken one)."""


@dataclass(frozen=True)
class FileType:
    """A recognised type: category (image, pdf, video), MIME type and usual extension."""

    category: str
    mime: str
    ext: str


JPEG = FileType("image", "image/jpeg", "jpg")
PNG = FileType("image", "image/png", "png")
GIF = FileType("image", "image/gif", "gif")
WEBP = FileType("image", "image/webp", "webp")
PDF = FileType("pdf", "application/pdf", "pdf")
MP4 = FileType("video", "video/mp4", "mp4")
TYPES = (JPEG, PNG, GIF, WEBP, PDF, MP4)
MP4_BRANDS = (b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
              b"M4V ", b"M4A ", b"qt  ", b"dash", b"mmp4", b"MSNV", b"3gp4", b"3gp5")


def sniff(data: bytes) -> FileType | None:
    """The type of ``data`` by its magic number, or None when a chat does not take it."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data.startswith(b"%PDF-"):
        return PDF
    if data[4:8] == b"ftyp" and data[8:12] in MP4_BRANDS:
        return MP4
    return None


# -- stripping ---------------------------------------------------------------------------
_JPEG_KEEP_APP = {0xE0, 0xEE}  # JFIF, Adobe (APP2 kept only for ICC_PROFILE)
_PNG_DROP = {b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf"}


def strip_metadata(kind: FileType, data: bytes) -> bytes:
    """``data`` without its metadata (images; other types unchanged). Raises BadFile
    when the structure does not parse."""
    try:
        if kind is JPEG:
            return _strip_jpeg(data)
        if kind is PNG:
            return _strip_png(data)
        if kind is WEBP:
            return _strip_webp(data)
        if kind is GIF:
            return _strip_gif(data)
    except (IndexError, struct.error):
        raise BadFile(f"a broken {kind.ext.upper()} file") from None
    return data


def _strip_jpeg(data: bytes) -> bytes:
    out = bytearray(b"\xff\xd8")
    i = 2
    while True:
        if i >= len(data) or data[i] != 0xFF:
            raise BadFile("a broken JPEG file")
        while data[i] == 0xFF:  # fill bytes
            i += 1
        marker = data[i]
        i += 1
        if marker == 0xD9:  # end of image before any scan
            out += b"\xff\xd9"
            return bytes(out)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # no length
            out += bytes((0xFF, marker))
            continue
        (length,) = struct.unpack(">H", data[i:i + 2])
        if length < 2 or i + length > len(data):
            raise BadFile("a broken JPEG file")
        segment = data[i:i + length]
        if marker == 0xDA:  # start of scan: the rest is image data (and the end marker)
            out += bytes((0xFF, marker)) + data[i:]
            return bytes(out)
        keep = True
        if 0xE0 <= marker <= 0xEF:
            keep = marker in _JPEG_KEEP_APP or (marker == 0xE2
                                                and segment[2:14] == b"ICC_PROFILE\x00")
        elif marker == 0xFE:  # comment
            keep = False
        if keep:
            out += bytes((0xFF, marker)) + segment
        i += length


def _strip_png(data: bytes) -> bytes:
    out = bytearray(data[:8])
    i = 8
    while i < len(data):
        (length,) = struct.unpack(">I", data[i:i + 4])
        ctype = data[i + 4:i + 8]
        end = i + 12 + length
        if end > len(data):
            raise BadFile("a broken PNG file")
        if ctype not in _PNG_DROP:
            out += data[i:end]
        i = end
        if ctype == b"IEND":
            return bytes(out)
    raise BadFile("a broken PNG file")


def _strip_webp(data: bytes) -> bytes:
    chunks = bytearray()
    i = 12
    (riff_size,) = struct.unpack("<I", data[4:8])
    end = min(len(data), 8 + riff_size)
    vp8x_at = None
    while i + 8 <= end:
        ctype = data[i:i + 4]
        (length,) = struct.unpack("<I", data[i + 4:i + 8])
        stop = i + 8 + length + (length & 1)
        if i + 8 + length > end:
            raise BadFile("a broken WEBP file")
        if ctype not in (b"EXIF", b"XMP "):
            if ctype == b"VP8X":
                vp8x_at = len(chunks)
            chunks += data[i:min(stop, end)]
        i = stop
    if vp8x_at is not None:  # clear the EXIF (0x08) and XMP (0x04) flags
        chunks[vp8x_at + 8] &= ~0x0C & 0xFF
    return b"RIFF" + struct.pack("<I", len(chunks) + 4) + b"WEBP" + bytes(chunks)


def _strip_gif(data: bytes) -> bytes:
    out = bytearray(data[:13])
    flags = data[10]
    i = 13
    if flags & 0x80:  # global colour table
        size = 3 * (2 << (flags & 7))
        out += data[i:i + size]
        i += size
    while True:
        b = data[i]
        if b == 0x3B:  # trailer
            out.append(0x3B)
            return bytes(out)
        if b == 0x21:  # extension: label, then sub-blocks
            label = data[i + 1]
            j = i + 2
            while data[j] != 0:
                j += data[j] + 1
            j += 1
            if label != 0xFE:  # comment extensions are dropped
                out += data[i:j]
            i = j
        elif b == 0x2C:  # image descriptor, optional local table, LZW size, sub-blocks
            lflags = data[i + 9]
            j = i + 10
            if lflags & 0x80:
                j += 3 * (2 << (lflags & 7))
            j += 1
            while data[j] != 0:
                j += data[j] + 1
            j += 1
            out += data[i:j]
            i = j
        else:
            raise BadFile("a broken GIF file")


# -- dimensions ----------------------------------------------------------------------------
def dimensions(kind: FileType, data: bytes) -> tuple[int, int] | None:
    """(width, height) of an image, or None when not an image or not found."""
    try:
        if kind is PNG and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if kind is GIF:
            return struct.unpack("<HH", data[6:10])
        if kind is JPEG:
            return _jpeg_size(data)
        if kind is WEBP:
            return _webp_size(data)
    except (IndexError, struct.error):
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                      0xCE, 0xCF):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        if marker == 0xDA:
            return None
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    ctype = data[12:16]
    if ctype == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return w, h
    if ctype == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if ctype == b"VP8L":
        b = int.from_bytes(data[21:25], "little")
        return (b & 0x3FFF) + 1, ((b >> 14) & 0x3FFF) + 1
    return None


def human_size(n: int) -> str:
    """A byte count as people read it: ``812 B``, ``34 KB``, ``1.2 MB``."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"
