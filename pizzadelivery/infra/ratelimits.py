"""Rate limits on top of django-ratelimit, answered as 429 JSON with Retry-After."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited


class RateLimited(Ratelimited):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate limited")
        self.retry_after = max(1, retry_after)


def client_key(group: str, request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


def enforce(request: HttpRequest, *, group: str, setting: str) -> None:
    """Count this request against ``settings.<setting>`` (e.g. "600/m") per client."""
    usage = get_usage(request, group=group, key=client_key, rate=getattr(settings, setting),
                      increment=True)
    if usage is not None and usage["should_limit"]:
        raise RateLimited(int(usage["time_left"]))
