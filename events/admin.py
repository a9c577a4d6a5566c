from django.contrib import admin

from events.models import Batch, Event


class EventInline(admin.TabularInline):
    model = Event
    fields = ["seq", "type", "order_id", "driver_id", "payload", "occurred_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["id", "correlation_id", "kind", "created_at", "published_at", "publish_attempts"]
    list_filter = ["kind", ("published_at", admin.EmptyFieldListFilter)]
    search_fields = ["correlation_id"]
    readonly_fields = ["id", "correlation_id", "kind", "created_at", "published_at", "publish_attempts",
                       "last_error"]
    inlines = [EventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["seq", "type", "correlation_id", "order_id", "driver_id", "occurred_at"]
    list_filter = ["type"]
    search_fields = ["correlation_id", "=order_id"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
