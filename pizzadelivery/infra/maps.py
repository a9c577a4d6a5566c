"""The map settings every page template may ask for (a context processor)."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def map_settings(request: HttpRequest) -> dict[str, Any]:
    """``map_tiles_url`` and ``map_attribution``: set, the pages draw a Leaflet map on those tiles."""
    return {"map_tiles_url": settings.MAP_TILES_URL, "map_attribution": settings.MAP_ATTRIBUTION}
