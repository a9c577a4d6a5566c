"""``make screenshots``: the README's screenshots, taken from the product itself.

Starts ``make run``'s stack (``manage.py run_stack``: migrate, seed the demo, embedded Redis,
server, relay; no simulator, so the pictures hold still) in a throwaway ``VAR_DIR`` on a free
port, moves one order of a demo pizzeria through its lifecycle over the API, logs in as the demo
accounts (password ``DEMO_ADMIN_PASSWORD``, generated when unset) and photographs every page
in ``SHOTS`` in Chromium, at phone (390 px) and desktop (1280 px) widths, in English and
German, into ``static/screenshots/``.

    python -m pizzadelivery.demo.screenshots [--only NAME ...] [--out DIR]

A development tool: nothing in the product imports it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent.parent
OUT_DIR = BASE_DIR / "static" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                 "--disable-component-update", "--disable-sync"]
PHONE = (390, 844)
DESKTOP = (1280, 900)

# The demo's order: a real demo pizzeria, a real Berlin address, the demo's customer.
PIZZERIA = "forno-rosso"
HOME = {"text": "Lychener Straße 12, Prenzlauer Berg", "lat": 52.5449, "lng": 13.4175}
CUSTOMER = {"name": "Grace Hopper", "phone": "+49 30 5550199"}


@dataclass(frozen=True)
class Shot:
    """One picture: ``page`` is a key of the pages the run resolves (``pages_of``)."""

    name: str
    page: str
    size: tuple[int, int]
    language: str = "en"
    login: str | None = None  # "dispatcher", "kitchen" or "driver": that demo account
    full_page: bool = False


SHOTS: tuple[Shot, ...] = (
    Shot("storefront.png", "storefront", DESKTOP),
    Shot("storefront-phone.png", "storefront", PHONE),
    Shot("storefront-de-phone.png", "storefront", PHONE, language="de"),
    Shot("menu.png", "menu", DESKTOP),
    Shot("menu-de-phone.png", "menu", PHONE, language="de"),
    Shot("tracker.png", "tracker", DESKTOP),
    Shot("tracker-phone.png", "tracker", PHONE),
    Shot("tracker-de.png", "tracker", DESKTOP, language="de"),
    Shot("tracker-de-phone.png", "tracker", PHONE, language="de"),
    Shot("dashboard.png", "dashboard", DESKTOP, login="dispatcher"),
    Shot("dashboard-de.png", "dashboard", DESKTOP, language="de", login="dispatcher"),
    Shot("kitchen.png", "kitchen", (1024, 900), login="kitchen"),
    Shot("kitchen-de.png", "kitchen", (1024, 900), language="de", login="kitchen"),
    Shot("driver.png", "driver", PHONE, login="driver"),
    Shot("driver-de.png", "driver", PHONE, language="de", login="driver"),
)
PAGES = {"storefront", "menu", "tracker", "dashboard", "kitchen", "driver"}
# What each page shows once it is ready to be photographed.
READY = {"tracker": '#trk-conn[data-state="connected"]', "kitchen": '#kt-conn[data-state="live"]',
         "driver": '#dr-conn[data-state="live"]', "dashboard": ".panel"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """``manage.py run_stack`` in a directory of its own, on its own embedded Redis and SQLite."""

    def __init__(self, password: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.var_dir = tempfile.TemporaryDirectory(prefix="pd-screenshots-")
        self.env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
        self.env.update({"VAR_DIR": self.var_dir.name, "HOST": "127.0.0.1", "PORT": str(self.port),
                         "SIMULATE": "0", "LOG_LEVEL": "WARNING", "DEMO_ADMIN_PASSWORD": password, "PYTHONUNBUFFERED": "1",
                         "DJANGO_SETTINGS_MODULE": "pizzadelivery.settings"})
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> str:
        return subprocess.run([sys.executable, str(BASE_DIR / "manage.py"), *args], env=self.env, cwd=BASE_DIR,
                              check=True, capture_output=True, text=True).stdout

    def start(self) -> Stack:
        self.process = subprocess.Popen([sys.executable, str(BASE_DIR / "manage.py"), "run_stack"], env=self.env,
                                        cwd=BASE_DIR, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/restaurants", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("run_stack stopped before it answered")
            time.sleep(0.5)
        raise RuntimeError("run_stack did not answer within 3 minutes")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.var_dir.cleanup()


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.base_url, self.token = base_url, token

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            f"{self.base_url}{path}", method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")


def listed(answer: Any) -> list[dict[str, Any]]:
    """A list answer, paginated (``results``) or plain."""
    if isinstance(answer, dict):
        return answer.get("results") or answer.get("items") or answer.get("menu") or []
    return answer


def place_demo_orders(api: Api) -> dict[str, Any]:
    """One order out for delivery (the tracker, the driver's app), and two more in the kitchen."""
    restaurant = next(r for r in listed(api("GET", "/api/restaurants")) if r["slug"] == PIZZERIA)
    items = listed(api("GET", f"/api/restaurants/{restaurant['id']}/menu"))

    def item(name: str, size: str) -> int:
        return next(i["id"] for i in items if i["name"] == name and i["size"] == size)

    def order(lines: list[tuple[int, int]], name: str) -> dict[str, Any]:
        return api("POST", "/api/orders", {
            "restaurant": restaurant["id"], "customer": {**CUSTOMER, "name": name}, "delivery_address": HOME,
            "items": [{"menu_item": menu_item, "quantity": quantity} for menu_item, quantity in lines]})

    tracked = order([(item("Margherita", "M"), 2), (item("Diavola", "L"), 1), (item("Tiramisù", "-"), 1)],
                    CUSTOMER["name"])
    for step in ("confirmed", "preparing", "ready", "dispatched"):
        tracked = api("POST", f"/api/orders/{tracked['id']}/transition", {"to": step})
    driver_id = tracked["driver_id"]
    shop = restaurant["location"]
    api("POST", f"/api/drivers/{driver_id}/location", {"lat": shop["lat"], "lng": shop["lng"]})
    api("POST", f"/api/orders/{tracked['id']}/transition", {"to": "out_for_delivery"})
    # A third of the way home, heading north-east.
    driver_at = {"latitude": shop["lat"] + (HOME["lat"] - shop["lat"]) * 0.35,
                 "longitude": shop["lng"] + (HOME["lng"] - shop["lng"]) * 0.35}
    api("POST", f"/api/drivers/{driver_id}/location", {
        "lat": driver_at["latitude"], "lng": driver_at["longitude"], "heading": 40, "speed_kmh": 18})
    waiting = order([(item("Marinara", "L"), 1), (item("San Pellegrino 0.5 l", "-"), 2)], "Ada Lovelace")
    baking = order([(item("Prosciutto e Rucola", "M"), 1)], "Alan Turing")
    for step in ("confirmed", "preparing"):
        api("POST", f"/api/orders/{baking['id']}/transition", {"to": step})
    assert waiting["status"] == "placed"
    return {"tracking_url": tracked["tracking_url"], "order_id": tracked["id"], "driver_id": driver_id,
            "driver_at": driver_at,
            "restaurant": restaurant}


def pages_of(stack: Stack, demo: dict[str, Any]) -> dict[str, str]:
    return {"storefront": "/", "menu": f"/restaurants/{PIZZERIA}/",
            "tracker": re.sub(r"^https?://[^/]+", "", demo["tracking_url"]),
            # the console with the tracked order's panel open
            "dashboard": f"/dashboard/orders/{demo['order_id']}/", "kitchen": "/kitchen/", "driver": "/driver/"}


def accounts_of(demo: dict[str, Any]) -> dict[str, str]:
    return {"dispatcher": "dispatcher", "kitchen": f"kitchen-{PIZZERIA}", "driver": f"driver-{demo['driver_id']}"}


def photograph(stack: Stack, demo: dict[str, Any], password: str, shots: list[Shot], out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    pages, accounts = pages_of(stack, demo), accounts_of(demo)
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for shot in shots:
            locale = "de-DE" if shot.language == "de" else "en-GB"
            # The driver's phone shares where it is (the demo driver is on the way to the customer).
            where = {"permissions": ["geolocation"], "geolocation": demo["driver_at"]} if shot.page == "driver" else {}
            context = browser.new_context(viewport={"width": shot.size[0], "height": shot.size[1]}, locale=locale,
                                          device_scale_factor=1, reduced_motion="reduce", **where)
            page = context.new_page()
            page.set_default_timeout(20_000)
            if shot.login:
                page.goto(f"{stack.url}/accounts/login/")
                page.fill("#id_username", accounts[shot.login])
                page.fill("#id_password", password)
                page.locator("form.auth-form button[type=submit]").click()
                page.wait_for_load_state()
            page.goto(f"{stack.url}{pages[shot.page]}")
            if shot.page in READY:
                page.wait_for_selector(READY[shot.page])
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(600)  # fonts and the last swap settle
            path = out / shot.name
            page.screenshot(path=str(path), full_page=shot.full_page)
            written.append(path)
            print(f"  {path.relative_to(BASE_DIR) if path.is_relative_to(BASE_DIR) else path}")
            context.close()
        browser.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="file names (e.g. tracker.png) to take; default: all")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where to write them")
    args = parser.parse_args(argv)
    shots = [shot for shot in SHOTS if not args.only or shot.name in args.only]
    if not Path(CHROMIUM).exists():
        print("no Chromium at /usr/bin/chromium: make screenshots installs Debian's where it can", file=sys.stderr)
        return 1
    password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
    args.out.mkdir(parents=True, exist_ok=True)
    stack = Stack(password)
    print(f"starting the demo stack on {stack.url} …")
    try:
        stack.start()
        token = stack.manage("drf_create_token", "admin").split()[2]
        demo = place_demo_orders(Api(stack.url, token))
        print(f"photographing {len(shots)} pages:")
        photograph(stack, demo, password, shots, args.out)
    except (urllib.error.HTTPError, subprocess.CalledProcessError) as exc:
        print(f"screenshots failed: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
