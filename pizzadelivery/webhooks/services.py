"""Every write of the webhooks: endpoints (create, edit, delete, rotate, test), deliveries made
from the outbox, claimed by a sender, recorded, replayed.

Deliveries are driven from the outbox: ``deliveries_from_outbox`` follows ``events.Event.seq``
over published batches with a cursor, and advances the cursor in the transaction that creates
the delivery rows, so every published event an endpoint subscribes to becomes exactly one row
(a unique constraint says so too). Senders claim work per endpoint (a lease on the endpoint
row, taken under ``select_for_update(skip_locked=True)``): several senders never send for one
endpoint at once, a slow or failing endpoint holds up only itself, and one order's events go
out in sequence order (a delivery waits while an earlier one of its order is pending).
"""
from __future__ import annotations

import base64
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import takewhile
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, F, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from events.models import Event
from events.registry import EVENT_TYPES
from pizzadelivery.infra.errors import DomainError
from pizzadelivery.policy import visible_events
from pizzadelivery.webhooks.models import Attempt, Cursor, Delivery, Endpoint
from pizzadelivery.webhooks.serializers import TEST_TYPE, event_message, ping_message
from pizzadelivery.webhooks.transport import Outcome

EVERY_TYPE = "*"
SECRET_PREFIX = "whsec_"
CURSOR = "outbox"
LEASE_MARGIN_S = 20
MAX_URL_LENGTH = 2000
MAX_TYPES = 100


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _not_found() -> DomainError:
    return DomainError("No webhook endpoint of yours with that id.", code="webhook_not_found", status_code=404)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DomainError("The URL must be http:// or https:// with a host.", code="invalid_url")
    if parts.username or parts.password:
        raise DomainError("Put no credentials in the URL: verify the signature instead.", code="invalid_url")
    if len(url) > MAX_URL_LENGTH:
        raise DomainError(f"At most {MAX_URL_LENGTH} characters.", code="invalid_url")
    try:
        parts.port  # noqa: B018 - raises for a port out of range
    except ValueError:
        raise DomainError("The URL's port is not a valid port.", code="invalid_url") from None
    return url


def _check_types(types: list[str]) -> list[str]:
    if not types or len(types) > MAX_TYPES or not all(isinstance(name, str) for name in types):
        raise DomainError(f'Give the event types to receive, or ["{EVERY_TYPE}"] for all.',
                          code="invalid_event_type")
    if EVERY_TYPE in types:
        if len(types) > 1:
            raise DomainError(f'"{EVERY_TYPE}" already means every type: give it alone.', code="invalid_event_type")
        return [EVERY_TYPE]
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise DomainError(f"Unknown event type(s): {', '.join(unknown)}. Known: {', '.join(sorted(EVENT_TYPES))}.",
                          code="invalid_event_type")
    return list(dict.fromkeys(types))


def _lock(endpoint_id: uuid.UUID, owner: User) -> Endpoint:
    endpoint = Endpoint.objects.select_for_update().filter(pk=endpoint_id, owner=owner).first()
    if endpoint is None:
        raise _not_found()
    return endpoint


def _last_seq() -> int:
    return Event.objects.aggregate(last=Max("seq"))["last"] or 0


# --- endpoints ----------------------------------------------------------------------------

@transaction.atomic
def endpoint_create(*, owner: User, url: str, event_types: list[str], description: str = "") -> Endpoint:
    """A new endpoint of ``owner``'s, receiving the events from now on (its secret is on it)."""
    url, event_types = _check_url(url), _check_types(event_types)
    # Locks the owner's row: two creations at once cannot both pass the limit.
    User.objects.select_for_update().filter(pk=owner.pk).first()
    if Endpoint.objects.filter(owner=owner).count() >= settings.WEBHOOK_MAX_ENDPOINTS:
        raise DomainError(f"At most {settings.WEBHOOK_MAX_ENDPOINTS} endpoints per account.",
                          code="too_many_endpoints", status_code=409)
    return Endpoint.objects.create(owner=owner, url=url, event_types=event_types, description=description,
                                   secret=new_secret(), start_after_seq=_last_seq())


@transaction.atomic
def endpoint_update(*, endpoint_id: uuid.UUID, owner: User, url: str | None = None,
                    event_types: list[str] | None = None, description: str | None = None,
                    active: bool | None = None) -> Endpoint:
    """Edit an endpoint. ``active=True`` re-enables one that was disabled (its pending deliveries
    resume; events in between were not queued for it); ``active=False`` pauses it."""
    endpoint = _lock(endpoint_id, owner)
    if url is not None:
        endpoint.url = _check_url(url)
    if event_types is not None:
        endpoint.event_types = _check_types(event_types)
    if description is not None:
        endpoint.description = description
    if active is not None and active != endpoint.active:
        endpoint.active = active
        if active:
            endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since = "", None, None
            # It receives again from now on, like a new endpoint.
            endpoint.start_after_seq = max(endpoint.start_after_seq, _last_seq())
        else:
            endpoint.disabled_reason, endpoint.disabled_at = "Paused by its owner.", timezone.now()
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_delete(*, endpoint_id: uuid.UUID, owner: User) -> None:
    _lock(endpoint_id, owner).delete()


