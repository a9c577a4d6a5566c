"""A stand-in for a Nominatim server: its /search JSON API on a local port, in a thread."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from tests.local_http import Answer, serving_http


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

    def answer(request) -> Answer:
        parts = urlsplit(request.path)
        stand_in.queries.append({"path": parts.path, **{k: v[0] for k, v in parse_qs(parts.query).items()},
                                 "user_agent": request.headers["User-Agent"]})
        body = json.dumps(stand_in.results if stand_in.status == 200 else {"error": "down"}).encode()
        return stand_in.status, "application/json", body

    with serving_http(answer) as url:
        stand_in.url = url
        yield stand_in


def hit(lat: float, lng: float, name: str = "Torstraße 1, Mitte, Berlin") -> dict:
    return {"place_id": 1, "lat": str(lat), "lon": str(lng), "display_name": name, "type": "house",
            "class": "place", "importance": 0.5, "boundingbox": [str(lat), str(lat), str(lng), str(lng)]}
