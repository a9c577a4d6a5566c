"""The driver's app fragment: rendered once per change, shared by the page, the HTTP resync and
the socket push."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.template.loader import render_to_string

from pizzadelivery.models import Driver, Order
from pizzadelivery.services import PIN_TRIES

TEMPLATE = "courier/_app.html"


def map_links(lat: float, lng: float, label: str) -> dict[str, str]:
    """Links that open the phone's own map app at a place (geo: on Android, Apple Maps on iOS)."""
    return {"geo": f"geo:{lat:.6f},{lng:.6f}?q={lat:.6f},{lng:.6f}({quote(label)})",
            "apple": f"https://maps.apple.com/?daddr={lat:.6f},{lng:.6f}&q={quote(label)}"}


def context(driver: Driver, job: Order | None) -> dict[str, Any]:
    place = None
    if job is not None:
        if job.delivery_status == "dispatched":
            shop = job.restaurant
            place = {"kind": "pickup", "name": shop.name, "address": shop.address,
                     "links": map_links(float(shop.lat), float(shop.lng), shop.name)}
        else:
            place = {"kind": "dropoff", "name": job.customer.name.split(" ")[0], "address": job.delivery_address,
                     "links": map_links(float(job.delivery_lat), float(job.delivery_lng), job.delivery_address)}
    return {"driver": driver, "job": job, "place": place, "pin_tries": PIN_TRIES,
            "item_count": sum(item.quantity for item in job.items.all()) if job else 0,
            "tries_left": PIN_TRIES - job.pin_attempts if job else PIN_TRIES}


def render(driver: Driver, job: Order | None) -> str:
    return render_to_string(TEMPLATE, context(driver, job))
