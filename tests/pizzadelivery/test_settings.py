"""Production settings: secrets only from the environment, and `check --deploy` clean."""
from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "PRODUCTION", "DEBUG"}}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, text=True,
                          capture_output=True, env={**clean, "DJANGO_SETTINGS_MODULE": "pizzadelivery.settings", **env},
                          timeout=120)


def test_check_deploy_is_clean_under_production_settings() -> None:
    result = _manage("check", "--deploy", "--fail-level", "WARNING", PRODUCTION="1",
                     SECRET_KEY="k" * 20 + "-production-secret-from-the-environment-0123456789",
                     ALLOWED_HOSTS="pizza.example.com")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = _manage("check", PRODUCTION="1")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def _settings_of(*names: str, **env: str) -> dict[str, object]:
    """The named settings as a process started with ``env`` has them."""
    import json

    code = ("import json; from django.conf import settings; "
            f"print(json.dumps({{n: getattr(settings, n) for n in {list(names)!r}}}, default=str))")
    result = _manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_email_url_picks_the_transport() -> None:
    assert _settings_of("EMAIL_BACKEND")["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    smtp = _settings_of("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_USE_TLS",
                        EMAIL_URL="smtp+tls://mailer:s3cret@smtp.example.com:587")
    assert smtp == {"EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend", "EMAIL_HOST": "smtp.example.com",
                    "EMAIL_PORT": 587, "EMAIL_HOST_USER": "mailer", "EMAIL_USE_TLS": True}
    files = _settings_of("EMAIL_BACKEND", "EMAIL_FILE_PATH", EMAIL_URL="filemail:///tmp/pd-mails")
    assert files == {"EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                     "EMAIL_FILE_PATH": "/tmp/pd-mails"}


def test_map_tiles_open_the_csp_to_their_host_only() -> None:
    unset = _settings_of("CONTENT_SECURITY_POLICY")["CONTENT_SECURITY_POLICY"]
    assert unset["DIRECTIVES"]["img-src"] == ["'self'", "data:"]
    tiled = _settings_of("CONTENT_SECURITY_POLICY", MAP_TILES_URL="https://{s}.tiles.example.com/{z}/{x}/{y}.png")
    assert tiled["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]["img-src"] == ["'self'", "data:",
                                                                         "https://*.tiles.example.com"]
    refused = _manage("check", MAP_TILES_URL="javascript:alert(1)")
    assert refused.returncode != 0 and "MAP_TILES_URL" in refused.stderr


def test_an_unknown_geocoder_is_refused_at_start() -> None:
    refused = _manage("check", GEOCODER="google")
    assert refused.returncode != 0 and "GEOCODER is gazetteer or nominatim" in refused.stderr
