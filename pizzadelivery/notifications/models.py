"""The customers' e-mail notifications: one row per (order, kind), made from the outbox.

The unique constraint is what makes a notification never go out twice for one order (a
relay restarting, two relays, an event read again); ``state`` and ``attempts`` are what make
it never lost (a failed send is retried on ``NOTIFICATION_RETRY_SCHEDULE``).
"""
from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    class Kind(models.TextChoices):
        CONFIRMED = "confirmed", _("Order confirmed")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        ARRIVING = "arriving", _("Arriving")
        DELIVERED = "delivered", _("Delivered")
        CANCELLED = "cancelled", _("Cancelled")

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        SENT = "sent", "sent"
        FAILED = "failed", "failed"

    order = models.ForeignKey("pizzadelivery.Order", on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    to = models.EmailField(max_length=254)
    seq = models.BigIntegerField(help_text="The outbox event that called for it.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A sender working on it: nobody else sends it until the lease runs out.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="notification_due_idx")]
        constraints = [
            models.UniqueConstraint(fields=["order", "kind"], name="notification_once_per_order_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.to} ({self.state})"

    @property
    def message_id(self) -> str:
        """The same on every attempt: a mail client shows a duplicate as one message."""
        return f"<notification-{self.pk}.{self.kind}@pizzadelivery>"


class Cursor(models.Model):
    """How far through the outbox notifications were made (advanced in their transaction)."""

    name = models.CharField(primary_key=True, max_length=32)
    last_seq = models.BigIntegerField(default=0)
