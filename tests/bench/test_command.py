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

TINY = ["--orders", "300", "--drivers", "20", "--layouts", "granian,makerun", "--layers", "pubsub",
        "--duration", "1", "--delivery-rates", "50", "--state-rates", "50",
        "--saturation-duration", "1", "--saturation-connections", "8",
        "--push-sockets", "10", "--push-rate", "10", "--push-duration", "1",
        "--hold-sockets", "40", "--hold-seconds", "0.5", "--event-duration", "1",
        "--location-rates", "20", "--location-duration", "1",
        "--writers", "1,4", "--growth-events", "20000", "--ws-server-compression", "both"]


def test_makerun_layout_is_what_make_run_serves():
    from bench.stack import MAKERUN_HTTP_THREADS, MAKERUN_HTTP_WORKERS
    from pizzadelivery.management.commands import run_stack

    assert (MAKERUN_HTTP_WORKERS, MAKERUN_HTTP_THREADS) == (run_stack.HTTP_WORKERS, run_stack.HTTP_THREADS)


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

    run, makerun = results["runs"]
    assert (run["layout"], makerun["layout"]) == ("granian", "makerun")
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
    hold, hold_on = run["ws"]["hold"]  # permessage-deflate off (production's), then on (uvicorn's default)
    assert (hold["server_deflate"], hold_on["server_deflate"]) == ("off", "on")
    for held in (hold, hold_on):
        assert held["still_open"] == 40 and held["kib_per_socket"] > 0

    location = run["location"]  # position reports at a fixed rate, pushed to a tracker per order
    assert location["opened"] == location["trackers"] > 0
    (at_rate,) = location["fixed"]
    assert at_rate["post_statuses"] == {"200": 20} and at_rate["reach"] > 0
    assert at_rate["app_cpu_ms_per_unit"] > 0 and at_rate["relay_cpu_ms_per_unit"] >= 0
    assert at_rate["redis_cpu_ms_per_unit"] >= 0 and at_rate["total_cpu_ms_per_unit"] >= at_rate["app_cpu_ms_per_unit"]
    if results["machine"]["database"].startswith("PostgreSQL"):  # never negative: backends come and go
        assert at_rate["database_cpu_ms_per_unit"] >= 0
    if shutil.which("wrk"):  # saturated by wrk (make bench installs it); skipped without
        assert location["saturation"]["throughput_rps"] > 0 and location["saturation"]["non_2xx"] == 0
    else:
        assert "saturation" not in location

    assert results["events"]["batches"] > 0 and results["events"]["unpublished_batches"] == 0
    # Lifecycle batches from 1 and 4 concurrent writers, each run's order checked.
    assert [r["writers"] for r in results["lifecycle"]] == [1, 4]
    for lifecycle in results["lifecycle"]:
        assert lifecycle["batches"] > 0 and lifecycle["order_kept"], lifecycle["reason"]
        assert lifecycle["events_checked"] > 0 and lifecycle["stream_entries_checked"] > 0

    # `make run`'s layout (Caddy in front) served the delivery endpoint, beside the bare view.
    assert makerun["http"]["delivery"]["fixed"][0]["statuses"] == {"200": 50}
    assert makerun["http"]["delivery"]["saturation"]["throughput_rps"] > 0
    assert makerun["http"]["delivery"]["saturation_without_proxy"]["throughput_rps"] > 0  # Caddy's cost
    assert any(t["run"] == "makerun" and "bare view" in t["target"] for t in results["targets"])
    assert "`make run` (Caddy" in done.stdout

    # Growth: the synthetic events stored (the sequence advanced past them), then measured again.
    growth = results["growth"]
    assert growth["stored"]["events"] == 20000 and growth["stored"]["bytes_per_event"] > 0
    assert growth["stored"]["events_after"] >= 20000
    assert growth["lifecycle"]["order_kept"], growth["lifecycle"]["reason"]
    assert {"delivery 50 req/s p99 ms", "location 20/s POST p99 ms", "lifecycle 4 writers batch p99 ms"} <= {
        row["what"] for row in growth["ratios"]}
    assert any(t["run"].startswith("growth/") for t in results["targets"])
    saturation = next(t for t in results["targets"] if t["target"].startswith("delivery saturation"))
    assert saturation["measured"] == delivery["saturation"]["throughput_rps"]

    # Every server the bench started is gone (they ran from the bench's own var dir).
    leftovers = [p for p in psutil.process_iter(["cmdline", "environ"])
                 if str(tmp_path) in " ".join(p.info["cmdline"] or []) + str((p.info["environ"] or {}).get("VAR_DIR"))]
    assert not leftovers
