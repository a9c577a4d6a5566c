"""WSGI entry point: the HTTP side under granian (see README, performance)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pizzadelivery.settings")
application = get_wsgi_application()

from pizzadelivery.infra.servers import wrap_wsgi  # noqa: E402  (needs the apps loaded)
from pizzadelivery.infra.startup import freeze_loaded_objects  # noqa: E402

application = wrap_wsgi(application)  # X-Forwarded-For only from FORWARDED_ALLOW_IPS

freeze_loaded_objects()
