"""make screenshots: every picture the README embeds is one the script takes, and exists; each
shot names a page the script knows, a width of a phone or a desktop, and a demo account.
The full run (a demo stack and Chromium, about a minute) is `make screenshots`."""
from __future__ import annotations

import re
import struct
from pathlib import Path

from django.conf import settings

from pizzadelivery.demo import screenshots

README = Path(settings.BASE_DIR) / "README.md"


def embedded() -> set[str]:
    return set(re.findall(r"\]\(static/screenshots/([\w.-]+\.png)\)", README.read_text(encoding="utf-8")))


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", header[16:24])


def test_the_readme_embeds_only_what_the_script_takes_and_each_exists() -> None:
    taken = {shot.name for shot in screenshots.SHOTS}
    assert embedded(), "the README embeds no screenshot"
    assert embedded() <= taken
    for name in embedded():
        shot = next(shot for shot in screenshots.SHOTS if shot.name == name)
        width, _height = png_size(screenshots.OUT_DIR / name)
        assert width == shot.size[0], name  # taken at the width the script says


def test_every_shot_is_a_known_page_at_a_phone_or_desktop_width_in_a_known_language() -> None:
    languages = {code for code, _name in settings.LANGUAGES}
    for shot in screenshots.SHOTS:
        assert shot.page in screenshots.PAGES
        assert shot.size[0] in (390, 1024, 1280), shot
        assert shot.language in languages
        assert shot.login in (None, "dispatcher", "kitchen", "driver")
    assert {shot.size for shot in screenshots.SHOTS} >= {screenshots.PHONE, screenshots.DESKTOP}
    assert any(shot.language == "de" for shot in screenshots.SHOTS)
    pages = screenshots.pages_of(None, {"tracking_url": "http://127.0.0.1:1/track/abc/", "order_id": "x"})  # type: ignore[arg-type]
    assert set(pages) == screenshots.PAGES and pages["tracker"] == "/track/abc/"


def test_the_demo_order_comes_from_a_demo_pizzeria() -> None:
    from pizzadelivery.demo.seed import RESTAURANTS

    assert screenshots.PIZZERIA in {spec.slug for spec in RESTAURANTS}
