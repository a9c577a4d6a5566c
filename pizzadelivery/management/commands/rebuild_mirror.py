from django.core.management.base import BaseCommand

from events.publisher import publish_pending, rebuild_projections


class Command(BaseCommand):
    help = "Recreate the Redis mirror of orders and drivers from the database, then publish pending batches."

    def handle(self, *args, **options) -> None:
        rebuild_projections()
        published = publish_pending()
        self.stdout.write(self.style.SUCCESS(f"mirror rebuilt; {published} pending batch(es) published"))
