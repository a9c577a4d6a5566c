"""A stand-in for a Nominatim server: its /search JSON API on a local port, in a thread."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class StandIn:
    """A Nominatim /search stand-in: answers ``results`` (or ``status``) and records the queries."""

    results: list[dict] = field(default_factory=list)
    status: int = 200
    queries: list[dict] = field(default_factory=list)
    url: str = ""


@contextmanager
def serving() -> Iterator[StandIn]:
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            parts = urlsplit(self.path)
            stand_in.queries.append({"path": parts.path, **{k: v[0] for k, v in parse_qs(parts.query).items()},
                                     "user_agent": self.headers["User-Agent"]})
            body = json.dumps(stand_in.results if stand_in.status == 200 else {"error": "down"}).encode()
            self.send_response(stand_in.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stand_in.url = f"http://127.0.0.1:{server.server_port}"
    yield stand_in
    server.shutdown()
    server.server_close()


def hit(lat: float, lng: float, name: str = "Torstraße 1, Mitte, Berlin") -> dict:
    return {"place_id": 1, "lat": str(lat), "lon": str(lng), "display_name": name, "type": "house",
            "class": "place", "importance": 0.5, "boundingbox": [str(lat), str(lat), str(lng), str(lng)]}
