from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

from events.models import Event
from pizzadelivery import services
from statedash import fragments
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def _versions(html: str) -> list[str]:
    return re.findall(r'class="dash-version" name="v" value="([^"]+)"', html)


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/live/"])
def test_anonymous_go_to_the_login_page_and_other_roles_are_refused(client, transactional_db, path) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"
    client.force_login(User.objects.create_user("customer", password="pw-for-tests-only"))
    assert client.get(path).status_code == 403
    client.force_login(factories.kitchen_user(factories.restaurant()))
    assert client.get(path).status_code == 403


def test_dashboard_page_shows_every_panel(staff_client, mirror) -> None:
    order = factories.order_at("out_for_delivery")
    ready = factories.order_at("ready")
    html = staff_client.get("/dashboard/").content.decode()
    for name in fragments.LIVE:
        assert f'id="dash-{name}"' in html
    assert 'ws-connect="/ws/dashboard/?lang=en"' in html and 'hx-trigger="every 5s"' in html
    assert 'id="dash-stamp"' in html and "Redis mirror" in html
    assert order.code in html  # in the deliveries table and the feed
    assert "order.out_for_delivery" in html  # feed row
    queue = html[html.index('id="dash-queue"'):]
    assert "To dispatch" in queue and ready.code in queue[:queue.index("</section>")]  # it has no driver
    assert {v.split(":")[0] for v in _versions(html)} == {*fragments.LIVE, "feed", "seq"}


def test_poll_sends_only_what_changed(staff_client, mirror, clock) -> None:
    factories.order()
    page = staff_client.get("/dashboard/").content.decode()
    shown = _versions(page)

    unchanged = staff_client.get("/dashboard/live/", {"v": shown}).content.decode()
    assert 'id="dash-stamp"' in unchanged  # always: it says when the data was checked
    assert not any(f'id="dash-{name}"' in unchanged for name in fragments.LIVE)
    assert 'id="feed-list"' not in unchanged

    order = factories.order_at("confirmed")  # new events: the next poll recomputes and sends the changes...
    clock.advance(seconds=fragments.SNAPSHOT_MIN_AGE)  # ...once the snapshot is older than a burst's allowance
    changed = staff_client.get("/dashboard/live/", {"v": shown}).content.decode()
    assert 'id="dash-stats"' in changed and 'id="dash-chart"' in changed and 'id="dash-queue"' in changed
    # Exactly the fragments whose version moved are sent (health, say, only if a latency crossed a
    # display step meanwhile): nothing unchanged is re-sent.
    before = dict(v.split(":", 1) for v in shown)
    after = dict(v.split(":", 1) for v in _versions(changed))
    sent = {name for name in fragments.LIVE if f'id="dash-{name}"' in changed}
    assert sent == set(after) & set(fragments.LIVE) and all(after[name] != before[name] for name in sent)
    assert 'id="feed-list" class="feed-list" hx-swap-oob="true"' in changed and order.code in changed
    assert 'hx-swap-oob="true"' in changed


def test_poll_never_takes_the_page_back_in_time(staff_client, mirror) -> None:
    factories.order()
    shown = _versions(staff_client.get("/dashboard/").content.decode())
    seq = int(next(v for v in shown if v.startswith("seq:")).split(":")[1])
    feed = int(next(v for v in shown if v.startswith("feed:")).split(":")[1])
    # A push brought this browser a newer state and feed than the cached snapshot holds.
    ahead = [v for v in shown if v.split(":")[0] not in ("seq", "feed", "stats")]
    ahead += [f"seq:{seq + 5}", f"feed:{feed + 5}", "stats:pushed"]
    assert staff_client.get("/dashboard/live/", {"v": ahead}).content.decode().strip() == ""
    # Only the feed ahead: the state is sent, the feed is left alone.
    html = staff_client.get("/dashboard/live/", {"v": [*ahead[:-3], f"seq:{seq}", f"feed:{feed + 5}",
                                                       "stats:old"]}).content.decode()
    assert 'id="dash-stats"' in html and 'id="feed-list"' not in html and 'id="v-feed"' not in html


def test_poll_with_no_or_junk_versions_sends_everything(staff_client, mirror) -> None:
    factories.order()
    html = staff_client.get("/dashboard/live/", {"v": ["junk", "stats:" + "x" * 100, "seq:-1", "feed:1e9"]}
                            ).content.decode()
    for name in fragments.LIVE:
        assert f'id="dash-{name}"' in html
    assert 'id="feed-list"' in html


def test_batch_detail_lists_the_whole_batch(staff_client, mirror) -> None:
    order = factories.order_at("confirmed")
    driver = factories.driver()
    services.order_transition(order_id=order.id, to="dispatched", driver_id=driver.id)
    dispatch = Event.objects.get(type="order.dispatched")
    url = f"/dashboard/batches/{dispatch.correlation_id}/"

    fragment = staff_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment
    for event_type in ("order.dispatched", "driver.assigned", "delivery.eta_updated"):
        assert event_type in fragment
    assert "order.confirmed" not in fragment  # another batch
    assert driver.name in fragment and order.code in fragment

    page = staff_client.get(url)  # without htmx: a page of its own
    assert page.status_code == 200 and b"<html" in page.content
    assert staff_client.get("/dashboard/batches/no-such-batch/").status_code == 404
    assert staff_client.get("/dashboard/batches/%3Cscript%3E/").status_code == 404


def test_user_text_is_escaped(staff_client, mirror) -> None:
    order = factories.order()
    services.order_transition(order_id=order.id, to="cancelled", reason="<script>alert(1)</script>")
    html = staff_client.get("/dashboard/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