@transaction.atomic
def endpoint_rotate_secret(*, endpoint_id: uuid.UUID, owner: User) -> Endpoint:
    """A new secret; the current one keeps signing beside it for WEBHOOK_SECRET_OVERLAP_HOURS."""
    endpoint = _lock(endpoint_id, owner)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    endpoint.secret = new_secret()
    endpoint.save()
    return endpoint


def _require_active(endpoint: Endpoint) -> None:
    if not endpoint.active:
        raise DomainError(f"The endpoint is disabled: {endpoint.disabled_reason} PATCH it with "
                          '{"active": true} first.', code="webhook_disabled", status_code=409)


@transaction.atomic
def endpoint_send_test(*, endpoint_id: uuid.UUID, owner: User) -> Delivery:
    """Queue a ``webhook.test`` message for this endpoint only (sent within a second or so)."""
    endpoint = _lock(endpoint_id, owner)
    _require_active(endpoint)
    now = timezone.now()
    data = {"endpoint_id": str(endpoint.id), "timestamp": now.isoformat(),
            "message": "A test from pizzadelivery: check its signature with your endpoint's secret."}
    return Delivery.objects.create(endpoint=endpoint, message_id=uuid.uuid4(), event_type=TEST_TYPE,
                                   test_data=data, next_attempt_at=now)


@transaction.atomic
def delivery_replay(*, endpoint_id: uuid.UUID, owner: User, delivery_id: int) -> Delivery:
    """Send a delivery again, as a new delivery of the same message (same ``webhook-id``).
    A replay keeps no place in its order's sequence: it goes out when asked."""
    endpoint = _lock(endpoint_id, owner)
    original = Delivery.objects.filter(pk=delivery_id, endpoint=endpoint).first()
    if original is None:
        raise DomainError("No delivery with that id for this endpoint.", code="delivery_not_found", status_code=404)
    _require_active(endpoint)
    return Delivery.objects.create(endpoint=endpoint, event_id=original.event_id, message_id=original.message_id,
                                   event_type=original.event_type, seq=original.seq, test_data=original.test_data,
                                   replay_of=original, next_attempt_at=timezone.now())


# --- from the outbox -------------------------------------------------------------------------

def _order_key(event: Event) -> str:
    if event.order_id is not None:
        return str(event.order_id)
    return f"driver:{event.driver_id}" if event.driver_id is not None else ""


def _subscribed(endpoint: Endpoint, type_name: str) -> bool:
    return EVERY_TYPE in endpoint.event_types or type_name in endpoint.event_types


def _locked_cursor() -> Cursor | None:
    """The cursor, locked; None while another sender holds it."""
    cursor = Cursor.objects.select_for_update(skip_locked=True).filter(pk=CURSOR).first()
    if cursor is not None or Cursor.objects.filter(pk=CURSOR).exists():
        return cursor
    # First run (or a flushed database): start where the oldest endpoint starts.
    start = Endpoint.objects.aggregate(first=Min("start_after_seq"))["first"]
    Cursor.objects.get_or_create(pk=CURSOR, defaults={"last_seq": _last_seq() if start is None else start})
    return Cursor.objects.select_for_update(skip_locked=True).filter(pk=CURSOR).first()


def _allowed(endpoint: Endpoint, events: list[Event]) -> list[Event]:
    """The events the endpoint's owner may read now (``policy.visible_events``)."""
    scope = visible_events(endpoint.owner)
    if scope is None or not events:
        return []
    if scope == Q():
        return events
    seqs = set(Event.objects.filter(seq__in=[event.seq for event in events]).filter(scope)
               .values_list("seq", flat=True))
    return [event for event in events if event.seq in seqs]


def deliveries_from_outbox(*, limit: int = 500) -> int:
    """Turn the next published events into delivery rows; how many rows were made.

    Follows the outbox in sequence order and stops at the first batch not yet published (a
    batch is published in order, so nothing behind it is skipped)."""
    with transaction.atomic():
        cursor = _locked_cursor()
        if cursor is None:
            return 0
        pending = Event.objects.filter(seq__gt=cursor.last_seq).select_related("batch").order_by("seq")[:limit]
        events = list(takewhile(lambda event: event.batch.published_at is not None, pending))
        if not events:
            return 0
        now = timezone.now()
        rows = []
        for endpoint in Endpoint.objects.filter(active=True, start_after_seq__lt=events[-1].seq).select_related("owner"):
            wanted = [event for event in events
                      if event.seq > endpoint.start_after_seq and _subscribed(endpoint, event.type)]
            rows += [Delivery(endpoint=endpoint, event=event, message_id=event.id, event_type=event.type,
                              seq=event.seq, order_key=_order_key(event), next_attempt_at=now)
                     for event in _allowed(endpoint, wanted)]
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)
        cursor.last_seq = events[-1].seq
        cursor.save(update_fields=["last_seq"])
    return len(rows)


