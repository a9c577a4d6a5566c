"""ASGI entry point: HTTP to Django, WebSockets to the live pages' consumers."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pizzadelivery.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the apps loaded)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from pizzadelivery.courier.routing import websocket_urlpatterns as driver_sockets  # noqa: E402
from pizzadelivery.infra.startup import freeze_loaded_objects  # noqa: E402
from pizzadelivery.infra.ws import NoSuchSocket, RefusingOriginValidator  # noqa: E402
from pizzadelivery.kitchen.routing import websocket_urlpatterns as kitchen_sockets  # noqa: E402
from statedash.routing import websocket_urlpatterns as dashboard_sockets  # noqa: E402
from tracking.routing import websocket_urlpatterns as tracker_sockets  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    "websocket": RefusingOriginValidator(AuthMiddlewareStack(URLRouter(
        tracker_sockets + dashboard_sockets + kitchen_sockets + driver_sockets
        + [re_path(r"", NoSuchSocket.as_asgi())]))),
})

freeze_loaded_objects()
