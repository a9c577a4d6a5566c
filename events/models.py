"""The outbox: every batch of events, written in the transaction of the change it describes.

A batch is published to Redis after commit; ``published_at`` stays empty until then, so a
batch that could not be published (Redis down, process killed) is found and sent by the relay.
Sequence numbers are handed out under a row lock held to commit, so commit order equals
sequence order and a reader that follows ``seq`` never skips an event committed late.
"""
from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q


class Sequence(models.Model):
    """The single row that hands out batch and event numbers (locked for each batch), and the
    identity of this database: the Redis projection records which database it mirrors, so a
    Redis left from another database (or ahead of a restored one) is rebuilt, not trusted."""

    name = models.CharField(primary_key=True, max_length=32)
    database_id = models.UUIDField(default=uuid.uuid4)
    last_batch = models.BigIntegerField(default=0)
    last_event = models.BigIntegerField(default=0)


class Batch(models.Model):
    class Kind(models.TextChoices):
        CHANGE = "change", "change"
        ROLLBACK = "rollback", "rollback"

    id = models.BigIntegerField(primary_key=True)
    correlation_id = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CHANGE)
    created_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    publish_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "batches"
        indexes = [
            models.Index(fields=["id"], name="batch_pending_idx", condition=Q(published_at__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.correlation_id})"


class Event(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=64)
    correlation_id = models.CharField(max_length=64)
    # Plain ids, not foreign keys: the events app knows no domain model.
    order_id = models.UUIDField(null=True, blank=True)
    driver_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["order_id", "seq"], name="event_order_seq_idx"),
            models.Index(fields=["correlation_id", "seq"], name="event_corr_seq_idx"),
            models.Index(fields=["type", "seq"], name="event_type_seq_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.type}"
