"""Alerts that mean something: each appears past its threshold and clears once handled."""
from __future__ import annotations

import pytest

from pizzadelivery import services
from statedash.selectors import alerts
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def kinds(now) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for alert in alerts(now=now):
        found.setdefault(alert.kind, set()).add(alert.code)
    return found


def test_a_restaurant_not_confirming(clock, settings) -> None:
    settings.ALERT_UNCONFIRMED_MINUTES = 5
    order = factories.order_at("placed")
    assert "unconfirmed" not in kinds(clock())
    clock.advance(minutes=6)
    assert kinds(clock())["unconfirmed"] == {order.code}
    services.order_transition(order_id=order.id, to="confirmed")
    assert "unconfirmed" not in kinds(clock())


def test_ready_with_no_driver(clock, settings) -> None:
    settings.ALERT_READY_NO_DRIVER_MINUTES = 3
    order = factories.order_at("ready")
    clock.advance(minutes=2)
    assert "ready_no_driver" not in kinds(clock())
    clock.advance(minutes=2)
    assert kinds(clock())["ready_no_driver"] == {order.code}
    services.order_transition(order_id=order.id, to="dispatched", driver_id=factories.driver().id)
    assert "ready_no_driver" not in kinds(clock())


def test_late_against_the_promise_and_a_driver_standing_still(clock, settings) -> None:
    settings.ALERT_LATE_MINUTES, settings.ALERT_STATIONARY_MINUTES = 5, 5
    driver = factories.driver()
    order = factories.order_at("out_for_delivery", driver_obj=driver)
    services.driver_location_update(driver_id=driver.id, lat=52.53, lng=13.41)
    assert kinds(clock()) == {}
    clock.advance(minutes=6)
    assert kinds(clock())["stationary"] == {order.code}  # no movement on a delivery
    services.driver_location_update(driver_id=driver.id, lat=52.525, lng=13.41)
    assert "stationary" not in kinds(clock())
    promised = order.eta_at_dispatch
    clock.advance(seconds=(promised - clock()).total_seconds() + 6 * 60)  # 6 min past the promise
    found = {alert.kind: alert for alert in alerts(now=clock())}
    assert found["late"].code == order.code and found["late"].minutes >= 5
    factories.deliver(order.id)
    assert "late" not in kinds(clock())
