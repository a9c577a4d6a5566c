from django.urls import path

from tracking.consumers import TrackerConsumer

websocket_urlpatterns = [
    path("ws/track/<str:token>/", TrackerConsumer.as_asgi()),
]
