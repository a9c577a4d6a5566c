"""Logging in: each role lands on its page; failed logins are throttled per account and per
client (django-axes), on our login page and the admin's alike."""
from __future__ import annotations

import pytest
from django.test import Client

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
WRONG = "not-the-password"


def attempt(username: str, password: str, *, ip: str = "10.0.0.1", path: str = "/accounts/login/"):
    return Client(REMOTE_ADDR=ip).post(path, {"username": username, "password": password})


def test_a_dispatcher_logs_in_and_lands_on_the_dashboard() -> None:
    factories.dispatcher_user("desk")
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "desk", "password": factories.PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/dashboard/" and response.status_code == 200


def test_a_wrong_password_says_so_and_logs_nobody_in() -> None:
    factories.dispatcher_user("desk")
    response = attempt("desk", WRONG)
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_an_account_is_locked_after_five_failures_from_anywhere(settings) -> None:
    factories.dispatcher_user("desk")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt("desk", WRONG, ip=f"10.0.1.{n}").status_code == 200
    assert attempt("desk", WRONG, ip="10.0.1.9").status_code == 429  # the fifth failure locks
    locked = attempt("desk", factories.PASSWORD, ip="10.0.2.1")  # the right password, from a new address
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    factories.dispatcher_user("other-desk")
    assert attempt("other-desk", factories.PASSWORD, ip="10.0.2.2").status_code == 302  # others log in


def test_a_client_is_locked_after_five_failures_on_any_accounts(settings) -> None:
    factories.dispatcher_user("desk")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt(f"guess-{n}", WRONG, ip="10.0.3.3").status_code == 200
    assert attempt("guess-last", WRONG, ip="10.0.3.3").status_code == 429
    assert attempt("desk", factories.PASSWORD, ip="10.0.3.3").status_code == 429
    assert attempt("desk", factories.PASSWORD, ip="10.0.3.4").status_code == 302  # the account is fine


def test_the_admin_login_is_throttled_too(settings) -> None:
    factories.admin_user("boss")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt("boss", WRONG, path="/admin/login/").status_code == 200
    assert attempt("boss", WRONG, path="/admin/login/").status_code == 429
    assert attempt("boss", factories.PASSWORD, path="/admin/login/").status_code == 429


def test_a_success_forgets_earlier_failures(settings) -> None:
    factories.dispatcher_user("desk")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt("desk", WRONG)
    assert attempt("desk", factories.PASSWORD).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt("desk", WRONG)
    assert attempt("desk", factories.PASSWORD).status_code == 302
