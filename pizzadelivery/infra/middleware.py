"""Refuse NUL characters in the URL and the query string with a 400.

PostgreSQL cannot store or compare text containing NUL: a value that reaches a query without a
form validating it first (the admin's list filters, ``?status=%00``) would be a DataError, a 500.
Forms and DRF serializers already refuse NUL in bodies.
"""
from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse


class RejectNulMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or any("\x00" in key or any("\x00" in value for value in values)
                                         for key, values in request.GET.lists()):
            raise SuspiciousOperation("NUL character in the URL")
        return self.get_response(request)
