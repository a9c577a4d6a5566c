"""What a customer's e-mail says: one template pair (plain text and HTML) for every kind,
rendered in the language the customer ordered in."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from pizzadelivery.lifecycle import customer_message
from pizzadelivery.models import Order
from pizzadelivery.tokens import tracking_token_for


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str


def tracking_link(order: Order) -> str:
    return settings.SITE_URL + reverse("tracking:tracker", args=[tracking_token_for(order.id)])


def _subject(kind: str, order: Order) -> str:
    subjects = {
        "confirmed": _("%(shop)s confirmed your order %(code)s"),
        "out_for_delivery": _("Your pizza is on its way (order %(code)s)"),
        "arriving": _("Your driver is almost there (order %(code)s)"),
        "delivered": _("Delivered: enjoy your pizza! (order %(code)s)"),
        "cancelled": _("Your order %(code)s was cancelled"),
    }
    return subjects[kind] % {"shop": order.restaurant.name, "code": order.code}


def render_email(order: Order, kind: str) -> Email:
    with translation.override(order.language or settings.LANGUAGE_CODE):
        context = {
            "kind": kind, "order": order, "first_name": order.customer.name.split(" ")[0],
            "tracking_url": tracking_link(order), "pin": order.delivery_pin,
            "cancel_message": customer_message(order.cancel_code or "other"),
        }
        return Email(subject=_subject(kind, order),
                     text=render_to_string("notifications/email.txt", context).strip() + "\n",
                     html=render_to_string("notifications/email.html", context))
