"""Responses that carry personal data (orders, delivery state, the tracker, the confirmation)
are for their one reader: ``Cache-Control: private, no-store``, so no shared cache, proxy or
browser history keeps a copy."""
from __future__ import annotations

from django.utils.decorators import method_decorator
from django.views.decorators.cache import cache_control

personal = cache_control(private=True, no_store=True)
"""For function views."""

personal_api = method_decorator(personal, name="dispatch")
"""For class-based views (DRF): every method, error responses included."""
