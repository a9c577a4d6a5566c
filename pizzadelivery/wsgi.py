"""WSGI entry point: the HTTP side under granian (see README, performance)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pizzadelivery.settings")
application = get_wsgi_application()
