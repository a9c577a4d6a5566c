"""The mirror owns its keys: nothing else in the product spells one, and every key the mirror
writes is one ``pizzadelivery.mirror.keys`` names."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from events.publisher import rebuild_projections
from pizzadelivery.mirror import keys
from tests import factories

PRODUCT = ["pizzadelivery", "events", "tracking", "statedash"]
# key("m", ...) / key("mirror", ...) or the literal prefixes, anywhere but the keys module
SPELLED = re.compile(r"""key\(\s*["'](m|mirror)["']|["'][a-z]*:m:|["'][a-z]*:mirror:""")


def test_no_module_but_the_keys_module_spells_a_mirror_key() -> None:
    root = Path(settings.BASE_DIR)
    owner = root / "pizzadelivery" / "mirror" / "keys.py"
    offenders = [f"{path.relative_to(root)}:{n}" for package in PRODUCT for path in (root / package).rglob("*.py")
                 if path != owner for n, line in enumerate(path.read_text().splitlines(), 1) if SPELLED.search(line)]
    assert offenders == []


@pytest.mark.django_db(transaction=True)
def test_every_key_the_mirror_writes_is_named_by_the_keys_module(redis_client) -> None:
    driver = factories.driver()
    factories.order_at("delivered", driver_obj=driver)
    factories.order_at("placed")
    rebuild_projections()
    named = [keys.ready(), keys.orders_all(), keys.orders_delivered(), keys.drivers_all(), keys.drivers_available(),
             keys.driver(driver.id)]
    patterns = [re.escape(keys.order("X")).replace("X", "[0-9a-f-]{36}"),
                re.escape(keys.orders_with_status("X")).replace("X", "[a-z_]+"),
                re.escape(keys.driver("X")).replace("X", "[0-9]+")]
    written = set(redis_client.scan_iter(match=f"{keys.prefix()}*")) | set(redis_client.keys(keys.ready()))
    assert written >= {keys.ready(), keys.orders_all(), keys.drivers_all()}
    stray = [k for k in written if k not in named and not any(re.fullmatch(p, k) for p in patterns)]
    assert stray == []
