import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Demo simulator (placeholder)."

    def handle(self, *args, **options) -> None:
        while True:
            time.sleep(3600)
