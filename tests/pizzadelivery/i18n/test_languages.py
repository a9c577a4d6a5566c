"""English and German: chosen from Accept-Language or the switcher, every public page with the
switcher and its language in <html lang>, dates in each language's style, a catalogue that is
complete and compiled."""
from __future__ import annotations

import gettext
import re
import subprocess
from datetime import datetime
from zoneinfo import ZoneInfo
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import formats, translation

from pizzadelivery.models import Order
from pizzadelivery.tokens import tracking_token_for
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

BERLIN = ZoneInfo("Europe/Berlin")
CATALOGUE = Path(settings.BASE_DIR) / "locale" / "de" / "LC_MESSAGES"
SWITCHER = re.compile(r'<form class="lang-switch nav-form" method="post" action="/i18n/setlang/"')


def public_pages() -> list[str]:
    restaurant = factories.restaurant(slug="forno-lingua")
    factories.menu_item(restaurant, name="Margherita", size="M")
    order = factories.order(restaurant_obj=restaurant)
    return ["/", reverse("restaurant-menu", args=[restaurant.slug]), reverse("accounts:login"), "/no-such-page/",
            reverse("tracking:tracker", args=[tracking_token_for(order.id)])]


def test_english_by_default_and_german_when_the_browser_prefers_it(client: Client) -> None:
    for page in public_pages():
        english = client.get(page).content.decode()
        assert '<html lang="en">' in english, page
        assert SWITCHER.search(english), page
        german = client.get(page, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5").content.decode()
        assert '<html lang="de">' in german, page
        assert SWITCHER.search(german), page
        assert 'value="de" lang="de"' in german and "aria-current" in german


def test_german_pages_read_german(client: Client) -> None:
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Pizzerien" in html and "Zum Inhalt springen" in html and "Anmelden" in html
    missing = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="de")
    assert missing.status_code == 404 and "Diese Seite konnten wir nicht finden." in missing.content.decode()
    login = client.get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "Benutzername" in login and "Passwort" in login


def test_the_switcher_sets_the_language_and_returns_to_the_page(client: Client) -> None:
    menu = "/restaurants/forno-lingua/"
    factories.restaurant(slug="forno-lingua")

    response = client.post("/i18n/setlang/", {"language": "de"}, HTTP_REFERER=f"http://testserver{menu}")

    assert response.status_code == 302 and response["Location"] == f"http://testserver{menu}"
    html = client.get(menu, HTTP_ACCEPT_LANGUAGE="en").content.decode()  # the choice beats the browser
    assert '<html lang="de">' in html and "Alle Pizzerien" in html


def test_api_errors_stay_english_whatever_the_language(client: Client) -> None:
    response = client.get("/api/orders/not-a-uuid/delivery", HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_order_id"


@pytest.mark.parametrize(("language", "long", "short"), [
    ("en", "1 Dec 2026, 00:41", "01/12/2026 00:41"),
    ("de", "1. Dezember 2026 00:41", "01.12.2026 00:41"),
])
def test_dates_in_each_languages_style(language: str, long: str, short: str) -> None:
    moment = datetime(2026, 12, 1, 0, 41)
    with translation.override(language):
        assert formats.date_format(moment, "DATETIME_FORMAT") == long
        assert formats.date_format(moment, "SHORT_DATETIME_FORMAT") == short
        assert formats.time_format(moment) == "00:41"


def test_every_message_is_translated_and_the_compiled_catalogue_is_current(tmp_path: Path) -> None:
    po = (CATALOGUE / "django.po").read_text(encoding="utf-8")
    entries = po.split("\n\n")[1:]  # the header's msgstr is its fields
    untranslated = [entry for entry in entries if re.search(r'^msgstr(\[\d\])? ""$(?!\n")', entry, re.M)]
    assert not untranslated, untranslated
    assert "#, fuzzy" not in po
    fresh = tmp_path / "django.mo"
    if not Path("/usr/bin/msgfmt").exists():
        pytest.skip("no msgfmt (Debian's gettext, which make test installs where it can)")
    subprocess.run(["msgfmt", "--check-format", "-o", str(fresh), str(CATALOGUE / "django.po")], check=True)
    committed = gettext.GNUTranslations((CATALOGUE / "django.mo").open("rb"))._catalog
    compiled = gettext.GNUTranslations(fresh.open("rb"))._catalog
    assert committed == compiled, "run compilemessages (README, Translations) and commit locale/de/LC_MESSAGES/django.mo"


def test_the_admin_speaks_german_with_german_dates(client: Client) -> None:
    order = factories.order()
    Order.objects.filter(pk=order.pk).update(created_at=datetime(2026, 12, 1, 0, 41, tzinfo=BERLIN))
    client.force_login(factories.admin_user())
    changelist = reverse("admin:pizzadelivery_order_changelist")

    german = client.get(changelist, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    english = client.get(changelist, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert '<html lang="de"' in german and "Abmelden" in german
    assert "1. Dezember 2026 00:41" in german
    assert "1 Dec 2026, 00:41" in english and "a.m." not in english


def test_the_dispatchers_console_in_german(client: Client) -> None:
    factories.order_at("dispatched")
    client.force_login(factories.dispatcher_user())

    page = client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="de").content.decode()
    poll = client.get("/dashboard/live/", HTTP_ACCEPT_LANGUAGE="de").content.decode()

    assert 'ws-connect="/ws/dashboard/?lang=de"' in page
    assert "Laufende Lieferungen" in page and "Bestellungen heute" in page and "Active deliveries" not in page
    assert "Laufende Lieferungen" in poll and "Kennzahlen" in poll  # the poll with no versions: every fragment


def test_a_refused_checkout_is_explained_in_german_while_the_api_stays_english(client: Client) -> None:
    from decimal import Decimal

    from rest_framework.test import APIClient

    munich = factories.restaurant(name="Monaco", lat=Decimal("48.137154"), lng=Decimal("11.576124"))
    pizza = factories.menu_item(munich, name="Bavarese", size="M")
    client.post(reverse("cart-add", args=[munich.slug]), {"item": pizza.id})
    form = {"name": "Grace Hopper", "phone": "+49 30 555 0199", "address": "Lychener Straße 12",
            "district": "prenzlauer-berg"}

    page = client.post(reverse("checkout", args=[munich.slug]), form, HTTP_ACCEPT_LANGUAGE="de",
                       HTTP_HX_REQUEST="true")

    assert page.status_code == 422
    assert re.search(r"Diese Adresse ist \d+,\d km entfernt; Monaco liefert im Umkreis von 15 km.", page.content.decode())
    api = APIClient()
    api.force_authenticate(factories.admin_user())
    answer = api.post("/api/orders", {"restaurant": munich.id, "items": [{"menu_item": pizza.id, "quantity": 1}],
                                      "customer": {"name": "Grace", "phone": "+49 30 5550199"},
                                      "delivery_address": {"text": "Lychener Straße 12", "lat": 52.5449, "lng": 13.4175}},
                      format="json", HTTP_ACCEPT_LANGUAGE="de")
    assert answer.status_code == 400
    assert answer.json()["error"] == "out_of_delivery_area"
    assert re.fullmatch(r"That address is \d+\.\d km away; Monaco delivers within 15 km\.", answer.json()["detail"])
