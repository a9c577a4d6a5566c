"""What the numbers were measured on: they mean little without it."""
from __future__ import annotations

import os
import platform
import resource
import sqlite3
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import psutil

PACKAGES = ["Django", "channels", "channels-redis", "redis", "granian", "uvicorn", "gunicorn", "uvloop",
            "websockets", "psycopg"]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


def describe(*, database: str, redis: str) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "database": database,
        "redis": redis,
        "open_files_limit": {"soft": soft, "hard": hard},
        "packages": {name: _version(name) for name in PACKAGES},
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
