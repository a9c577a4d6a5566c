"""Webhooks in the Django admin: endpoints with their deliveries, the attempt log, and a replay
action (through the same service as the API)."""
from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from pizzadelivery.infra.errors import DomainError
from pizzadelivery.webhooks import services
from pizzadelivery.webhooks.models import Attempt, Delivery, Endpoint


class ReadOnly:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Endpoint)
class EndpointAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["url", "owner", "active", "event_types", "failing_since", "disabled_reason", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "owner__username"]
    exclude = ["secret", "previous_secret", "lease_token"]


class AttemptInline(admin.TabularInline):
    model = Attempt
    fields = ["number", "started_at", "status_code", "duration_ms", "error", "response_body"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "event_type", "endpoint", "state", "attempts", "status_code", "duration_ms",
                    "next_attempt_at", "created_at"]
    list_filter = ["state", "event_type"]
    search_fields = ["=message_id", "endpoint__url"]
    list_select_related = ["endpoint"]
    inlines = [AttemptInline]
    actions = ["replay"]

    @admin.action(description="Send the selected deliveries again")
    def replay(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset.select_related("endpoint__owner"):
            try:
                services.delivery_replay(endpoint_id=delivery.endpoint_id, owner=delivery.endpoint.owner,
                                         delivery_id=delivery.id)
                self.message_user(request, f"{delivery.event_type} #{delivery.id}: queued again.")
            except DomainError as exc:
                self.message_user(request, f"{delivery.event_type} #{delivery.id}: {exc.detail}", messages.WARNING)
