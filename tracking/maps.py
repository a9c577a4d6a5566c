"""The tracker's route map, drawn on the server as SVG: works offline, needs no map tiles.

Positions are projected onto a flat plane (metres east and north of the centre; fine at a
city's scale) and fitted into a fixed viewBox with the same scale on both axes, so distances
on screen are true to each other and a scale bar can say how far things are.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

LatLng = tuple[float, float]

WIDTH, HEIGHT = 640, 360
# Room around the outermost points for the pins, and below them for their labels.
PAD_X, PAD_TOP, PAD_BOTTOM = 60, 36, 66
METRES_PER_DEGREE = 111_320
MIN_SPAN_M = 600  # two points a street apart still get a readable map
NICE_SCALES_M = [20, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10_000, 20_000]
SCALE_BAR_TARGET_PX = 110
MAX_DRAWN_POINTS = 160
LABEL_OFFSET = 31


@dataclass(frozen=True)
class Point:
    x: float
    y: float

    @property
    def svg(self) -> str:
        return f"{self.x:.1f},{self.y:.1f}"

    @property
    def translate(self) -> str:
        """For an SVG transform attribute: ``translate({{ point.translate }})``."""
        return f"{self.x:.1f} {self.y:.1f}"

    @property
    def label_xy(self) -> tuple[str, str]:
        """Where a pin's caption goes: centred under it."""
        return f"{self.x:.1f}", f"{self.y + LABEL_OFFSET:.1f}"

    @property
    def css_translate(self) -> str:
        """For a CSS transform, which (unlike the attribute) can be animated."""
        return f"{self.x:.1f}px, {self.y:.1f}px"


@dataclass(frozen=True)
class RouteMap:
    width: int
    height: int
    restaurant: Point
    destination: Point
    driver: Point | None
    travelled: str   # SVG polyline points: the path the driver took on this order
    remaining: str   # the way still to go: via the shop while the driver heads there
    scale_px: float
    scale_label: str
    # The same points in degrees, for a Leaflet map on real tiles (MAP_TILES_URL): JSON with
    # restaurant, destination, driver (or null), travelled and remaining as [lat, lng] lists.
    geo_json: str = "{}"

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def scale_end(self) -> str:
        return f"{self.scale_px:.1f}"


def _thin(points: list[LatLng], limit: int = MAX_DRAWN_POINTS) -> list[LatLng]:
    """Every n-th point, always keeping the last (the driver's latest position)."""
    if len(points) <= limit:
        return points
    step = math.ceil(len(points) / limit)
    return points[::step] + ([points[-1]] if (len(points) - 1) % step else [])


def _scale(metres_per_px: float) -> tuple[float, str]:
    target = SCALE_BAR_TARGET_PX * metres_per_px
    metres = max([s for s in NICE_SCALES_M if s <= target], default=NICE_SCALES_M[0])
    label = f"{metres / 1000:g} km" if metres >= 1000 else f"{metres} m"
    return metres / metres_per_px, label


def route_map(*, restaurant: LatLng, destination: LatLng, driver: LatLng | None,
              travelled: list[LatLng], status: str) -> RouteMap:
    travelled = _thin(travelled)
    if status == "dispatched" and driver:
        remaining = [driver, restaurant, destination]
    elif status == "out_for_delivery" and driver:
        remaining = [driver, destination]
    elif status in ("delivered", "cancelled"):
        remaining = []
    else:
        remaining = [restaurant, destination]

    everything = [restaurant, destination, *travelled, *([driver] if driver else [])]
    mid_lat = math.radians(sum(lat for lat, _ in everything) / len(everything))
    east = METRES_PER_DEGREE * math.cos(mid_lat)

    def metres(p: LatLng) -> tuple[float, float]:
        return p[1] * east, p[0] * METRES_PER_DEGREE

    xs, ys = zip(*(metres(p) for p in everything))
    inner_w, inner_h = WIDTH - 2 * PAD_X, HEIGHT - PAD_TOP - PAD_BOTTOM
    metres_per_px = max((max(xs) - min(xs)) / inner_w, (max(ys) - min(ys)) / inner_h, MIN_SPAN_M / inner_w)
    centre_x, centre_y = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def project(p: LatLng) -> Point:
        x, y = metres(p)
        return Point(WIDTH / 2 + (x - centre_x) / metres_per_px,
                     PAD_TOP + inner_h / 2 - (y - centre_y) / metres_per_px)

    def polyline(points: list[LatLng]) -> str:
        return " ".join(project(p).svg for p in points) if len(points) >= 2 else ""

    scale_px, scale_label = _scale(metres_per_px)
    return RouteMap(
        width=WIDTH, height=HEIGHT, restaurant=project(restaurant), destination=project(destination),
        driver=project(driver) if driver else None, travelled=polyline(travelled),
        remaining=polyline(remaining), scale_px=round(scale_px, 1), scale_label=scale_label,
        geo_json=json.dumps({"restaurant": restaurant, "destination": destination, "driver": driver,
                             "travelled": travelled, "remaining": remaining if len(remaining) >= 2 else []}),
    )
