from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.retention import prune_events


class Command(BaseCommand):
    help = ("Compact telemetry older than EVENT_RETENTION_DAYS: position reports of no order go, an order "
            "keeps the latest positions its tracker draws; lifecycle events are kept. The relay does this hourly.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=float, help="Retention in days (default: EVENT_RETENTION_DAYS).")

    def handle(self, *args, days: float | None, **options) -> None:
        if days is not None and days < 0:
            raise CommandError("--days must be 0 or more.")
        if days is None and settings.EVENT_RETENTION_DAYS <= 0:
            self.stdout.write("EVENT_RETENTION_DAYS is 0: every event is kept")
            return
        result = prune_events(days=days)
        self.stdout.write(f"pruned {result.events} telemetry event(s) and {result.batches} empty batch(es)")
