"""The customers' e-mails: made from the outbox once per order and kind, sent by the relay,
retried after an SMTP failure (a real local SMTP server), never sent twice."""
from __future__ import annotations

import re
import socket
import threading
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from urllib.parse import urlsplit

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.test import Client
from django.utils import timezone

from events.relay import relay_once, run_tasks
from pizzadelivery import services
from pizzadelivery.notifications import services as notifications
from pizzadelivery.notifications.models import Cursor, Notification
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

HOME = (factories.CITY[0] + 0.01, factories.CITY[1] + 0.01)


def _bodies(message) -> tuple[str, str]:
    html = [content for content, mimetype in message.alternatives if mimetype == "text/html"]
    assert len(html) == 1, "every e-mail has an HTML alternative"
    return message.body, html[0]


def _drive_to_the_door(order) -> None:
    # Position reports are answered at commit; the mails follow what is published.
    services.driver_location_update(driver_id=order.driver_id, lat=HOME[0] - 0.02, lng=HOME[1])  # far: not arriving
    factories.published()
    notifications.notifications_task()
    services.driver_location_update(driver_id=order.driver_id, lat=HOME[0] - 0.0015, lng=HOME[1])  # ~220 m
    factories.published()


def test_every_stage_is_mailed_once_with_what_the_customer_needs(mirror) -> None:
    order = factories.order_at("out_for_delivery", customer_email="ada@example.com", lat=HOME[0], lng=HOME[1])
    notifications.notifications_task()
    _drive_to_the_door(order)
    notifications.notifications_task()
    factories.deliver(order.id)
    notifications.notifications_task()

    kinds = list(Notification.objects.filter(order=order).order_by("seq").values_list("kind", "state"))
    assert kinds == [("confirmed", "sent"), ("out_for_delivery", "sent"), ("arriving", "sent"), ("delivered", "sent")]
    assert [m.to for m in mail.outbox] == [["ada@example.com"]] * 4
    confirmed, on_its_way, arriving, delivered = mail.outbox
    assert order.code in confirmed.subject and order.restaurant.name in confirmed.subject
    text, html = _bodies(confirmed)
    assert text.startswith("Hello Ada,")
    assert f"confirmed your order {order.code} and starts on it shortly" in text
    link = re.search(r"http://\S+/track/\S+/", text).group(0)
    assert f'href="{link}"' in html
    assert order.delivery_pin and order.delivery_pin in _bodies(on_its_way)[0]
    assert order.delivery_pin in _bodies(on_its_way)[1]
    assert "about a minute away" in _bodies(arriving)[0]
    assert "delivered" in _bodies(delivered)[0]
    # The link in the mail opens the customer's tracker.
    page = Client().get(urlsplit(link).path)
    assert page.status_code == 200 and b"Track your pizza" in page.content and order.code.encode() in page.content


def test_a_cancelled_order_is_told_the_customer_facing_reason_never_the_note(mirror) -> None:
    order = factories.order_at("confirmed", customer_email="ada@example.com")
    services.order_transition(order_id=order.id, to="cancelled", reason_code="out_of_stock",
                              reason="supplier let us down again")
    notifications.notifications_task()
    cancelled = mail.outbox[-1]
    text, html = _bodies(cancelled)
    assert "was cancelled" in cancelled.subject
    assert "The pizzeria ran out of something" in text and "The pizzeria ran out of something" in html
    assert "supplier" not in text + html


def test_no_address_no_mail(mirror) -> None:
    factories.order_at("delivered")
    notifications.notifications_task()
    assert Notification.objects.count() == 0 and mail.outbox == []


def test_never_twice_relay_restarts_and_events_read_again(mirror) -> None:
    order = factories.order_at("confirmed", customer_email="ada@example.com")
    relay_once()
    run_tasks()  # the relay's pass: rows made and sent
    run_tasks()  # a second relay, or the next pass
    Cursor.objects.filter(pk="outbox").update(last_seq=0)  # a relay restarted from an old cursor
    run_tasks()
    assert notifications.notifications_from_outbox() == 0
    assert len(mail.outbox) == 1 and Notification.objects.get(order=order).attempts == 1


def test_arriving_is_sent_once_however_many_positions_come_near(mirror) -> None:
    order = factories.order_at("out_for_delivery", customer_email="ada@example.com", lat=HOME[0], lng=HOME[1])
    for step in range(3):
        services.driver_location_update(driver_id=order.driver_id, lat=HOME[0] - 0.001 + step * 0.0003, lng=HOME[1])
        factories.published()
        notifications.notifications_task()
    assert [m.subject for m in mail.outbox].count(mail.outbox[-1].subject) == 1
    assert Notification.objects.filter(order=order, kind="arriving").count() == 1


