"""Geocoding: the offline gazetteer (refuses what it does not know, never guesses) and
Nominatim through geopy, against a local stand-in speaking Nominatim's /search JSON API."""
from __future__ import annotations

import pytest

from pizzadelivery import geocoding
from pizzadelivery.geocoding import DISTRICTS, DISTRICTS_BY_SLUG, Gazetteer, GeocoderUnavailable
from tests.nominatim_stand_in import hit


def test_the_gazetteer_knows_every_demo_street() -> None:
    for district in DISTRICTS:
        for street in district.streets:
            place = Gazetteer().geocode(f"{street} {len(street)}", district=district.slug)
            assert place is not None and place.label == f"{street} {len(street)}, {district.name}"
            assert (place.lat, place.lng) == geocoding.locate(district, f"{street} {len(street)}")


@pytest.mark.parametrize("address", ["torstrasse 12a", "Torstr. 5", "TORSTRASSE  7, Hinterhaus", "Torstraße 1"])
def test_the_gazetteer_reads_the_usual_spellings(address) -> None:
    assert Gazetteer().geocode(address, district="mitte") is not None


@pytest.mark.parametrize("address, district", [
    ("Bahnhofstraße 3", "mitte"),  # no such street in its list: refused, not placed at random
    ("Torstraße", "mitte"),  # no house number
    ("Torstraße 1", "kreuzberg"),  # a street of another district
    ("Torstraße 1", "atlantis"),
    ("Torstraßenbahn 1", "mitte"),
])
def test_the_gazetteer_refuses_what_it_does_not_know(address, district) -> None:
    assert Gazetteer().geocode(address, district=district) is None


def test_nominatim_finds_the_address_through_geopy(nominatim) -> None:
    nominatim.results = [hit(52.52934, 13.40116)]
    place = geocoding.geocoder().geocode("Torstraße  1", district="mitte")
    assert place == geocoding.Place(52.52934, 13.40116, "Torstraße 1, Mitte")
    asked = nominatim.queries[-1]
    assert asked["path"] == "/search" and asked["q"] == "Torstraße 1, Mitte, Berlin" and asked["format"] == "json"
    assert asked["bounded"] == "1" and asked["user_agent"].startswith("pizzadelivery")


def test_nominatim_unknown_or_outside_the_city_is_none(nominatim) -> None:
    assert geocoding.geocoder().geocode("Nowherestraße 1", district="mitte") is None
    nominatim.results = [hit(48.137, 11.575, "Torstraße 1, München")]
    assert geocoding.geocoder().geocode("Torstraße 1", district="mitte") is None


def test_nominatim_down_is_unavailable_not_unknown(nominatim) -> None:
    nominatim.status = 503
    with pytest.raises(GeocoderUnavailable):
        geocoding.geocoder().geocode("Torstraße 1", district="mitte")


def test_the_service_area() -> None:
    mitte = DISTRICTS_BY_SLUG["mitte"]
    assert geocoding.in_service_area(mitte.lat, mitte.lng)
    assert not geocoding.in_service_area(48.137, 11.575)  # Munich
