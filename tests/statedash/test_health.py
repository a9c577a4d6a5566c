from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_healthz_reports_each_dependency_to_staff(admin_client, mirror, path) -> None:
    response = admin_client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "up" and body["live"] is True
    assert {name: check["status"] for name, check in body["dependencies"].items()} == {
        "database": "ok", "redis": "ok", "channel_layer": "ok"}
    assert body["dependencies"]["database"]["latency_ms"] >= 0
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_healthz_tells_the_public_only_up_or_degraded(anon, mirror, path) -> None:
    response = anon.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "up"}


def test_healthz_answers_fast_with_redis_down(admin_client, anon, own_redis) -> None:
    own_redis.stop()
    assert anon.get("/healthz").json() == {"status": "degraded"}
    started = time.monotonic()
    response = admin_client.get("/healthz")
    assert time.monotonic() - started < 1.5
    assert response.status_code == 200  # the process lives: degraded, not dead
    body = response.json()
    assert body["status"] == "degraded"
    assert body["dependencies"]["redis"]["status"] == "down"
    assert body["dependencies"]["channel_layer"]["status"] == "down"
    assert body["dependencies"]["database"]["status"] == "ok"


def test_healthz_says_degraded_while_the_mirror_is_rebuilt(admin_client, transactional_db) -> None:
    body = admin_client.get("/healthz").json()  # Redis up, mirror never built
    assert body["status"] == "degraded"
    assert body["dependencies"]["redis"] == {**body["dependencies"]["redis"], "status": "degraded",
                                             "mirror_ready": False}
