from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Seed demo data (placeholder until the demo data lands)."

    def handle(self, *args, **options) -> None:
        self.stdout.write("no demo data yet")
