from __future__ import annotations

import uuid

import pytest
from django.core import signing

from pizzadelivery.tokens import SALT, order_id_from_token, tracking_token_for


def test_a_token_opens_its_order() -> None:
    order_id = uuid.uuid4()
    assert order_id_from_token(tracking_token_for(order_id)) == order_id


@pytest.mark.parametrize("payload", [{"order": "x"}, ["a"], 42, None, "not-a-uuid", ""])
def test_a_signed_token_holding_anything_else_opens_nothing(payload) -> None:
    assert order_id_from_token(signing.dumps(payload, salt=SALT)) is None


@pytest.mark.parametrize("token", ["", "x" * 500, "a:b:c", "../../etc/passwd", "\x00", "%00"])
def test_forged_or_malformed_tokens_open_nothing(token: str) -> None:
    assert order_id_from_token(token) is None


def test_one_token_per_order_every_time() -> None:
    order_id = uuid.uuid4()
    assert tracking_token_for(order_id) == tracking_token_for(str(order_id))
    assert order_id_from_token(tracking_token_for(order_id)) == order_id
    assert order_id_from_token(tracking_token_for(order_id)[:-1] + "x") is None
