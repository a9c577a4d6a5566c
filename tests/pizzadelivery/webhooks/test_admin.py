"""Webhooks in the Django admin: the attempt log on a delivery's page, replay as an action
(through the same service as the API), and no secret shown."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from pizzadelivery.webhooks import services
from pizzadelivery.webhooks.models import Delivery
from pizzadelivery.webhooks.transport import Outcome
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def boss(transactional_db) -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw-for-tests-only"))
    return client


def test_the_attempt_log_and_a_replay_in_the_admin(boss) -> None:
    endpoint = services.endpoint_create(owner=factories.dispatcher_user(), url="https://pos.example.com/hook",
                                        event_types=["*"])
    delivery = services.endpoint_send_test(endpoint_id=endpoint.id, owner=endpoint.owner)
    claim = services.delivery_claim()
    services.delivery_record(claim=claim, outcome=Outcome(503, 42, "answered 503", body="try later"),
                             started_at=timezone.now())
    page = boss.get(reverse("admin:webhooks_delivery_change", args=[delivery.id])).content.decode()
    assert "answered 503" in page and "try later" in page
    endpoint_page = boss.get(reverse("admin:webhooks_endpoint_change", args=[endpoint.id])).content.decode()
    assert endpoint.secret not in endpoint_page
    response = boss.post(reverse("admin:webhooks_delivery_changelist"),
                         {"action": "replay", "_selected_action": [delivery.id]}, follow=True)
    assert [str(m) for m in get_messages(response.wsgi_request)] == [f"webhook.test #{delivery.id}: queued again."]
    replay = Delivery.objects.get(replay_of=delivery)
    assert (replay.message_id, replay.state) == (delivery.message_id, "pending")
