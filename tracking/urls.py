from django.urls import path, re_path

from tracking import apis, views

app_name = "tracking"

urlpatterns = [
    re_path(r"^api/orders/(?P<order_id>[^/]+)/delivery/?$", apis.OrderDeliveryApi.as_view(), name="api-delivery"),
    path("track/<str:token>/", views.tracker, name="tracker"),
    path("track/<str:token>/live/", views.tracker_live, name="tracker-live"),
    path("track/<str:token>/cancel/", views.tracker_cancel, name="tracker-cancel"),
]
