"""The customers' e-mails in the Django admin, to look at (sent, pending with the last error,
failed); rows change only through pizzadelivery.notifications.services."""
from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from pizzadelivery.notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["order", "kind", "to", "state", "attempts", "next_attempt_at", "sent_at", "last_error"]
    list_filter = ["state", "kind"]
    search_fields = ["order__code", "to"]
    list_select_related = ["order"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
