"""The sender: turns published events into deliveries and sends what is due, signed with the
``standardwebhooks`` package. ``python manage.py run_webhooks`` runs it; several processes (and
several threads in each) are safe: work is claimed per endpoint under row locks."""
from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone
from standardwebhooks import Webhook

from pizzadelivery.webhooks import services, transport
from pizzadelivery.webhooks.services import Claim

logger = logging.getLogger(__name__)


def signed_headers(claim: Claim, *, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: one ``v1,`` signature per secret in use (the new and,
    for a day after a rotation, the old one), separated by spaces as the spec says."""
    body = claim.body.decode()
    signatures = " ".join(Webhook(secret).sign(claim.message_id, at, body) for secret in claim.secrets)
    return {"webhook-id": claim.message_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signatures, "content-type": "application/json",
            "user-agent": "pizzadelivery-webhooks/1"}


def send(claim: Claim) -> transport.Outcome:
    started = datetime.now(UTC)
    return transport.post(claim.url, claim.body, signed_headers(claim, at=started),
                          timeout=settings.WEBHOOK_TIMEOUT_SECONDS, allow_private=settings.WEBHOOK_ALLOW_PRIVATE,
                          cap=settings.WEBHOOK_RESPONSE_CAP_BYTES)


def send_one() -> bool:
    """Claim, send and record one due delivery; False when nothing is due."""
    claim = services.delivery_claim()
    if claim is None:
        return False
    started = timezone.now()
    outcome = send(claim)
    services.delivery_record(claim=claim, outcome=outcome, started_at=started)
    if not outcome.ok:
        logger.info("webhook %s to %s: attempt %d failed: %s", claim.message_id, claim.url, claim.attempt,
                    outcome.error)
    return True


def _loop(step, *, interval: float, stop: threading.Event, name: str) -> None:
    try:
        while not stop.is_set():
            close_old_connections()
            try:
                busy = step()
            except DatabaseError as exc:
                logger.warning("webhook %s waiting for the database: %s", name, exc)
                busy = False
            if not busy:
                stop.wait(interval)
    finally:
        connections.close_all()


def _fan_in() -> bool:
    return services.deliveries_from_outbox() > 0


def run_forever(*, threads: int | None = None, interval: float = 0.5, stop: threading.Event | None = None) -> None:
    """One thread follows the outbox, ``threads`` send; returns once ``stop`` is set."""
    stop = stop or threading.Event()
    workers = [threading.Thread(target=_loop, args=(_fan_in,), daemon=True, name="webhooks-outbox",
                                kwargs={"interval": interval, "stop": stop, "name": "outbox"})]
    workers += [threading.Thread(target=_loop, args=(send_one,), daemon=True, name=f"webhooks-send-{n}",
                                 kwargs={"interval": interval, "stop": stop, "name": f"sender {n}"})
                for n in range(threads or settings.WEBHOOK_SENDER_THREADS)]
    for worker in workers:
        worker.start()
    try:
        while any(worker.is_alive() for worker in workers):
            for worker in workers:
                worker.join(timeout=0.5)
    finally:
        stop.set()
