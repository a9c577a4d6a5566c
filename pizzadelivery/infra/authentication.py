"""API token authentication with the token's user cached in Redis.

DRF's ``TokenAuthentication`` reads the token and its user from the database on every
request: about a third of a cached ``/api/state`` answer (make bench). Here a hit is one Redis
GET. Saving or deleting a token or its user drops the entry at once; ``TOKEN_CACHE_SECONDS``
bounds what a missed drop (Redis away at that moment) could leave behind.
"""
from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

TOKEN_CACHE_SECONDS = 60


def _cache_key(token_key: str) -> str:
    # The key is a credential: Redis sees only its digest.
    return "authtoken:" + hashlib.sha256(token_key.encode()).hexdigest()


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        cache = caches["default"]  # ignores a Redis outage: every call is then a miss
        cached = cache.get(_cache_key(key))
        if cached is not None:
            return cached.user, cached
        user, token = super().authenticate_credentials(key)  # raises for unknown or inactive
        cache.set(_cache_key(key), token, TOKEN_CACHE_SECONDS)
        return user, token


def _token_changed(sender: type, instance: Token, **kwargs: Any) -> None:
    caches["default"].delete(_cache_key(instance.key))


def _user_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    keys = list(Token.objects.filter(user_id=instance.pk).values_list("key", flat=True))
    if keys:
        caches["default"].delete_many([_cache_key(key) for key in keys])


def connect_signals() -> None:
    post_save.connect(_token_changed, sender=Token, dispatch_uid="authtoken-cache-save")
    post_delete.connect(_token_changed, sender=Token, dispatch_uid="authtoken-cache-delete")
    user_model = get_user_model()
    post_save.connect(_user_changed, sender=user_model, dispatch_uid="authtoken-cache-user-save")
    post_delete.connect(_user_changed, sender=user_model, dispatch_uid="authtoken-cache-user-delete")
