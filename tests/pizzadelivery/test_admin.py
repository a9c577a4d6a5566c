"""Django admin: lifecycle actions call the services, refusals are reported, order pages are
read-only, and each order shows its event timeline grouped by correlation id."""
from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from events.models import Event
from pizzadelivery import services
from pizzadelivery.models import Driver, Order
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "admin:pizzadelivery_order_changelist"


@pytest.fixture
def boss(transactional_db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw-for-tests-only"))
    return client


def run_action(client: Client, action: str, objects: list, changelist: str = CHANGELIST):
    return client.post(reverse(changelist), {"action": action, "_selected_action": [o.pk for o in objects]},
                       follow=True)


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def order_ready_and_dispatched() -> Order:
    order = factories.order_at("ready")
    services.order_transition(order_id=order.id, to="dispatched", driver_id=factories.driver().id)
    return order


# (start, build, action target, expected status, event types of the batch)
STEPS = [
    ("placed", lambda: factories.order_at("placed"), "confirmed", "confirmed", ["order.confirmed"]),
    ("confirmed", lambda: factories.order_at("confirmed"), "preparing", "preparing", ["order.preparing"]),
    ("preparing", lambda: factories.order_at("preparing"), "ready", "ready", ["order.ready"]),
    ("ready", lambda: factories.order_at("ready"), "dispatched", "dispatched",
     ["order.dispatched", "driver.assigned", "delivery.eta_updated"]),
    ("dispatched", order_ready_and_dispatched, "out_for_delivery", "out_for_delivery",
     ["order.out_for_delivery"]),
    ("out_for_delivery", lambda: factories.order_at("out_for_delivery"), "delivered", "delivered",
     ["order.delivered", "driver.released"]),
    ("placed", lambda: factories.order_at("placed"), "cancelled", "cancelled", ["order.cancelled"]),
]


@pytest.mark.parametrize(("start", "build", "to", "expected", "types"), STEPS,
                         ids=[f"{s[0]}->{s[2]}" for s in STEPS])
def test_each_lifecycle_action_calls_the_service(boss: Client, start, build, to, expected, types) -> None:
    order = build()
    nearest = factories.driver() if to == "dispatched" else None
    last_seq = Event.objects.order_by("-seq").values_list("seq", flat=True).first()

    response = run_action(boss, f"transition_to_{to}", [order])

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == expected
    batch = list(Event.objects.filter(seq__gt=last_seq).order_by("seq"))
    kinds = [e.type for e in batch]
    if "delivery.eta_updated" not in types:  # emitted only when the ETA moved by 30 s or more
        kinds = [kind for kind in kinds if kind != "delivery.eta_updated"]
    assert kinds == types
    assert len({e.correlation_id for e in batch}) == 1  # one transition, one batch
    if nearest is not None:
        assert order.driver_id == nearest.id
    if to == "delivered":  # an admin completes without the customer's PIN: the reason says so
        delivered = next(e for e in batch if e.type == "order.delivered")
        assert delivered.payload["proof"] == "waived"
        assert delivered.payload["reason"] == "Marked delivered in the admin by boss (no PIN)."
        assert "delivery_pin" not in boss.get(f"/admin/pizzadelivery/order/{order.pk}/change/").content.decode()
    assert any(message.startswith(f"{order.code}: ") and "done" in message for message in texts(response))


def test_a_refused_action_reports_why_and_changes_nothing(boss: Client) -> None:
    order = factories.order_at("placed")
    events_before = Event.objects.count()

    response = run_action(boss, "transition_to_delivered", [order])

    order.refresh_from_db()
    assert order.status == "placed"
    assert Event.objects.count() == events_before
    assert texts(response) == [
        f"{order.code}: refused: Order {order.code} cannot go from placed to delivered: the order is not out "
        "for delivery"]


def test_dispatch_without_a_free_driver_is_refused(boss: Client) -> None:
    order = factories.order_at("confirmed")

    response = run_action(boss, "transition_to_dispatched", [order])

    assert texts(response) == [f"{order.code}: refused: No driver is available right now."]
    order.refresh_from_db()
    assert order.status == "confirmed"


def test_an_action_on_several_orders_reports_each_and_keeps_batches_apart(boss: Client) -> None:
    first, second, done = factories.order_at("placed"), factories.order_at("placed"), factories.order_at("delivered")

    response = run_action(boss, "transition_to_confirmed", [first, second, done])

    messages = texts(response)
    assert len(messages) == 3
    assert sum("done" in m for m in messages) == 2
    assert any(m.startswith(f"{done.code}: refused") for m in messages)
    confirmed = list(Event.objects.filter(type="order.confirmed", order_id__in=[first.id, second.id]))
    assert len({event.correlation_id for event in confirmed}) == 2  # each timeline shows its own batch only
    codes = {first.id: first.code, second.id: second.code}
    assert all(event.correlation_id.endswith(f".{codes[event.order_id]}") for event in confirmed)


def test_order_page_buttons_move_the_order(boss: Client) -> None:
    order = factories.order_at("placed")
    url = reverse("admin:pizzadelivery_order_transition", args=[order.pk])

    response = boss.post(url, {"to": "confirmed"})

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:pizzadelivery_order_change", args=[order.pk])
    order.refresh_from_db()
    assert order.status == "confirmed"
    assert boss.get(url).status_code == 405
    refused = boss.post(url, {"to": "delivered"}, follow=True)
    assert any("refused" in m for m in texts(refused))
    assert "Unknown action." in texts(boss.post(url, {"to": "teleported"}, follow=True))
    order.refresh_from_db()
    assert order.status == "confirmed"


def test_only_admins_may_use_the_admin_even_with_the_staff_flag(client: Client) -> None:
    viewer = User.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    client.force_login(viewer)
    order = factories.order_at("placed")

    response = client.post(reverse("admin:pizzadelivery_order_transition", args=[order.pk]), {"to": "confirmed"})

    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    order.refresh_from_db()
    assert order.status == "placed"


def test_order_pages_are_read_only(boss: Client) -> None:
    order = factories.order_at("confirmed")
    change = reverse("admin:pizzadelivery_order_change", args=[order.pk])

    html = boss.get(change).content.decode()

    for field in ("status", "kitchen_status", "delivery_status", "driver", "total", "confirmed_at", "eta_at"):
        assert f'name="{field}"' not in html
    assert 'name="_save"' not in html
    assert 'formaction="' in html and 'value="preparing"' in html  # the lifecycle buttons
    assert boss.post(change, {"status": "delivered", "kitchen_status": "ready"}).status_code == 403
    assert boss.get(reverse("admin:pizzadelivery_order_add")).status_code == 403
    assert boss.post(reverse("admin:pizzadelivery_order_delete", args=[order.pk]), {"post": "yes"}).status_code == 403
    order.refresh_from_db()
    assert (order.status, order.kitchen_status) == ("confirmed", "confirmed")


def test_order_timeline_is_grouped_by_correlation_id(boss: Client) -> None:
    order = factories.order_at("out_for_delivery")
    events = list(Event.objects.filter(order_id=order.id).order_by("seq"))
    batches: dict[str, list[Event]] = {}
    for event in events:
        batches.setdefault(event.correlation_id, []).append(event)

    html = boss.get(reverse("admin:pizzadelivery_order_change", args=[order.pk])).content.decode()

    timeline = html[html.index('class="pd-timeline"'):]
    sections = timeline.split('<section class="pd-batch">')[1:]
    assert len(sections) == len(batches) == 6  # placed, confirmed, preparing, ready, dispatched, picked up
    for section, (correlation_id, batch) in zip(sections, batches.items()):
        assert f'<code title="correlation id">{correlation_id}</code>' in section
        shown = re.findall(r'<td class="pd-seq">(\d+)</td>\s*<td><code class="pd-type">([\w.]+)</code>', section)
        assert [(int(seq), kind) for seq, kind in shown] == [(e.seq, e.type) for e in batch]
    dispatch = sections[4]
    assert [kind for _, kind in re.findall(r'pd-seq">(\d+)</td>\s*<td><code class="pd-type">([\w.]+)', dispatch)] \
        == ["order.dispatched", "driver.assigned", "delivery.eta_updated"]
    assert f"<b>code</b> {order.code}" in sections[0]  # payloads are shown


def test_timeline_folds_runs_of_position_reports(boss: Client) -> None:
    order = factories.order_at("dispatched")
    for step in range(3):
        services.driver_location_update(driver_id=order.driver_id, lat=52.52 + step / 1000, lng=13.40)
    services.order_transition(order_id=order.id, to="preparing")
    reports = list(Event.objects.filter(type="driver.location_updated", order_id=order.id).order_by("seq"))

    html = boss.get(reverse("admin:pizzadelivery_order_change", args=[order.pk])).content.decode()

    folded = html[html.index('<details class="pd-positions">'):html.index("</details>")]
    assert "3 position reports from the driver" in folded
    for report in reports:  # folded, not dropped: each batch keeps its correlation id
        assert f'<code title="correlation id">{report.correlation_id}</code>' in folded
    after = html[html.index("</details>"):]
    assert '<code class="pd-type">order.preparing</code>' in after  # the lifecycle goes on below


def test_timeline_and_order_page_escape_hostile_text(boss: Client) -> None:
    order = factories.order_at("placed", customer_name="<script>alert(1)</script>", notes="<img src=x>")

    html = boss.get(reverse("admin:pizzadelivery_order_change", args=[order.pk])).content.decode()

    assert "<script>alert(1)</script>" not in html and "<img src=x>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_order_list_filters_and_search(boss: Client) -> None:
    placed = factories.order_at("placed", customer_name="Ada Searchable")
    delivered = factories.order_at("delivered")
    changelist = reverse(CHANGELIST)

    by_status = boss.get(changelist, {"status__exact": "placed"}).content.decode()
    assert placed.code in by_status and delivered.code not in by_status
    by_kitchen = boss.get(changelist, {"kitchen_status__exact": "ready"}).content.decode()
    assert delivered.code in by_kitchen and placed.code not in by_kitchen
    by_restaurant = boss.get(changelist, {"restaurant__id__exact": placed.restaurant_id}).content.decode()
    assert placed.code in by_restaurant and delivered.code not in by_restaurant
    for query in (placed.code, "Searchable", "+49 30 123456"):
        found = boss.get(changelist, {"q": query}).content.decode()
        assert placed.code in found
    assert delivered.code not in boss.get(changelist, {"q": "Searchable"}).content.decode()


def test_driver_actions_call_the_service_and_report_refusals(boss: Client) -> None:
    idle = factories.driver(status="available")
    away = factories.driver(status="offline")
    busy = factories.order_at("dispatched").driver
    changelist = "admin:pizzadelivery_driver_changelist"

    response = run_action(boss, "set_offline", [idle, busy], changelist)

    idle.refresh_from_db()
    busy.refresh_from_db()
    assert (idle.status, busy.status) == ("offline", "busy")
    assert f"{idle.name}: now offline." in texts(response)
    assert f"{busy.name}: refused: {busy.name} is on a delivery." in texts(response)
    assert Event.objects.filter(type="driver.status_changed", driver_id=idle.id,
                                payload__status="offline").exists()

    run_action(boss, "set_available", [away], changelist)
    away.refresh_from_db()
    assert away.status == "available"


def test_driver_list_filters_and_search(boss: Client) -> None:
    factories.driver(name="Paula Available", status="available")
    factories.driver(name="Otto Offline", status="offline")
    changelist = reverse("admin:pizzadelivery_driver_changelist")

    offline = boss.get(changelist, {"status__exact": "offline"}).content.decode()
    assert "Otto Offline" in offline and "Paula Available" not in offline
    assert "Paula Available" in boss.get(changelist, {"q": "paula"}).content.decode()


def test_adding_a_driver_registers_them_through_the_service(boss: Client) -> None:
    response = boss.post(reverse("admin:pizzadelivery_driver_add"),
                         {"name": "Neu Fahrer", "phone": "+49 151 1", "vehicle": "ebike", "status": "available",
                          "lat": "52.52", "lng": "13.40"})

    assert response.status_code == 302
    driver = Driver.objects.get(name="Neu Fahrer")
    assert (driver.status, driver.vehicle) == ("available", "ebike")
    assert Event.objects.filter(type="driver.registered", driver_id=driver.id).exists()


def test_editing_a_driver_changes_the_profile_only(boss: Client) -> None:
    driver = factories.driver(name="Old Name", status="available")
    change = reverse("admin:pizzadelivery_driver_change", args=[driver.pk])

    html = boss.get(change).content.decode()
    assert 'name="status"' not in html and 'name="lat"' not in html

    response = boss.post(change, {"name": "New Name", "phone": "+49 1", "vehicle": "car", "status": "busy",
                                  "lat": "1", "lng": "1"})

    assert response.status_code == 302
    driver.refresh_from_db()
    assert (driver.name, driver.vehicle, driver.status) == ("New Name", "car", "available")
    assert float(driver.lat) != 1.0


def test_a_profile_edit_reaches_the_mirror_and_the_drivers_order_at_once(boss: Client, mirror) -> None:
    from pizzadelivery.mirror.readers import driver_document_get

    order = factories.order_at("dispatched")
    driver = order.driver
    change = reverse("admin:pizzadelivery_driver_change", args=[driver.pk])

    boss.post(change, {"name": "Renamed Rider", "phone": driver.phone, "vehicle": "car"})

    doc = driver_document_get(driver.id)  # from Redis: no later driver event needed
    assert (doc["name"], doc["vehicle"]) == ("Renamed Rider", "car")
    event = Event.objects.filter(type="driver.profile_updated", driver_id=driver.id).get()
    assert event.order_id == order.id  # an open tracker of that order is pushed the new name
    assert event.payload == {"changed": ["name", "vehicle"], "name": "Renamed Rider", "vehicle": "car"}


def test_saving_an_unchanged_driver_records_nothing(boss: Client) -> None:
    driver = factories.driver(name="Same Name")
    change = reverse("admin:pizzadelivery_driver_change", args=[driver.pk])

    response = boss.post(change, {"name": "Same Name", "phone": driver.phone, "vehicle": driver.vehicle})

    assert response.status_code == 302
    assert not Event.objects.filter(type="driver.profile_updated").exists()
