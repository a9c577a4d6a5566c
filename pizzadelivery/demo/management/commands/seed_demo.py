"""``python manage.py seed_demo``: Berlin pizzerias, menus, drivers, orders in every status,
and the ``admin`` superuser. Idempotent: a second run finds everything and changes nothing."""
from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from pizzadelivery.demo import seed as demo


class Command(BaseCommand):
    help = "Seed demo data (idempotent): pizzerias, menus, drivers, orders in every status, admin user."

    def handle(self, *args: object, **options: object) -> None:
        report = demo.seed()
        added = (f"{report.restaurants} pizzerias, {report.menu_items} menu items, {report.drivers} drivers, "
                 f"{report.orders} orders")
        if any((report.restaurants, report.menu_items, report.drivers, report.orders)):
            self.stdout.write(self.style.SUCCESS(f"demo data added: {added}"))
        else:
            self.stdout.write("demo data already in place; nothing added")
        for skipped in report.skipped:
            self.stderr.write(f"skipped {skipped}")
        base = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
        self.stdout.write(
            f"  admin login  {demo.ADMIN_USERNAME} / {report.admin_password}"
            f"{'  (new)' if report.admin_created else ''}\n"
            f"  API token    {report.admin_token}  (e.g. curl -H 'Authorization: Token {report.admin_token}' "
            f"{base}/api/state)")
