"""The SSRF guard: which addresses a webhook may go to, decided on the resolved address before
any connection; and Retry-After as seconds or an HTTP date."""
from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import pytest
from django.utils import timezone

from pizzadelivery.webhooks import transport

REFUSED = ["10.20.30.40", "172.16.5.4", "192.168.1.10", "100.64.0.1", "169.254.169.254", "127.0.0.1", "127.8.9.10",
           "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "localhost"]


@pytest.mark.parametrize("host", REFUSED)
def test_private_loopback_and_link_local_addresses_are_refused(host) -> None:
    with pytest.raises(transport.Refused):
        transport.resolve(host, 443, allow_private=False)
    assert transport.resolve(host, 443, allow_private=True)  # on purpose (development) they are allowed


@pytest.mark.parametrize("host", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_public_addresses_are_allowed(host) -> None:
    assert transport.resolve(host, 443, allow_private=False) == host  # resolved only: nothing is sent


def test_a_refused_target_is_never_contacted() -> None:
    outcome = transport.post("http://10.20.30.40:9/hook", b"{}", {}, timeout=1, allow_private=False, cap=10)
    assert outcome.refused and outcome.status_code is None and outcome.error.startswith("refused: 10.20.30.40")
    assert outcome.duration_ms < 100  # no connection attempt waited for


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "http:///nohost", "gopher://x"])
def test_only_http_urls(url) -> None:
    outcome = transport.post(url, b"{}", {}, timeout=1, allow_private=False, cap=10)
    assert outcome.refused and outcome.error.startswith("refused:")


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert transport.parse_retry_after("120") == 120
    assert transport.parse_retry_after("9999999") == transport.MAX_RETRY_AFTER_S
    in_a_minute = format_datetime(timezone.now() + timedelta(seconds=60), usegmt=True)
    assert transport.parse_retry_after(in_a_minute) == pytest.approx(60, abs=2)
    assert transport.parse_retry_after("soon") is None and transport.parse_retry_after(None) is None
