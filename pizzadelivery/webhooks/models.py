"""Webhook endpoints, one delivery row per (endpoint, event), and the attempt log.

Rows change only through ``pizzadelivery.webhooks.services``. A delivery is a message: its
``message_id`` is the ``webhook-id`` header, the event's id, the same on every attempt (and on
a replay, so a receiver deduplicating on it sees a replay as the message it already has).
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Endpoint(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.CharField(max_length=2000)  # an http(s) URL, checked by services._check_url
    description = models.CharField(max_length=255, blank=True)
    # Event type names, or ["*"] for every type the owner may see.
    event_types = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # The signing secret (``whsec_`` + base64); after a rotation the previous one signs beside
    # it until ``previous_secret_expires_at``.
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    # Events up to this sequence number happened before the endpoint existed.
    start_after_seq = models.BigIntegerField(default=0)
    # Since when every attempt failed (None after a success): past WEBHOOK_DISABLE_AFTER_DAYS
    # the endpoint is disabled.
    failing_since = models.DateTimeField(null=True, blank=True)
    # One sender at a time works for an endpoint: a slow endpoint holds one sender thread only.
    leased_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)
    last_claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["owner", "created_at"], name="webhook_endpoint_owner_idx")]

    def __str__(self) -> str:
        return self.url


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "pending"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The outbox event (None for a test message, whose body is in ``test_data``).
    event = models.ForeignKey("events.Event", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    message_id = models.UUIDField()
    event_type = models.CharField(max_length=64)
    seq = models.BigIntegerField(null=True, blank=True)
    # One order's events reach an endpoint in sequence order: a delivery waits while an earlier
    # one with the same key is pending. Empty: no order to keep (tests, replays).
    order_key = models.CharField(max_length=64, blank=True)
    test_data = models.JSONField(null=True, blank=True)
    replay_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["endpoint", "state", "next_attempt_at"], name="webhook_delivery_due_idx"),
            models.Index(fields=["endpoint", "order_key", "seq"], name="webhook_delivery_order_idx"),
        ]
        constraints = [
            # Every event reaches an endpoint once (replays aside).
            models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_once",
                                    condition=Q(replay_of__isnull=True, event__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.endpoint_id} ({self.state})"


class Attempt(models.Model):
    """One try at sending a delivery: what the endpoint answered, or why it could not."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=500, blank=True)
    response_body = models.TextField(blank=True, help_text="The first bytes of the answer.")

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"


class Cursor(models.Model):
    """How far through the outbox deliveries were made: the last event sequence number that
    became delivery rows (advanced in the transaction that creates them)."""

    name = models.CharField(primary_key=True, max_length=32)
    last_seq = models.BigIntegerField(default=0)
