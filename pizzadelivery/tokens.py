"""Tracking tokens: signed (django.core.signing), unguessable, no personal data inside.

A token names one order; it opens that order's tracker and its reads in the API (and lets the
customer cancel while the order is still ``placed``). There is one token per order, the same
every time it is asked for, so a request made with it can never hand out a fresher link: the
link works from the order until ``TRACKING_LINK_HOURS`` after the order ends
(``policy.link_expired``).
"""
from __future__ import annotations

import uuid

from django.core import signing

SALT = "pizzadelivery.tracking"
MAX_TOKEN_LENGTH = 200


def tracking_token_for(order_id: uuid.UUID | str) -> str:
    return signing.Signer(salt=SALT).sign(uuid.UUID(str(order_id)).hex)


def order_id_from_token(token: str | None) -> uuid.UUID | None:
    """The order a token opens, or None for a forged or malformed token (whether the link has
    expired is a question about the order: ``policy.link_expired``)."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    for read in (_read_signed, _read_legacy):
        value = read(token)
        if isinstance(value, str):  # signed with our key but not by us: not a tracking token
            try:
                return uuid.UUID(hex=value)
            except ValueError:
                continue
    return None


def _read_signed(token: str) -> object:
    try:
        return signing.Signer(salt=SALT).unsign(token)
    except signing.BadSignature:
        return None


def _read_legacy(token: str) -> object:
    """Links handed out before there was one token per order (timestamped JSON)."""
    try:
        return signing.loads(token, salt=SALT)
    except (signing.BadSignature, ValueError, TypeError):
        return None
