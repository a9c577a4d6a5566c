"""Root URLs. API paths answer with and without a trailing slash, without a redirect."""
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from events.apis import EventFeedApi
from pizzadelivery import apis
from pizzadelivery.infra.docs import ApiDocsView
from pizzadelivery.webhooks import apis as webhooks


def api(route: str, view, name: str):
    return re_path(rf"^api/{route}/?$", view, name=name)


ID = r"(?P<{}>[^/]+)"

handler400 = "pizzadelivery.infra.errors.bad_request"
handler403 = "pizzadelivery.infra.errors.permission_denied"
handler404 = "pizzadelivery.infra.errors.page_not_found"
handler500 = "pizzadelivery.infra.errors.server_error"

urlpatterns = [
    api("restaurants", apis.RestaurantListApi.as_view(), "api-restaurants"),
    api(rf"restaurants/{ID.format('restaurant_id')}/menu", apis.RestaurantMenuApi.as_view(), "api-menu"),
    api(rf"restaurants/{ID.format('restaurant_id')}/status", apis.RestaurantStatusApi.as_view(),
        "api-restaurant-status"),
    api(rf"menu-items/{ID.format('menu_item_id')}/availability", apis.MenuItemAvailabilityApi.as_view(),
        "api-menu-item-availability"),
    api("orders", apis.OrdersApi.as_view(), "api-orders"),
    api(rf"orders/{ID.format('order_id')}", apis.OrderDetailApi.as_view(), "api-order"),
    api(rf"orders/{ID.format('order_id')}/transition", apis.OrderTransitionApi.as_view(), "api-order-transition"),
    api(rf"orders/{ID.format('order_id')}/candidates", apis.OrderCandidatesApi.as_view(), "api-order-candidates"),
    api("drivers", apis.DriverListApi.as_view(), "api-drivers"),
    api(rf"drivers/{ID.format('driver_id')}/location", apis.DriverLocationApi.as_view(), "api-driver-location"),
    api(rf"drivers/{ID.format('driver_id')}/status", apis.DriverStatusApi.as_view(), "api-driver-status"),
    api("events", EventFeedApi.as_view(), "api-events"),
    api("webhooks", webhooks.WebhookListApi.as_view(), "api-webhooks"),
    api(rf"webhooks/{ID.format('webhook_id')}", webhooks.WebhookDetailApi.as_view(), "api-webhook"),
    api(rf"webhooks/{ID.format('webhook_id')}/rotate-secret", webhooks.WebhookRotateSecretApi.as_view(),
        "api-webhook-rotate-secret"),
    api(rf"webhooks/{ID.format('webhook_id')}/test", webhooks.WebhookTestApi.as_view(), "api-webhook-test"),
    api(rf"webhooks/{ID.format('webhook_id')}/deliveries", webhooks.WebhookDeliveriesApi.as_view(),
        "api-webhook-deliveries"),
    api(rf"webhooks/{ID.format('webhook_id')}/deliveries/{ID.format('delivery_id')}/replay",
        webhooks.WebhookReplayApi.as_view(), "api-webhook-replay"),
    api("schema", SpectacularAPIView.as_view(permission_classes=[]), "api-schema"),
    api("docs", ApiDocsView.as_view(url_name="api-schema"), "api-docs"),
    path("", include("tracking.urls")),
    path("", include("statedash.urls")),
    path("admin/", admin.site.urls),
    # The language switcher's target (Django's set_language view).
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("pizzadelivery.accounts.urls")),
    path("", include("pizzadelivery.kitchen.urls")),
    path("", include("pizzadelivery.courier.urls")),
    path("favicon.ico", RedirectView.as_view(url="/static/favicon.svg", permanent=True)),
    path("", include("pizzadelivery.storefront.urls")),
]
