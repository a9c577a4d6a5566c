"""The machine's yardstick: a bare Django view that reads one Redis hash, as WSGI.

Issue 6 sets its throughput targets on a machine where this view served about 2,700 req/s under
``gunicorn -w 2``; the bench measures the same view here first, so the product's numbers can be
read against what the machine itself can do. No apps, no middleware, no database.
"""
from __future__ import annotations

import os

import redis
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, JsonResponse
from django.urls import path

REFERENCE_RPS = 2700  # issue 6: this view under gunicorn -w 2 on the machine the targets came from
HASH_KEY = f"{os.environ.get('REDIS_KEY_PREFIX', 'pdbench')}:bare:hash"

settings.configure(DEBUG=False, SECRET_KEY="bare-view", ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__,
                   MIDDLEWARE=[], INSTALLED_APPS=[], USE_TZ=True)
client = redis.Redis.from_url(os.environ["REDIS_URL"], decode_responses=True)
client.hset(HASH_KEY, mapping={"status": "out_for_delivery", "eta_seconds": "420"})


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse(client.hgetall(HASH_KEY))


urlpatterns = [path("bare", bare)]
application = get_wsgi_application()
