"""API tokens: the token's user is cached in Redis, and any change to either drops the entry."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from pizzadelivery.infra.authentication import CachedTokenAuthentication
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(staff) -> Token:
    return Token.objects.create(user=staff)


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_a_known_token_is_answered_from_redis_without_a_query(token) -> None:
    auth = CachedTokenAuthentication()
    assert auth.authenticate_credentials(token.key)[0] == token.user
    with CaptureQueriesContext(connection) as queries:
        user, cached = auth.authenticate_credentials(token.key)
    assert len(queries) == 0
    assert user.pk == token.user_id and user.is_staff and cached.key == token.key


def test_the_raw_key_is_never_stored_in_redis(token, redis_client) -> None:
    CachedTokenAuthentication().authenticate_credentials(token.key)
    names = redis_client.keys("*")
    assert any("authtoken:" in name for name in names)
    assert not any(token.key in name for name in names)


def test_a_deleted_token_stops_working_at_once(token) -> None:
    client = _client(token.key)
    assert client.get("/api/state").status_code == 200
    token.delete()
    response = client.get("/api/state")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"


def test_a_deactivated_user_stops_working_at_once(token) -> None:
    client = _client(token.key)
    assert client.get("/api/state").status_code == 200
    token.user.is_active = False
    token.user.save()
    assert client.get("/api/state").status_code == 401


def test_a_user_losing_staff_keeps_integrator_access_but_the_cache_follows(token) -> None:
    CachedTokenAuthentication().authenticate_credentials(token.key)
    token.user.is_staff = False
    token.user.save()
    user, _ = CachedTokenAuthentication().authenticate_credentials(token.key)
    assert user.is_staff is False


def test_an_unknown_token_is_refused_and_not_cached(transactional_db, redis_client) -> None:
    response = _client("0" * 40).get("/api/state")
    assert response.status_code == 401
    assert not [name for name in redis_client.keys("*") if "authtoken:" in name]


def test_with_redis_stopped_tokens_still_work_from_the_database(own_redis, staff) -> None:
    token = Token.objects.create(user=staff)
    factories.order()
    own_redis.stop()
    response = _client(token.key).get("/api/state")
    assert response.status_code == 200, response.content
    assert response.json()["source"] == "database"