# --- sending ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    """A delivery a sender took, with everything needed to send it."""

    delivery_id: int
    endpoint_id: uuid.UUID
    lease_token: uuid.UUID
    url: str
    secrets: tuple[str, ...]
    message_id: str
    body: bytes
    attempt: int


def due_deliveries(now: datetime) -> QuerySet[Delivery]:
    """Pending deliveries whose time has come and that no earlier delivery of the same order
    (to the same endpoint) still waits before."""
    earlier = (Delivery.objects.filter(endpoint=OuterRef("endpoint"), order_key=OuterRef("order_key"),
                                       state=Delivery.State.PENDING, seq__lt=OuterRef("seq"))
               .exclude(order_key=""))
    return Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now).filter(~Exists(earlier))


def _body(delivery: Delivery) -> bytes:
    message: dict[str, Any] = (ping_message(delivery.test_data) if delivery.event_id is None
                               else event_message(delivery.event))
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def delivery_claim(*, now: datetime | None = None) -> Claim | None:
    """Take the next due delivery of an endpoint no other sender works for, or None."""
    now = now or timezone.now()
    with transaction.atomic():
        endpoint = (Endpoint.objects.select_for_update(skip_locked=True)
                    .filter(active=True).filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
                    .filter(Exists(due_deliveries(now).filter(endpoint=OuterRef("pk"))))
                    .order_by(F("last_claimed_at").asc(nulls_first=True)).first())
        if endpoint is None:
            return None
        delivery = due_deliveries(now).filter(endpoint=endpoint).select_related("event").order_by("id").first()
        if delivery is None:
            return None
        token = uuid.uuid4()
        Endpoint.objects.filter(pk=endpoint.pk).update(
            leased_until=now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_S),
            lease_token=token, last_claimed_at=now)
        signing = [endpoint.secret]
        if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
            signing.append(endpoint.previous_secret)
        return Claim(delivery.id, endpoint.id, token, endpoint.url, tuple(signing), str(delivery.message_id),
                     _body(delivery), delivery.attempts + 1)


def _disable(endpoint: Endpoint, reason: str, now: datetime) -> None:
    endpoint.active, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:500], now


def delivery_record(*, claim: Claim, outcome: Outcome, started_at: datetime) -> Delivery | None:
    """What the attempt gave: delivered, a retry on the schedule (or after ``Retry-After``),
    failed for good; the endpoint disabled on 410 or after failing for WEBHOOK_DISABLE_AFTER_DAYS.
    None when the endpoint or the delivery was deleted meanwhile."""
    now = timezone.now()
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().filter(pk=claim.endpoint_id).first()
        delivery = Delivery.objects.select_for_update().filter(pk=claim.delivery_id).first()
        if endpoint is None or delivery is None:
            return None
        if endpoint.lease_token == claim.lease_token:
            endpoint.leased_until, endpoint.lease_token = None, None
        delivery.attempts += 1
        Attempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=started_at,
                               status_code=outcome.status_code, duration_ms=outcome.duration_ms,
                               error=outcome.error[:500], response_body=outcome.body)
        delivery.status_code, delivery.duration_ms, delivery.last_error = (
            outcome.status_code, outcome.duration_ms, outcome.error[:500])
        delivery.next_attempt_at = None
        if outcome.ok:
            delivery.state, delivery.delivered_at = Delivery.State.DELIVERED, now
            endpoint.failing_since = None
        elif outcome.status_code == 410:
            delivery.state = Delivery.State.FAILED
            _disable(endpoint, f"The endpoint answered 410 Gone at {now:%Y-%m-%d %H:%M:%S} UTC, so deliveries "
                               'stopped. PATCH it with {"active": true} to resume.', now)
        else:
            endpoint.failing_since = endpoint.failing_since or now
            if outcome.refused or delivery.attempts > len(schedule):
                delivery.state = Delivery.State.FAILED
            else:
                wait = outcome.retry_after if outcome.retry_after is not None else schedule[delivery.attempts - 1]
                delivery.next_attempt_at = now + timedelta(seconds=wait)
            failing_for = now - endpoint.failing_since
            if endpoint.active and failing_for >= timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS):
                _disable(endpoint, f"Every attempt failed for {settings.WEBHOOK_DISABLE_AFTER_DAYS:g} days (since "
                                   f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC; last: {outcome.error}). "
                                   'PATCH it with {"active": true} to resume.', now)
        delivery.save()
        endpoint.save(update_fields=["leased_until", "lease_token", "failing_since", "active", "disabled_reason",
                                     "disabled_at"])
    return delivery


def purge_finished_telemetry(cutoff: datetime) -> int:
    """Forget finished deliveries of position reports made before ``cutoff`` (the reports
    themselves are compacted then: ``events.retention``). Lifecycle deliveries are kept."""
    telemetry = [name for name, event_type in EVENT_TYPES.items() if event_type.telemetry]
    return Delivery.objects.filter(event_type__in=telemetry, created_at__lt=cutoff,
                                   state__in=[Delivery.State.DELIVERED, Delivery.State.FAILED]).delete()[0]
