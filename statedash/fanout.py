"""Push the dashboard's changes after each published batch, to the ``dashboard`` group of each
language some dashboard is open in.

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

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe

from events.publisher import PublishedBatch
from pizzadelivery.infra.group_sends import group_send_all, watched_groups
from pizzadelivery.infra.languages import language_codes, language_group
from pizzadelivery.infra.redis import get_redis, key
from statedash import fragments
from statedash.selectors import feed_worthy

logger = logging.getLogger(__name__)

GROUP = "dashboard"
STATE_PUSH_INTERVAL_MS = 1000
FEED_MESSAGE = "dashboard.feed"
STATE_MESSAGE = "dashboard.state"


def dashboard_group(language: str) -> str:
    """Dashboards of one language share a group: each push is rendered once per language."""
    return language_group(GROUP, language)


def watched_languages() -> list[str]:
    """The languages some process has a dashboard socket of."""
    groups = {dashboard_group(language): language for language in language_codes()}
    return [groups[group] for group in watched_groups(groups)]


def dashboard_watched() -> bool:
    """Whether any process has a dashboard socket subscribed."""
    return bool(watched_languages())


def feed_message(batch: PublishedBatch, language: str | None = None) -> dict[str, Any] | None:
    shown = [event for event in batch.events if feed_worthy(event)]
    if not shown:
        return None
    with translation.override(language or settings.LANGUAGE_CODE):
        html = render_to_string("statedash/_feed_push.html", {
            "rows": mark_safe(fragments.render_feed_rows(shown[::-1])),  # newest first, as in the feed
            "version": mark_safe(fragments.feed_version_input(shown[-1].seq)),
        })
    return {"type": FEED_MESSAGE, "seq": shown[-1].seq, "html": html}


def _may_push_state() -> bool:
    return bool(get_redis().set(key("statedash", "state-push"), "1", nx=True, px=STATE_PUSH_INTERVAL_MS))


def state_messages(languages: list[str]) -> dict[str, dict[str, Any]]:
    """Per language: the state fragments that changed since the last shared snapshot, plus the
    stamp (one state computed, rendered in each language)."""
    both, before = fragments.refresh_snapshot()
    messages = {}
    for language in languages:
        snapshot = both.in_language(language)
        previous = before.in_language(language) if before is not None else None
        changed = [name for name in fragments.LIVE
                   if previous is None or previous.versions.get(name) != snapshot.versions[name]]
        html = "".join(snapshot.html[name] for name in changed) + snapshot.html["stamp"]
        messages[language] = {"type": STATE_MESSAGE, "seq": snapshot.seq, "html": html}
    return messages


def state_message() -> dict[str, Any]:
    return state_messages([settings.LANGUAGE_CODE])[settings.LANGUAGE_CODE]


def dashboard_fanout(batch: PublishedBatch) -> None:
    """Registered with the publisher; runs once per published batch."""
    languages = watched_languages()
    if not languages:
        return
    messages = [(dashboard_group(language), message) for language in languages
                if (message := feed_message(batch, language))]
    if _may_push_state():
        messages += [(dashboard_group(language), message) for language, message in state_messages(languages).items()]
    group_send_all(messages)
