from __future__ import annotations

from statistics import fmean

import pytest

from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.mirror import keys
from statedash.selectors import ORDERS_PER_STATUS, system_state, waiting_orders

pytestmark = pytest.mark.django_db(transaction=True)

COMPARED = ("orders_by_status", "stats", "drivers")


def test_known_dataset_from_the_mirror(known_dataset) -> None:
    state = system_state(now=known_dataset.now)
    assert state["source"] == "redis"
    by_status = state["orders_by_status"]
    assert set(by_status) == set(OrderStatus.values)
    assert {status: entry["count"] for status, entry in by_status.items()} == {
        "placed": 1, "confirmed": 1, "preparing": 1, "ready": 1, "dispatched": 1, "out_for_delivery": 1,
        "delivered": 3, "cancelled": 1}
    orders = known_dataset.orders
    # newest first, each a compact summary
    assert [o["code"] for o in by_status["delivered"]["orders"]] == [orders[n].code for n in ("B", "A", "Y")]
    summary = by_status["ready"]["orders"][0]
    assert summary == {"id": str(orders["H"].id), "code": orders["H"].code, "status": "ready",
                       "kitchen_status": "ready", "restaurant": orders["H"].restaurant.name, "driver_id": None,
                       "created_at": orders["H"].created_at.isoformat(), "eta": None}

    stats = state["stats"]
    assert stats["total_orders"] == 10
    assert stats["active_orders"] == 6
    assert stats["active_deliveries"] == 2
    # Y was delivered at 23:12 Berlin on the 13th; A and B after midnight Berlin, which is
    # still the 13th in UTC: a UTC day would count none of them.
    assert stats["completed_today"] == 2
    assert stats["orders_today"] == 9
    assert stats["orders_per_hour"] == 7  # C..I, placed after 00:30
    hours = stats["orders_by_hour"]
    assert len(hours) == 12
    assert [h["count"] for h in hours[-3:]] == [1, 9, 0]  # 23h, 00h, 01h (so far)
    assert hours[-1]["hour"].startswith("2025-03-14T01:00:00+01:00")
    assert stats["average_delivery_minutes"] == round(fmean(known_dataset.durations) / 60, 1)
    assert stats["on_time_rate"] == 0.5  # 3 min late is not on time, 2 min early is
    assert stats["eta_accuracy"] == {"samples": 2, "mean_absolute_error_seconds": 150, "mean_error_seconds": 30}
    assert stats["delivery_sample_size"] == 2
    assert (stats["drivers_active"], stats["drivers_available"], stats["drivers_busy"]) == (6, 4, 2)

    drivers = {d["name"]: d for d in state["drivers"]}
    assert "Driver off" not in drivers
    assert set(drivers) == {"Driver Y", "Driver A", "Driver B", "Driver C", "Driver D", "Driver spare"}
    c_job = drivers["Driver C"]["current_assignment"]
    assert c_job["order_id"] == str(orders["C"].id) and c_job["code"] == orders["C"].code
    assert c_job["stage"] == "dispatched"
    assert c_job["estimated_arrival"] == orders["C"].eta_at.isoformat()
    assert drivers["Driver D"]["current_assignment"]["stage"] == "out_for_delivery"
    assert drivers["Driver D"]["status"] == "busy"
    assert drivers["Driver D"]["location"]["lat"] == pytest.approx(float(known_dataset.drivers["D"].lat))
    assert drivers["Driver A"]["current_assignment"] is None and drivers["Driver A"]["status"] == "available"


def test_mirror_and_database_give_the_same_numbers(known_dataset) -> None:
    from_redis = system_state(now=known_dataset.now)
    from_database = system_state(now=known_dataset.now, use_mirror=False)
    assert (from_redis["source"], from_database["source"]) == ("redis", "database")
    for part in COMPARED:
        assert from_redis[part] == from_database[part], part


def test_database_answers_while_the_mirror_is_not_ready(known_dataset, redis_client) -> None:
    expected = system_state(now=known_dataset.now)
    redis_client.delete(keys.ready())  # Redis restarted empty; the relay has not rebuilt it yet
    state = system_state(now=known_dataset.now)
    assert state["source"] == "database"
    assert state["health"]["redis"]["status"] == "degraded"
    assert {part: state[part] for part in COMPARED} == {part: expected[part] for part in COMPARED}


def test_newest_orders_are_bounded(transactional_db, mirror) -> None:
    from tests import factories

    shop = factories.restaurant()
    codes = [factories.order(restaurant_obj=shop).code for _ in range(ORDERS_PER_STATUS + 2)]
    for use_mirror in (True, False):
        placed = system_state(use_mirror=use_mirror)["orders_by_status"]["placed"]
        assert placed["count"] == ORDERS_PER_STATUS + 2
        assert [o["code"] for o in placed["orders"]] == codes[::-1][:ORDERS_PER_STATUS]


def test_health_reports_every_dependency(transactional_db, mirror) -> None:
    health = system_state()["health"]
    assert {name: check["status"] for name, check in health.items()} == {
        "redis": "ok", "database": "ok", "channel_layer": "ok", "relay": "ok", "websockets": "ok"}
    assert health["relay"]["pending_batches"] == 0
    assert health["websockets"]["open"] == 0


def test_waiting_orders_oldest_first_from_either_path(known_dataset, redis_client) -> None:
    orders = known_dataset.orders
    expected = [orders[name].code for name in ("F", "G", "H")]  # confirmed, no driver yet (E is only placed)
    from_redis = waiting_orders(limit=8)
    assert [o["code"] for o in from_redis] == expected
    assert [o["code"] for o in waiting_orders(limit=2)] == expected[:2]
    assert [o["code"] for o in waiting_orders(statuses=("placed",))] == [orders["E"].code]
    redis_client.delete(keys.ready())
    assert waiting_orders(limit=8) == from_redis
