"""``python manage.py seed_demo``: Berlin pizzerias, menus, drivers, orders in every status,
and the demo accounts (admin, dispatcher, a kitchen per pizzeria, a login per driver).
Idempotent: a second run finds everything and changes nothing."""
from __future__ import annotations

import os

from django.core.management.base import BaseCommand

from pizzadelivery.demo import seed as demo


class Command(BaseCommand):
    help = "Seed demo data (idempotent): pizzerias, menus, drivers, orders in every status, demo accounts."

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
        accounts = report.accounts
        drivers = accounts["driver"]
        self.stdout.write(
            f"  demo logins  password {report.admin_password}{'  (new)' if report.admin_created else ''} "
            f"(DEMO_ADMIN_PASSWORD), at {base}/accounts/login/\n"
            f"    admin        everything, and {base}/admin/\n"
            f"    dispatcher   {base}/dashboard/\n"
            f"    kitchen      {', '.join(accounts['kitchen'])}\n"
            f"    driver       {drivers[0] if drivers else ''} … {drivers[-1] if drivers else ''} "
            f"(driver-<driver id>)\n"
            f"  API token    {report.admin_token} (admin); any account's: python manage.py drf_create_token "
            f"<username>\n"
            f"               e.g. curl -H 'Authorization: Token {report.admin_token}' {base}/api/state")
