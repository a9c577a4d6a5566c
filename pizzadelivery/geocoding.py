"""Turning a customer's address into a point on the map: one small interface, chosen by
``settings.GEOCODER``.

The offline default is the gazetteer of the city the marketplace serves (Berlin): the customer
picks a district and names one of its streets (the gazetteer knows a handful per district) with
a house number; the address lands inside the district, at its centre plus a small offset derived
from the address text (the same text always lands on the same spot). A street it does not know
is refused, never guessed. It needs no network, which is what a laptop demo and the tests want.
``GEOCODER=nominatim`` asks a Nominatim server (``GEOCODER_URL``) through geopy instead.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from django.conf import settings
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim

from pizzadelivery.eta import haversine_m


@dataclass(frozen=True)
class Place:
    """Where an address is, and how the geocoder wrote it back."""

    lat: float
    lng: float
    label: str


class GeocoderUnavailable(Exception):
    """The geocoder did not answer (down, slow, refusing): try again later, it is not the address."""


class Geocoder(Protocol):
    def geocode(self, street: str, *, district: str) -> Place | None:
        """The point of ``street`` (street and house number) in ``district`` (a district slug
        of the gazetteer), or None when the address cannot be found. Raises
        ``GeocoderUnavailable`` when it cannot tell."""


@dataclass(frozen=True)
class District:
    slug: str
    name: str
    lat: float
    lng: float
    streets: tuple[str, ...]


DISTRICTS: tuple[District, ...] = (
    District("mitte", "Mitte", 52.5208, 13.4009,
             ("Torstraße", "Linienstraße", "Auguststraße", "Rosenthaler Straße", "Invalidenstraße")),
    District("prenzlauer-berg", "Prenzlauer Berg", 52.5395, 13.4245,
             ("Kastanienallee", "Schönhauser Allee", "Danziger Straße", "Lychener Straße", "Stargarder Straße")),
    District("friedrichshain", "Friedrichshain", 52.5155, 13.4535,
             ("Boxhagener Straße", "Simon-Dach-Straße", "Warschauer Straße", "Grünberger Straße", "Revaler Straße")),
    District("kreuzberg", "Kreuzberg", 52.4975, 13.4120,
             ("Oranienstraße", "Wiener Straße", "Bergmannstraße", "Adalbertstraße", "Skalitzer Straße")),
    District("neukoelln", "Neukölln", 52.4795, 13.4365,
             ("Sonnenallee", "Weserstraße", "Karl-Marx-Straße", "Hermannstraße", "Pannierstraße")),
    District("schoeneberg", "Schöneberg", 52.4840, 13.3530,
             ("Akazienstraße", "Goltzstraße", "Hauptstraße", "Potsdamer Straße", "Winterfeldtstraße")),
    District("charlottenburg", "Charlottenburg", 52.5085, 13.3050,
             ("Kantstraße", "Grolmanstraße", "Bleibtreustraße", "Wilmersdorfer Straße", "Knesebeckstraße")),
    District("wilmersdorf", "Wilmersdorf", 52.4875, 13.3190,
             ("Uhlandstraße", "Pariser Straße", "Berliner Straße", "Brandenburgische Straße", "Prinzregentenstraße")),
    District("moabit", "Moabit", 52.5290, 13.3430,
             ("Turmstraße", "Stephanstraße", "Beusselstraße", "Perleberger Straße", "Alt-Moabit")),
    District("wedding", "Wedding", 52.5480, 13.3570,
             ("Müllerstraße", "Seestraße", "Utrechter Straße", "Triftstraße", "Amsterdamer Straße")),
    District("gesundbrunnen", "Gesundbrunnen", 52.5505, 13.3860,
             ("Badstraße", "Prinzenallee", "Koloniestraße", "Swinemünder Straße", "Stettiner Straße")),
    District("tempelhof", "Tempelhof", 52.4690, 13.3850,
             ("Tempelhofer Damm", "Manfred-von-Richthofen-Straße", "Boelckestraße", "Kaiserin-Augusta-Straße",
              "Alt-Tempelhof")),
    District("alt-treptow", "Alt-Treptow", 52.4910, 13.4630,
             ("Karl-Kunger-Straße", "Elsenstraße", "Bouchéstraße", "Kiefholzstraße", "Plesser Straße")),
    District("lichtenberg", "Lichtenberg", 52.5120, 13.4990,
             ("Frankfurter Allee", "Möllendorffstraße", "Weitlingstraße", "Fanningerstraße", "Siegfriedstraße")),
    District("pankow", "Pankow", 52.5695, 13.4020,
             ("Florastraße", "Breite Straße", "Wollankstraße", "Mühlenstraße", "Schulstraße")),
    District("weissensee", "Weißensee", 52.5540, 13.4650,
             ("Berliner Allee", "Langhansstraße", "Gustav-Adolf-Straße", "Pistoriusstraße", "Lehderstraße")),
    District("friedenau", "Friedenau", 52.4710, 13.3300,
             ("Rheinstraße", "Handjerystraße", "Bundesallee", "Südwestkorso", "Stubenrauchstraße")),
    District("steglitz", "Steglitz", 52.4560, 13.3210,
             ("Schloßstraße", "Albrechtstraße", "Grunewaldstraße", "Birkbuschstraße", "Lepsiusstraße")),
)
DISTRICTS_BY_SLUG: dict[str, District] = {district.slug: district for district in DISTRICTS}

# About ±450 m north-south and ±550 m east-west: inside the district, never on its centre.
JITTER_DEGREES = (0.008, 0.016)


def stable_fractions(text: str, count: int) -> list[float]:
    """``count`` numbers in [0, 1) derived from ``text`` (stable across runs and machines)."""
    digest = hashlib.sha256(text.encode()).digest()
    return [int.from_bytes(digest[4 * i:4 * i + 4], "big") / 2**32 for i in range(count)]


def locate(district: District, address: str) -> tuple[float, float]:
    """The address's position: its district's centre plus an offset from the normalised text."""
    normalised = " ".join(address.casefold().split())
    north, east = stable_fractions(f"{district.slug}|{normalised}", 2)
    return (round(district.lat + (north - 0.5) * JITTER_DEGREES[0], 6),
            round(district.lng + (east - 0.5) * JITTER_DEGREES[1], 6))


CITY_NAME = "Berlin"
# The service area: within this distance of a district's centre (the gazetteer's city).
SERVICE_AREA_KM = 3.0
_HOUSE_NUMBER = re.compile(r"\s+\d{1,4}\s?[a-z]?(?:\b|$)", re.IGNORECASE)


def _street_key(text: str) -> str:
    """A street's name as compared: case, spacing and the usual spellings of "Straße" aside."""
    text = " ".join(text.casefold().split())
    return re.sub(r"(str\.|strasse)(?=\s|$)", "straße", text)


