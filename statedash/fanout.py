"""Push the dashboard's changes after each published batch, to the ``dashboard`` group.

Per batch: its feed rows, rendered once, prepended in every open dashboard. The state
fragments (stats, chart, deliveries, ...) cost a state computation, so they are pushed at most
once per ``STATE_PUSH_INTERVAL_MS`` over all processes (a Redis ``SET NX PX``); whatever a
throttled batch changed is picked up by the dashboards' 5-s poll, whose snapshot is
recomputed once an event was published after it.
Nothing is computed while no dashboard is open.
"""
from __future__ import annotations

import logging
from typing import Any

import redis
from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

from events.publisher import PublishedBatch
from pizzadelivery.infra.group_sends import group_send_all
from pizzadelivery.infra.redis import get_redis, key
from statedash import fragments
from statedash.selectors import feed_worthy

logger = logging.getLogger(__name__)

GROUP = "dashboard"
STATE_PUSH_INTERVAL_MS = 1000
FEED_MESSAGE = "dashboard.feed"
STATE_MESSAGE = "dashboard.state"


def _group_channel(group: str) -> str:
    # channels_redis' pub/sub layer publishes a group's messages on this Redis channel.
    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "asgi")
    return f"{prefix}__group__{group}"


def dashboard_watched() -> bool:
    """Whether any process has a dashboard socket subscribed (Redis ``PUBSUB NUMSUB``)."""
    layer = settings.CHANNEL_LAYERS["default"]
    if not layer["BACKEND"].endswith("RedisPubSubChannelLayer"):
        return True  # no cheap way to tell: push anyway
    channel = _group_channel(GROUP)
    for host in layer.get("CONFIG", {}).get("hosts", []):
        url = host if isinstance(host, str) else host.get("address", settings.REDIS_URL)
        client = get_redis() if url == settings.REDIS_URL else redis.Redis.from_url(
            url, socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_CONNECT_TIMEOUT)
        if any(count for _, count in client.pubsub_numsub(channel)):
            return True
    return False


def feed_message(batch: PublishedBatch) -> dict[str, Any] | None:
    shown = [event for event in batch.events if feed_worthy(event)]
    if not shown:
        return None
    html = render_to_string("statedash/_feed_push.html", {
        "rows": mark_safe(fragments.render_feed_rows(shown[::-1])),  # newest first, as in the feed
        "version": mark_safe(fragments.feed_version_input(shown[-1].seq)),
    })
    return {"type": FEED_MESSAGE, "seq": shown[-1].seq, "html": html}


def _may_push_state() -> bool:
    return bool(get_redis().set(key("statedash", "state-push"), "1", nx=True, px=STATE_PUSH_INTERVAL_MS))


def state_message() -> dict[str, Any]:
    """The state fragments that changed since the last shared snapshot, plus the stamp."""
    snapshot, previous = fragments.refresh_snapshot()
    changed = [name for name in fragments.LIVE
               if previous is None or previous.versions.get(name) != snapshot.versions[name]]
    html = "".join(snapshot.html[name] for name in changed) + snapshot.html["stamp"]
    return {"type": STATE_MESSAGE, "seq": snapshot.seq, "html": html}


def dashboard_fanout(batch: PublishedBatch) -> None:
    """Registered with the publisher; runs once per published batch."""
    if not dashboard_watched():
        return
    messages = [message for message in (feed_message(batch),) if message]
    if _may_push_state():
        messages.append(state_message())
    group_send_all((GROUP, message) for message in messages)
