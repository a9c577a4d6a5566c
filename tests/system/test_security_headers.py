"""Security headers: a Content-Security-Policy on every page (own scripts and styles only, no
inline script, style attribute or eval), and pages that really load under it in Chromium."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect
from django.test import Client

from pizzadelivery.infra.docs import SWAGGER_UI_STYLE
from pizzadelivery.tokens import tracking_token_for
from tests import factories
from tests.conftest import login_page
from tests.system.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def _policy(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def _pages(world: World) -> list[str]:
    token = tracking_token_for(world.orders["dispatched"].id)
    return ["/", f"/restaurants/{world.restaurant.slug}/", f"/track/{token}/", f"/track/{token}/live/",
            # where checkout lands (the old confirmation link redirects there)
            f"/track/{tracking_token_for(world.orders['placed'].id)}/", "/dashboard/", "/admin/",
            "/accounts/login/", "/api/docs", "/no/such/page/", "/kitchen/",
            f"/dashboard/orders/{world.orders['ready'].id}/"]


DRIVER_PAGES = ["/driver/"]  # a driver's own page: the admin is no driver


def test_every_page_has_a_content_security_policy(world: World) -> None:
    admin, driver = Client(), Client()
    admin.force_login(factories.admin_user("csp-admin"))
    driver.force_login(factories.driver_user(world.free_drivers[0]))
    for client, path in [*((admin, path) for path in _pages(world)), *((driver, path) for path in DRIVER_PAGES)]:
        response = client.get(path)
        assert response.status_code in (200, 302, 404), (path, response.status_code)
        policy = _policy(response)
        assert policy.get("default-src") == ["'self'"], (path, policy)
        assert policy.get("script-src") == ["'self'"], (path, policy)
        # Swagger UI's one injected <style> is allowed by its hash on the docs page only.
        styles = ["'self'", SWAGGER_UI_STYLE] if path == "/api/docs" else ["'self'"]
        assert policy.get("style-src") == styles, (path, policy)
        assert policy.get("frame-ancestors") == ["'none'"], (path, policy)
        assert "unsafe" not in response.get("Content-Security-Policy", ""), path


@pytest.mark.browser
@pytest.mark.slow
def test_pages_load_under_their_policy_without_a_violation(live, page, world: World) -> None:
    """The browser enforces the policy: no refused inline script or style; the tracker's
    htmx socket (connect-src 'self') opens."""
    violations: list[str] = []
    page.on("console", lambda message: violations.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    page.on("pageerror", lambda error: violations.append(f"{page.url}: {error}"))
    login_page(page, live, factories.admin_user("csp-browser"))
    page.add_init_script("window.cspViolations = []; document.addEventListener('securitypolicyviolation', "
                         "e => window.cspViolations.push([e.violatedDirective, e.sourceFile, e.lineNumber, e.sample].join(' ')))")
    for path in _pages(world):
        if path.endswith("/live/") or path == "/no/such/page/":
            continue
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        violations.extend(page.evaluate("window.cspViolations || []"))
        if path.startswith("/track/"):  # htmx and its ws extension ran, the socket opened
            expect(page.locator("#trk-conn")).to_have_attribute("data-state", "connected")
    login_page(page, live, factories.driver_user(world.free_drivers[0]))
    for path in DRIVER_PAGES:
        page.goto(live.url + path)
        page.wait_for_load_state("networkidle")
        violations.extend(page.evaluate("window.cspViolations || []"))
        expect(page.locator("#dr-conn")).to_have_attribute("data-state", "live")
    assert violations == [], "\n".join(violations)
