"""Logging in (Django's own views, throttled by django-axes) and each role's home page."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from pizzadelivery.accounts.navigation import home_url


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Where a login lands: the page of the user's role."""
    url = home_url(request.user)
    if url is None:
        return render(request, "registration/no_role.html", status=403)
    return redirect(url)
