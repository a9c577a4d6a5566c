"""Every write of the notifications: rows made from the outbox, claimed, sent, recorded.

Made like the webhooks' deliveries (``pizzadelivery.webhooks.services``): a cursor follows the
published events in sequence order and advances in the transaction that creates the rows, and
the rows' unique (order, kind) constraint makes each e-mail exist once, however often an event
is read. A send is claimed first (a lease), made after that commit, and recorded after it: a
failure (an SMTP server refusing, down, slow) leaves the row pending for a retry on
``NOTIFICATION_RETRY_SCHEDULE``. A sender dying between the SMTP server's "250 OK" and the
record is the one case that sends again once the lease runs out; the message keeps its
Message-ID, so the customer's mail client shows one message.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from itertools import takewhile

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from events.models import Event
from pizzadelivery import eta
from pizzadelivery.lifecycle import OrderStatus
from pizzadelivery.models import Order
from pizzadelivery.notifications.emails import render_email
from pizzadelivery.notifications.models import Cursor, Notification

logger = logging.getLogger(__name__)

CURSOR = "outbox"
LEASE_SECONDS = 60
LOCATION_EVENT = "driver.location_updated"
# The events that call for an e-mail, and which one.
KIND_OF_EVENT: dict[str, str] = {
    "order.confirmed": Notification.Kind.CONFIRMED,
    "order.out_for_delivery": Notification.Kind.OUT_FOR_DELIVERY,
    "order.delivered": Notification.Kind.DELIVERED,
    "order.cancelled": Notification.Kind.CANCELLED,
}


def _locked_cursor() -> Cursor | None:
    cursor = Cursor.objects.select_for_update(skip_locked=True).filter(pk=CURSOR).first()
    if cursor is not None or Cursor.objects.filter(pk=CURSOR).exists():
        return cursor
    # First run: from the start (orders from before e-mails existed have no address to mail).
    Cursor.objects.get_or_create(pk=CURSOR, defaults={"last_seq": 0})
    return Cursor.objects.select_for_update(skip_locked=True).filter(pk=CURSOR).first()


def _kind(event: Event, order: Order) -> str | None:
    if event.type in KIND_OF_EVENT:
        return KIND_OF_EVENT[event.type]
    # A position reported on the way to the door (not one from before pickup, read late).
    if (event.type == LOCATION_EVENT and order.status == OrderStatus.OUT_FOR_DELIVERY
            and order.out_for_delivery_at is not None and event.occurred_at >= order.out_for_delivery_at):
        position = (float(event.payload["lat"]), float(event.payload["lng"]))
        if eta.is_arriving(position, (float(order.delivery_lat), float(order.delivery_lng))):
            return Notification.Kind.ARRIVING
    return None


def notifications_from_outbox(*, limit: int = 500) -> int:
    """Turn the next published events into notification rows; how many were new."""
    with transaction.atomic():
        cursor = _locked_cursor()
        if cursor is None:
            return 0
        pending = (Event.objects.filter(seq__gt=cursor.last_seq).select_related("batch").order_by("seq")[:limit])
        events = list(takewhile(lambda event: event.batch.published_at is not None, pending))
        if not events:
            return 0
        wanted = [event for event in events if event.order_id is not None
                  and (event.type in KIND_OF_EVENT or event.type == LOCATION_EVENT)]
        orders = (Order.objects.select_related("customer").exclude(customer__email="")
                  .in_bulk({event.order_id for event in wanted}))
        now = timezone.now()
        rows: dict[tuple, Notification] = {}
        for event in wanted:
            order = orders.get(event.order_id)
            kind = _kind(event, order) if order is not None else None
            if kind is not None and (order.pk, kind) not in rows:
                rows[(order.pk, kind)] = Notification(order=order, kind=kind, to=order.customer.email,
                                                      seq=event.seq, next_attempt_at=now)
        existing = set(Notification.objects.filter(order__in=[o for o, _k in rows], kind__in=[k for _o, k in rows])
                       .values_list("order_id", "kind"))
        new = [row for key, row in rows.items() if key not in existing]
        Notification.objects.bulk_create(new, ignore_conflicts=True)
        cursor.last_seq = events[-1].seq
        cursor.save(update_fields=["last_seq"])
    return len(new)


def _claim(now: datetime) -> Notification | None:
    """The next due notification, leased to this sender, or None."""
    with transaction.atomic():
        row = (Notification.objects.select_for_update(skip_locked=True)
               .filter(state=Notification.State.PENDING, next_attempt_at__lte=now)
               .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
               .order_by("next_attempt_at", "id").first())
        if row is None:
            return None
        row.leased_until = now + timedelta(seconds=LEASE_SECONDS)
        row.save(update_fields=["leased_until"])
        return row


def _message(row: Notification) -> EmailMultiAlternatives:
    order = Order.objects.select_related("customer", "restaurant").get(pk=row.order_id)
    email = render_email(order, row.kind)
    message = EmailMultiAlternatives(email.subject, email.text, settings.DEFAULT_FROM_EMAIL, [row.to],
                                     headers={"Message-ID": row.message_id},
                                     connection=get_connection(fail_silently=False))
    message.attach_alternative(email.html, "text/html")
    return message


def _record(row: Notification, error: str) -> Notification:
    now = timezone.now()
    schedule = settings.NOTIFICATION_RETRY_SCHEDULE
    with transaction.atomic():
        row = Notification.objects.select_for_update().get(pk=row.pk)
        row.attempts += 1
        row.leased_until = None
        if not error:
            row.state, row.sent_at, row.next_attempt_at, row.last_error = Notification.State.SENT, now, None, ""
        else:
            row.last_error = error[:500]
            if row.attempts > len(schedule):
                row.state, row.next_attempt_at = Notification.State.FAILED, None
            else:
                row.next_attempt_at = now + timedelta(seconds=schedule[row.attempts - 1])
        row.save()
    return row


def notification_send(row: Notification) -> Notification:
    """Send one claimed notification and record how it went."""
    try:
        _message(row).send()
    except Exception as exc:  # SMTP refusals, connection errors, timeouts: all retried
        logger.warning("e-mail %s for order %s not sent (attempt %d): %s", row.kind, row.order_id,
                       row.attempts + 1, exc)
        return _record(row, f"{type(exc).__name__}: {exc}")
    return _record(row, "")


def send_due_notifications(*, now: datetime | None = None, limit: int = 50, budget_s: float = 5.0) -> int:
    """Send what is due; how many went out. The relay publishes between passes, so a pass stops
    after ``budget_s`` seconds, and at the first failure (a mail server down fails them all; the
    rest wait for their next attempt rather than each waiting out EMAIL_TIMEOUT now)."""
    sent = 0
    started = time.monotonic()
    for _ in range(limit):
        row = _claim(now or timezone.now())
        if row is None:
            break
        if notification_send(row).state != Notification.State.SENT:
            break
        sent += 1
        if time.monotonic() - started > budget_s:
            break
    return sent


def notifications_task() -> None:
    """The relay's pass: new rows from the outbox, then the due e-mails."""
    notifications_from_outbox()
    send_due_notifications()
