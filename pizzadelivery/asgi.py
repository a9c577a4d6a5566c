"""ASGI entry point: HTTP to Django, WebSockets to the live pages' consumers."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pizzadelivery.settings")
# Under ASGI every request runs in a thread of its own (asgiref's ThreadSensitiveContext): a
# persistent database connection would stay behind with each thread (379 open SQLite handles
# after a few bursts). Here connections close at the end of their request (settings.DB_CONN_MAX_AGE).
os.environ.setdefault("DB_CONN_MAX_AGE", "0")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the apps loaded)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from pizzadelivery.courier.routing import websocket_urlpatterns as driver_sockets  # noqa: E402
from pizzadelivery.infra.middleware import AsgiBodyLimit  # noqa: E402
from pizzadelivery.infra.startup import freeze_loaded_objects  # noqa: E402
from pizzadelivery.infra.ws import NoSuchSocket, RefusingOriginValidator  # noqa: E402
from pizzadelivery.kitchen.routing import websocket_urlpatterns as kitchen_sockets  # noqa: E402
from statedash.routing import websocket_urlpatterns as dashboard_sockets  # noqa: E402
from tracking.routing import websocket_urlpatterns as tracker_sockets  # noqa: E402

application = ProtocolTypeRouter({
    "http": AsgiBodyLimit(django_asgi_app),  # 413 past MAX_BODY_BYTES, before Django spools a byte
    "websocket": RefusingOriginValidator(AuthMiddlewareStack(URLRouter(
        tracker_sockets + dashboard_sockets + kitchen_sockets + driver_sockets
        + [re_path(r"", NoSuchSocket.as_asgi())]))),
})

freeze_loaded_objects()
