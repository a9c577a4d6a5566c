"""A tiny map tile server for the browser tests: a PNG for every /{z}/{x}/{y}.png, each request
recorded, in a thread on a local port."""
from __future__ import annotations

import re
import struct
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            match = TILE_PATH.match(self.path)
            if not match:
                self.send_error(404)
                return
            tiles.requested.append(tuple(int(part) for part in match.groups()))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tiles.url = f"http://127.0.0.1:{server.server_port}"
    yield tiles
    server.shutdown()
    server.server_close()
