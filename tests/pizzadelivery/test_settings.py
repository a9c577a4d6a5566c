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
