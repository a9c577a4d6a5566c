"""Turning a customer's address into a point on the map: one small interface, chosen by
``settings.GEOCODER``.

The offline default is the gazetteer of the city the marketplace serves (Berlin): the customer
picks a district and the address lands inside it, at the district's centre plus a small offset
derived from the address text (the same text always lands on the same spot). It needs no
network, which is what a laptop demo and the tests want; a real geocoder plugs in beside it.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings


@dataclass(frozen=True)
class Place:
    """Where an address is, and how the geocoder wrote it back."""

    lat: float
    lng: float
    label: str


class Geocoder(Protocol):
    def geocode(self, street: str, *, district: str) -> Place | None:
        """The point of ``street`` (street and house number) in ``district`` (a district slug
        of the gazetteer), or None when the address cannot be found."""


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


class Gazetteer:
    """The offline geocoder: a known district, and the address text placed inside it."""

    def geocode(self, street: str, *, district: str) -> Place | None:
        known = DISTRICTS_BY_SLUG.get(district)
        if known is None:
            return None
        lat, lng = locate(known, street)
        return Place(lat, lng, f"{' '.join(street.split())}, {known.name}")


GEOCODERS: dict[str, type] = {"gazetteer": Gazetteer}


def geocoder() -> Geocoder:
    """The geocoder the settings name (``GEOCODER``; default ``gazetteer``)."""
    return GEOCODERS[settings.GEOCODER]()
