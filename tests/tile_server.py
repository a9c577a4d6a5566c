"""A tiny map tile server for the browser tests: a PNG for every /{z}/{x}/{y}.png, each request
recorded, in a thread on a local port."""
from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.local_http import Answer, serving_http

TILE_PATH = re.compile(r"^/(\d+)/(\d+)/(\d+)\.png$")


def png(width: int = 256, height: int = 256, rgb: tuple[int, int, int] = (236, 230, 218)) -> bytes:
    """A plain, valid PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@dataclass
class TileServer:
    url: str = ""
    requested: list[tuple[int, int, int]] = field(default_factory=list)

    @property
    def template(self) -> str:
        return f"{self.url}/{{z}}/{{x}}/{{y}}.png"


@contextmanager
def serving() -> Iterator[TileServer]:
    tiles = TileServer()
    body = png()

    def answer(request) -> Answer:
        match = TILE_PATH.match(request.path)
        if not match:
            return 404, "text/plain", b"no such tile"
        tiles.requested.append(tuple(int(part) for part in match.groups()))
        return 200, "image/png", body

    with serving_http(answer) as url:
        tiles.url = url
        yield tiles
