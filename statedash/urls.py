from django.urls import path, re_path

from statedash import apis, views

app_name = "statedash"
urlpatterns = [
    re_path(r"^api/state/?$", apis.SystemStateApi.as_view(), name="api-state"),
    re_path(r"^healthz/?$", apis.HealthzApi.as_view(), name="healthz"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/live/", views.dashboard_live, name="live"),
    path("dashboard/batches/<str:correlation_id>/", views.batch_detail, name="batch"),
    path("dashboard/orders/<uuid:order_id>/", views.order_panel, name="order"),
    path("dashboard/orders/<uuid:order_id>/dispatch/", views.order_dispatch, name="order-dispatch"),
    path("dashboard/orders/<uuid:order_id>/cancel/", views.order_cancel, name="order-cancel"),
    path("dashboard/orders/<uuid:order_id>/deliver/", views.order_deliver, name="order-deliver"),
    path("dashboard/auto-dispatch/", views.auto_dispatch, name="auto-dispatch"),
]
