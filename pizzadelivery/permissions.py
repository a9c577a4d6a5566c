from __future__ import annotations

import uuid

from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from pizzadelivery.errors import ApiError
from pizzadelivery.tokens import order_id_from_token


def is_staff_or_integrator(request: Request) -> bool:
    user = request.user
    if not (user and user.is_authenticated):
        return False
    return bool(user.is_staff or isinstance(request.successful_authenticator, TokenAuthentication))


class IsStaffOrIntegrator(BasePermission):
    """Staff with a session, or any integrator presenting an API token."""

    def has_permission(self, request: Request, view: object) -> bool:
        return is_staff_or_integrator(request)


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
