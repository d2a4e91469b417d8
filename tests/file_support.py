"""Small files for the tests of files in chats, built byte by byte: a real PNG (with a
text chunk and an EXIF chunk that must not survive), a JPEG whose EXIF segment carries
GPS tags (and a comment), a PDF, an MP4 header and a renamed executable."""

from __future__ import annotations

import base64
import struct
import zlib

GPS_MARK = b"GPSLatitude=31.2304N"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def png(width: int = 4, height: int = 3, *, text: bytes = b"Author\x00Wang Li " + GPS_MARK,
        rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A valid RGB PNG of one colour with a tEXt and an eXIf chunk (metadata)."""
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"tEXt", text)
            + _chunk(b"eXIf", b"MM\x00*" + GPS_MARK)
            + _chunk(b"IDAT", zlib.compress(row * height))
            + _chunk(b"IEND", b""))


def jpeg_with_exif(width: int = 640, height: int = 480) -> bytes:
    """A JPEG's structure (JFIF, EXIF with GPS, a comment, a frame header, a scan)."""
    def seg(marker: int, data: bytes) -> bytes:
        return bytes((0xFF, marker)) + struct.pack(">H", len(data) + 2) + data
    return (b"\xff\xd8"
            + seg(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
            + seg(0xE1, b"Exif\x00\x00MM\x00*" + GPS_MARK * 3)
            + seg(0xFE, b"taken at home " + GPS_MARK)
            + seg(0xDB, b"\x00" + bytes(range(1, 65)))
            + seg(0xC0, b"\x08" + struct.pack(">HH", height, width) + b"\x01\x01\x11\x00")
            + seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
            + b"\x12\x34\x56\x78" * 16 + b"\xff\xd9")


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00\x00\x00\x08free"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64 + b"PE\x00\x00"


def b64(data: bytes) -> str:
    """Base64 text of ``data`` (what the API takes)."""
    return base64.b64encode(data).decode("ascii")
