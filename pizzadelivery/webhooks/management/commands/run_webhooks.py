from django.conf import settings
from django.core.management.base import BaseCommand

from pizzadelivery.webhooks.sender import run_forever


class Command(BaseCommand):
    help = "Send webhooks: make deliveries from the outbox, send what is due, retry on the schedule."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between passes when idle.")
        parser.add_argument("--threads", type=int, default=settings.WEBHOOK_SENDER_THREADS,
                            help="Sending threads (one endpoint is served by one at a time).")

    def handle(self, *args, interval: float, threads: int, **options) -> None:
        self.stdout.write(f"webhook sender running ({threads} threads); Ctrl-C stops it")
        try:
            run_forever(threads=threads, interval=interval)
        except KeyboardInterrupt:
            pass
