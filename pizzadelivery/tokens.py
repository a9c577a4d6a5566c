"""Tracking tokens: signed (django.core.signing), unguessable, no personal data inside.

A token names one order and expires; it opens that order's tracker and delivery API only.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.core import signing

SALT = "pizzadelivery.tracking"
MAX_TOKEN_LENGTH = 200


def tracking_token_for(order_id: uuid.UUID | str) -> str:
    return signing.dumps(uuid.UUID(str(order_id)).hex, salt=SALT)


def order_id_from_token(token: str | None) -> uuid.UUID | None:
    """The order a token opens, or None for a forged, malformed or expired token."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        value = signing.loads(token, salt=SALT, max_age=settings.TRACKING_TOKEN_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(value, str):  # signed with our key but not by us: not a tracking token
        return None
    try:
        return uuid.UUID(hex=value)
    except ValueError:
        return None
