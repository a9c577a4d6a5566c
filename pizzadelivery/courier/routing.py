from django.urls import path

from pizzadelivery.courier.consumers import DriverConsumer

websocket_urlpatterns = [
    path("ws/driver/", DriverConsumer.as_asgi()),
]
