"""Who may do what: the one place that decides (used by the API, the pages and the sockets)."""
from __future__ import annotations

import uuid

from rest_framework.request import Request

from pizzadelivery.infra.errors import ApiError
from pizzadelivery.infra.permissions import is_staff_or_integrator
from pizzadelivery.tokens import order_id_from_token


def check_order_access(request: Request, order_id: uuid.UUID) -> None:
    """Staff, an integrator token, or this order's own tracking token (``?token=``)."""
    if is_staff_or_integrator(request):
        return
    token = request.query_params.get("token")
    if token is None:
        raise ApiError("not_authenticated", "Log in, send an API token, or pass the order's tracking "
                       "token as ?token=.", status_code=401)
    if order_id_from_token(token) != order_id:
        raise ApiError("invalid_token", "That tracking token does not open this order.", status_code=403)
