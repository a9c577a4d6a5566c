"""The pages each role works on, for the login's landing and the top bar's links."""
from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _

from pizzadelivery.policy import may, principal


def role_pages(user: Any) -> list[tuple[str, str]]:
    """(label, url) of every page the user's roles open, the main one first."""
    if user is None or not user.is_authenticated:
        return []
    pages = []
    if may(user, "pd.view_state"):
        pages.append((_("Dashboard"), reverse("statedash:dashboard")))
    if may(user, "pd.use_kitchen_screen") and not user.is_superuser:
        pages.append((_("Kitchen"), reverse("kitchen:screen")))
    if principal(user).driver_id is not None:
        pages.append((_("Driver app"), reverse("courier:home")))
    if user.is_superuser:
        pages.append((_("Kitchen"), reverse("kitchen:screen")))
    if user.is_superuser:
        pages.append((_("Admin"), reverse("admin:index")))
    return pages


def home_url(user: Any) -> str | None:
    pages = role_pages(user)
    return pages[0][1] if pages else None


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the top bar's role links."""
    return {"role_pages": role_pages(getattr(request, "user", None))}
