"""The driver's app: the shift, the job, "Picked up", "Delivered" with the customer's PIN; a
driver acts for themselves only."""
from __future__ import annotations

import pytest
from django.test import Client

from pizzadelivery import services
from pizzadelivery.models import Driver, Order
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def driver() -> Driver:
    return factories.driver(name="Jonas Becker", status="offline")


@pytest.fixture
def phone(driver: Driver) -> Client:
    client = Client()
    client.force_login(factories.driver_user(driver))
    return client


def test_a_shift_starts_and_ends(phone: Client, driver: Driver, mirror) -> None:
    assert "Start shift" in phone.get("/driver/").content.decode()
    started = phone.post("/driver/shift/", {"status": "available"}, **HTMX)
    assert started.status_code == 200 and "End shift" in started.content.decode()
    assert Driver.objects.get(pk=driver.id).status == "available"
    assert "No job right now" in started.content.decode()
    assert phone.post("/driver/shift/", {"status": "busy"}, **HTMX).status_code == 400
    assert phone.post("/driver/shift/", {"status": "offline"}, **HTMX).status_code == 200
    assert Driver.objects.get(pk=driver.id).status == "offline"


def test_a_job_from_pickup_to_the_door_with_the_pin(phone: Client, driver: Driver, mirror) -> None:
    services.driver_set_status(driver_id=driver.id, status="available")
    order = factories.order_at("preparing", notes="Back building", customer_name="Ada Lovelace")
    services.order_transition(order_id=order.id, to="dispatched", driver_id=driver.id)
    page = phone.get("/driver/").content.decode()
    assert f"Pick up at {order.restaurant.name}" in page and "The pizza is in the oven." in page
    assert "geo:" in page and 'disabled aria-describedby="dr-not-ready"' in page
    early = phone.post("/driver/pick-up/", **HTMX)
    assert early.status_code == 409 and "not ready" in early.content.decode()
    services.order_transition(order_id=order.id, to="ready")
    picked = phone.post("/driver/pick-up/", **HTMX).content.decode()
    assert "Deliver to Ada" in picked and "Back building" in picked and "Ask the customer for their PIN" in picked
    assert Order.objects.get(pk=order.id).status == "out_for_delivery"
    pin = Order.objects.get(pk=order.id).delivery_pin
    assert pin not in picked.replace(order.code, "")  # the driver is told it at the door, not by us
    wrong = phone.post("/driver/deliver/", {"pin": f"{(int(pin) + 1) % 10_000:04d}"}, **HTMX)
    assert wrong.status_code == 400 and "4 tries left" in wrong.content.decode()
    assert phone.post("/driver/deliver/", {"pin": "abcd"}, **HTMX).status_code == 400
    done = phone.post("/driver/deliver/", {"pin": pin}, **HTMX)
    assert done.status_code == 200 and "No job right now" in done.content.decode()
    assert Order.objects.get(pk=order.id).status == "delivered"
    assert Driver.objects.get(pk=driver.id).status == "available"


def test_five_wrong_pins_lock_the_form(phone: Client, driver: Driver, mirror) -> None:
    services.driver_set_status(driver_id=driver.id, status="available")
    order = factories.order_at("out_for_delivery", driver_obj=driver)
    wrong = f"{(int(order.delivery_pin) + 1) % 10_000:04d}"
    for _ in range(4):
        phone.post("/driver/deliver/", {"pin": wrong}, **HTMX)
    locked = phone.post("/driver/deliver/", {"pin": wrong}, **HTMX)
    assert locked.status_code == 409 and "Call dispatch" in locked.content.decode()
    assert 'name="pin"' not in phone.get("/driver/").content.decode()


def test_without_a_driver_profile_there_is_no_app(mirror) -> None:
    client = Client()
    assert client.get("/driver/")["Location"].startswith("/accounts/login/")
    client.force_login(factories.dispatcher_user())
    response = client.get("/driver/")
    assert response.status_code == 403 and "No driver profile" in response.content.decode()
    assert client.post("/driver/shift/", {"status": "available"}).status_code == 403
