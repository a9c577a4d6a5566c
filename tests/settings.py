"""Test settings: the product's settings, with a Redis and a test database of this run's own,
so that several test runs on one machine (or a developer's `make run`) never share state."""
import os
import tempfile
from pathlib import Path

from pizzadelivery.settings import *  # noqa: F403
from pizzadelivery.settings import CACHES, CHANNEL_LAYERS, DATABASES, EMBEDDED_REDIS

if EMBEDDED_REDIS:
    EMBEDDED_REDIS_SOCKET = Path(tempfile.gettempdir()) / f"pd-test-{os.getpid()}.sock"
    REDIS_URL = f"unix://{EMBEDDED_REDIS_SOCKET}"
    CACHES["default"]["LOCATION"] = REDIS_URL
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [REDIS_URL]

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"pd-test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["TEST"] = {"NAME": f"test_pd_{os.getpid()}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
