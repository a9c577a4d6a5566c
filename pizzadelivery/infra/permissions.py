"""DRF permission classes that know no app."""
from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request


def is_staff_or_integrator(request: Request) -> bool:
    user = request.user
    if not (user and user.is_authenticated):
        return False
    return bool(user.is_staff or isinstance(request.successful_authenticator, TokenAuthentication))

class IsStaffOrIntegrator(BasePermission):
    """Staff with a session, or any integrator presenting an API token."""

    def has_permission(self, request: Request, view: object) -> bool:
        return is_staff_or_integrator(request)
