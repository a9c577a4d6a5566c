from django.core.management.base import BaseCommand

from events.relay import run_forever


class Command(BaseCommand):
    help = "Publish outbox batches to Redis as soon as it answers; rebuild the mirror when Redis restarts empty."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--interval", type=float, default=0.5, help="Seconds between passes.")

    def handle(self, *args, interval: float, **options) -> None:
        self.stdout.write(f"relay running (every {interval} s); Ctrl-C stops it")
        try:
            run_forever(interval=interval)
        except KeyboardInterrupt:
            pass