def test_rendered_in_the_customers_language(mirror) -> None:
    order = factories.order_at("confirmed", customer_email="ada@example.com", language="de")
    notifications.notifications_task()
    assert '<html lang="de">' in _bodies(mail.outbox[0])[1]
    assert mail.outbox[0].subject == f"{order.restaurant.name} hat Ihre Bestellung {order.code} bestätigt"
    assert f"hat Ihre Bestellung {order.code} bestätigt und beginnt gleich damit" in _bodies(mail.outbox[0])[0]
    assert Notification.objects.get(order=order).state == "sent"


class Inbox:
    """A real SMTP server on 127.0.0.1 that refuses every recipient until told to accept."""

    def __init__(self) -> None:
        self.accepting = False
        self.received: list[Message] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        if not self.accepting:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.received.append(message_from_bytes(envelope.content))
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(settings):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def test_an_smtp_refusal_is_retried_on_the_schedule_and_sent_once(mirror, smtp, settings) -> None:
    settings.NOTIFICATION_RETRY_SCHEDULE = [60.0, 600.0]
    order = factories.order_at("confirmed", customer_email="ada@example.com")
    notifications.notifications_task()
    row = Notification.objects.get(order=order)
    assert (row.state, row.attempts) == ("pending", 1) and "451" in row.last_error
    assert row.next_attempt_at > timezone.now() + timedelta(seconds=50)
    assert notifications.send_due_notifications() == 0  # not due yet
    smtp.accepting = True
    later = timezone.now() + timedelta(seconds=61)
    assert notifications.send_due_notifications(now=later) == 1
    assert notifications.send_due_notifications(now=later + timedelta(hours=1)) == 0
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == ("sent", 2, "")
    assert len(smtp.received) == 1
    received = smtp.received[0]
    assert received["To"] == "ada@example.com" and order.code in received["Subject"]
    assert received["Message-ID"].strip() == row.message_id
    assert {part.get_content_type() for part in received.walk()} >= {"text/plain", "text/html"}


def test_gives_up_after_the_schedule(mirror, smtp, settings) -> None:
    settings.NOTIFICATION_RETRY_SCHEDULE = [1.0]
    order = factories.order_at("confirmed", customer_email="ada@example.com")
    notifications.notifications_task()
    notifications.send_due_notifications(now=timezone.now() + timedelta(seconds=5))
    row = Notification.objects.get(order=order)
    assert (row.state, row.attempts) == ("failed", 2) and smtp.received == []


def test_two_senders_at_once_send_one_mail(mirror) -> None:
    factories.order_at("confirmed", customer_email="ada@example.com")
    notifications.notifications_from_outbox()
    threads = [threading.Thread(target=notifications.send_due_notifications) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mail.outbox) == 1


def test_a_position_near_the_door_before_pickup_is_not_arriving(mirror) -> None:
    order = factories.order_at("dispatched", customer_email="ada@example.com", lat=HOME[0], lng=HOME[1])
    services.driver_location_update(driver_id=order.driver_id, lat=HOME[0] - 0.001, lng=HOME[1])  # passing by
    for step in ("preparing", "ready", "out_for_delivery"):
        services.order_transition(order_id=order.id, to=step)
    notifications.notifications_task()  # read only now, after pickup
    assert not Notification.objects.filter(order=order, kind="arriving").exists()
    assert Notification.objects.filter(order=order, kind="out_for_delivery").exists()


def test_the_admin_lists_the_mails_to_look_at(mirror) -> None:
    order = factories.order_at("confirmed", customer_email="ada@example.com")
    notifications.notifications_task()
    boss = Client()
    boss.force_login(factories.admin_user())
    listed = boss.get("/admin/notifications/notification/")
    assert listed.status_code == 200 and order.code in listed.content.decode()
    assert boss.get("/admin/notifications/notification/add/").status_code == 403


def test_a_pass_stops_at_the_first_failure_so_the_relay_is_not_held_up(mirror, smtp) -> None:
    for _ in range(3):
        factories.order_at("confirmed", customer_email="ada@example.com")
    notifications.notifications_from_outbox()
    assert notifications.send_due_notifications() == 0
    assert sorted(Notification.objects.values_list("attempts", flat=True)) == [0, 0, 1]
    smtp.accepting = True
    later = timezone.now() + timedelta(hours=1)
    assert notifications.send_due_notifications(now=later) == 3 and len(smtp.received) == 3