def known_street(district: District, address: str) -> str | None:
    """The district's street that ``address`` (street, house number, maybe more) names, or None."""
    key = _street_key(address)
    for street in sorted(district.streets, key=len, reverse=True):
        name = _street_key(street)
        if key.startswith(name) and _HOUSE_NUMBER.match(key[len(name):]):
            return street
    return None


def in_service_area(lat: float, lng: float) -> bool:
    """Whether a point is in the city the marketplace serves (near one of its districts)."""
    return any(haversine_m(lat, lng, d.lat, d.lng) <= SERVICE_AREA_KM * 1000 for d in DISTRICTS)


class Gazetteer:
    """The offline geocoder: a known street of a known district, placed inside the district."""

    def geocode(self, street: str, *, district: str) -> Place | None:
        known = DISTRICTS_BY_SLUG.get(district)
        if known is None or known_street(known, street) is None:
            return None
        lat, lng = locate(known, street)
        return Place(lat, lng, f"{' '.join(street.split())}, {known.name}")


class NominatimGeocoder:
    """A Nominatim server (``GEOCODER_URL``), asked through geopy: the best match inside the city."""

    def __init__(self) -> None:
        parts = urlsplit(settings.GEOCODER_URL)
        self.client = Nominatim(domain=(parts.netloc + parts.path).rstrip("/"), scheme=parts.scheme or "https",
                                user_agent=settings.GEOCODER_USER_AGENT, timeout=settings.GEOCODER_TIMEOUT)

    def geocode(self, street: str, *, district: str) -> Place | None:
        known = DISTRICTS_BY_SLUG.get(district)
        if known is None:
            return None
        lats, lngs = [d.lat for d in DISTRICTS], [d.lng for d in DISTRICTS]
        margin = 0.03
        try:
            found = self.client.geocode(f"{' '.join(street.split())}, {known.name}, {CITY_NAME}", exactly_one=True,
                                        viewbox=[(min(lats) - margin, min(lngs) - margin),
                                                 (max(lats) + margin, max(lngs) + margin)], bounded=True)
        except GeopyError as exc:
            raise GeocoderUnavailable(str(exc)) from exc
        if found is None or not in_service_area(found.latitude, found.longitude):
            return None
        return Place(round(found.latitude, 6), round(found.longitude, 6), f"{' '.join(street.split())}, {known.name}")


GEOCODERS: dict[str, type] = {"gazetteer": Gazetteer, "nominatim": NominatimGeocoder}


def geocoder() -> Geocoder:
    """The geocoder the settings name (``GEOCODER``; default ``gazetteer``)."""
    return GEOCODERS[settings.GEOCODER]()
