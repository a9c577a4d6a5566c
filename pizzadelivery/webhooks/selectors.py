"""Reads: an owner's endpoints and an endpoint's deliveries with their attempt log."""
from __future__ import annotations

import uuid

from django.contrib.auth.models import User
from django.db.models import Prefetch, QuerySet

from pizzadelivery.webhooks.models import Attempt, Delivery, Endpoint


def endpoint_list(*, owner: User) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(owner=owner).order_by("created_at", "id")


def endpoint_get(*, owner: User, endpoint_id: uuid.UUID) -> Endpoint | None:
    return Endpoint.objects.filter(owner=owner, pk=endpoint_id).first()


def delivery_list(*, endpoint: Endpoint, state: str | None = None, event_type: str | None = None) -> QuerySet[Delivery]:
    deliveries = Delivery.objects.filter(endpoint=endpoint).prefetch_related(
        Prefetch("attempt_log", queryset=Attempt.objects.order_by("number")))
    if state:
        deliveries = deliveries.filter(state=state)
    if event_type:
        deliveries = deliveries.filter(event_type=event_type)
    return deliveries
