"""The Django admin, for admins only (superusers).

Every other role has pages of its own (the dashboard, the kitchen screen, the driver's app);
the admin is where users, tokens and the catalogue are managed, so a staff flag alone does not
open it.
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.http import HttpRequest


class AdminsOnlySite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser


class AdminsOnlyAdminConfig(AdminConfig):
    default_site = "pizzadelivery.infra.admin_site.AdminsOnlySite"
