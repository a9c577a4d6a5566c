"""``make bench`` end to end with tiny numbers: every stage runs against the real servers, the
result files are written, and nothing is left running."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

TINY = ["--orders", "300", "--drivers", "20", "--layouts", "granian", "--layers", "pubsub",
        "--duration", "1", "--delivery-rates", "50", "--state-rates", "50",
        "--saturation-duration", "1", "--saturation-connections", "8",
        "--push-sockets", "10", "--push-rate", "10", "--push-duration", "1",
        "--hold-sockets", "40", "--hold-seconds", "0.5", "--event-duration", "1",
        "--location-rates", "20", "--location-duration", "1"]


def test_bench_runs_every_stage_and_writes_its_results(tmp_path: Path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pizzadelivery.settings"}
    done = subprocess.run([sys.executable, "-m", "bench", *TINY, "--var-dir", str(tmp_path)],
                          cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=170, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "| target | measured | met |" in done.stdout  # the markdown table was printed
    assert "RATELIMIT_ENABLE=0" in done.stdout

    results = json.loads((tmp_path / "latest.json").read_text())
    assert list(tmp_path.glob("results-*.json"))
    assert results["dataset"]["counts"]["orders"] == 300
    assert results["machine"]["cores"] == os.cpu_count()

    calibration = results["calibration"]  # the machine's yardstick, under both WSGI servers
    for server in ("gunicorn", "granian"):
        saturation = calibration[server]  # wrk's counts, or the Python generator's statuses
        assert saturation["throughput_rps"] > 0
        assert saturation.get("non_2xx", 0) == 0 and set(saturation.get("statuses", {"200": 1})) == {"200"}
    assert calibration["machine_factor"] == round(calibration["gunicorn"]["throughput_rps"] / 2700, 2)
    assert "Calibration: a bare Django view" in done.stdout

    (run,) = results["runs"]
    delivery = run["http"]["delivery"]
    assert delivery["probe_status"] == 200
    (fixed,) = delivery["fixed"]
    assert fixed["sent"] == 50 and fixed["statuses"] == {"200": 50} and not fixed["errors"]
    assert delivery["saturation"]["throughput_rps"] > 0
    state = run["http"]["state"]
    assert state["probe_status"] == 200 and state["fixed"][0]["statuses"] == {"200": 50}

    (push,) = run["ws"]["push"]
    assert push["opened"]["opened"] == 10 and push["post_statuses"] == {"200": 10}
    assert push["reach"] == 1.0 and push["push_latency"]["count"] == push["expected"] > 0
    (hold,) = run["ws"]["hold"]
    assert hold["still_open"] == 40 and hold["kib_per_socket"] > 0

    location = run["location"]  # position reports at a fixed rate, pushed to a tracker per order
    assert location["opened"] == location["trackers"] > 0
    (at_rate,) = location["fixed"]
    assert at_rate["post_statuses"] == {"200": 20} and at_rate["reach"] > 0
    assert at_rate["app_cpu_ms_per_unit"] > 0
    if shutil.which("wrk"):  # saturated by wrk (make bench installs it); skipped without
        assert location["saturation"]["throughput_rps"] > 0 and location["saturation"]["non_2xx"] == 0
    else:
        assert "saturation" not in location

    assert results["events"]["batches"] > 0 and results["events"]["unpublished_batches"] == 0
    saturation = next(t for t in results["targets"] if t["target"].startswith("delivery saturation"))
    assert saturation["measured"] == delivery["saturation"]["throughput_rps"]

    # Every server the bench started is gone (they ran from the bench's own var dir).
    leftovers = [p for p in psutil.process_iter(["cmdline", "environ"])
                 if str(tmp_path) in " ".join(p.info["cmdline"] or []) + str((p.info["environ"] or {}).get("VAR_DIR"))]
    assert not leftovers
