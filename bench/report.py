"""Results: the JSON files, the targets of issue 6, and the markdown table for the README."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

# (what, limit): p99 limits in ms, throughput in req/s.
DELIVERY_RATE, DELIVERY_P99, DELIVERY_SATURATION = 200, 20.0, 1000.0
STATE_RATE, STATE_P99 = 300, 20.0
PUSH_P99 = {100: 50.0, 1000: 150.0}
HELD_SOCKETS = 5000
# Issue 6's yardstick: on the machine the targets were set on, a bare Django view reading one Redis
# hash (bench/bare.py) served about this many req/s under gunicorn -w 2.
BARE_VIEW_REFERENCE_RPS = 2700


def _fixed(endpoint: dict[str, Any], rate: int) -> dict[str, Any] | None:
    return next((run for run in endpoint.get("fixed", []) if int(run["rate"]) == rate), None)


def _target(run: dict[str, Any], what: str, measured: Any, met: bool | None) -> dict[str, Any]:
    return {"run": f"{run['layout']}/{run['layer']}", "target": what, "measured": measured, "met": met}


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 6, for every run that measured it (None: not measured in this run)."""
    targets = []
    for run in results["runs"]:
        delivery, state = run["http"].get("delivery"), run["http"].get("state")
        if delivery is not None:
            fixed = _fixed(delivery, DELIVERY_RATE)
            p99 = fixed["latency"]["p99_ms"] if fixed else None
            targets.append(_target(run, f"delivery p99 ≤ {DELIVERY_P99:.0f} ms at {DELIVERY_RATE} req/s",
                                   p99, None if p99 is None else p99 <= DELIVERY_P99 and not fixed["errors"]))
            rps = (delivery.get("saturation") or {}).get("throughput_rps")
            targets.append(_target(run, f"delivery saturation ≥ {DELIVERY_SATURATION:,.0f} req/s", rps,
                                   None if rps is None else rps >= DELIVERY_SATURATION))
        if state is not None:
            fixed = _fixed(state, STATE_RATE)
            p99 = fixed["latency"]["p99_ms"] if fixed else None
            targets.append(_target(run, f"/api/state p99 ≤ {STATE_P99:.0f} ms at {STATE_RATE} req/s", p99,
                                   None if p99 is None else p99 <= STATE_P99 and not fixed["errors"]))
        for push in run["ws"].get("push", []):
            sockets = push["opened"]["opened"]
            targets.append(_target(run, f"WS reach 100% with {sockets} sockets", push["reach"], push["reach"] == 1))
            limit = PUSH_P99.get(sockets)
            if limit is not None:
                p99 = push["push_latency"]["p99_ms"]
                targets.append(_target(run, f"WS push p99 ≤ {limit:.0f} ms with {sockets} sockets", p99,
                                       p99 is not None and p99 <= limit))
        for hold in run["ws"].get("hold", []):
            if hold["sockets"] == HELD_SOCKETS:
                targets.append(_target(run, f"{HELD_SOCKETS:,} idle sockets held", hold["still_open"],
                                       hold["still_open"] == HELD_SOCKETS))
    return targets


def write(results: dict[str, Any], var_dir: Path) -> tuple[Path, Path]:
    var_dir.mkdir(parents=True, exist_ok=True)
    stamped = var_dir / f"results-{datetime.now():%Y%m%d-%H%M%S}.json"
    text = json.dumps(results, indent=2, default=str)
    stamped.write_text(text)
    latest = var_dir / "latest.json"
    latest.write_text(text)
    return stamped, latest


def _ms(value: Any) -> str:
    return "–" if value is None else f"{value:.1f}"


def _errors(run: dict[str, Any]) -> str:
    bad = {k: v for k, v in run.get("statuses", {}).items() if not k.startswith("2")}
    bad.update(run.get("errors", {}))
    if run.get("non_2xx"):
        bad["non-2xx"] = run["non_2xx"]
    return ", ".join(f"{k}: {v}" for k, v in bad.items()) or "0"


def _calibration(calibration: dict[str, Any] | None) -> list[str]:
    if not calibration:
        return []
    rps = {name: (calibration.get(name) or {}).get("throughput_rps") for name in ("gunicorn", "granian")}
    if not rps["gunicorn"]:
        return []
    return ["", (f"Calibration: a bare Django view reading one Redis hash serves **{rps['gunicorn']:,.0f} req/s** here "
                 f"under gunicorn -w 2 (the targets were set where it served {BARE_VIEW_REFERENCE_RPS:,}: this "
                 f"machine is ×{calibration['machine_factor']} that one) and {rps['granian'] or 0:,.0f} req/s under "
                 f"granian -w 2.")]


def markdown(results: dict[str, Any]) -> str:
    m = results.get("machine", {})
    lines = [
        f"### Benchmark ({results['started_at'][:16].replace('T', ' ')})",
        "",
        (f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {m.get('ram_gib')} GiB RAM, {m.get('os')}; "
         f"Python {m.get('python')}; database {m.get('database')}; Redis: {m.get('redis')}. "
         f"Load average at start {results['load_average_at_start']}, at end {results.get('load_average_at_end')}. "
         f"Data: {results.get('dataset', {}).get('counts', {}).get('orders')} orders, "
         f"{results.get('dataset', {}).get('counts', {}).get('drivers')} drivers."),
        *_calibration(results.get("calibration")),
        "",
        *[f"- {note}" for note in results.get("notes", [])],
        "",
        "| layout | endpoint | load | p50 ms | p99 ms | max ms | errors | server CPU cores | CPU ms/req |",
        "|---|---|---|---:|---:|---:|---|---:|---:|",
    ]
    for run in results["runs"]:
        for endpoint in run["http"].values():
            label = f"{run['layout']}"
            if endpoint.get("skipped"):
                lines.append(f"| {label} | {endpoint['path']} | skipped: {endpoint['skipped'][:60]} | | | | | | |")
                continue
            for fixed in endpoint["fixed"]:
                lat = fixed["latency"]
                lines.append(f"| {label} | {endpoint['path']} | {fixed['rate']:.0f} req/s fixed rate, "
                             f"{fixed['duration_s']:.0f} s | {_ms(lat['p50_ms'])} | {_ms(lat['p99_ms'])} | "
                             f"{_ms(lat['max_ms'])} | {_errors(fixed)} | {fixed['server_cpu_cores']} | "
                             f"{fixed['server_cpu_ms_per_request']} |")
            sat = endpoint.get("saturation")
            if sat:
                lat = sat["latency"]
                lines.append(f"| {label} | {endpoint['path']} | **saturation {sat['throughput_rps']:,.0f} req/s** "
                             f"({sat['tool'].split(' ')[0]}, {sat['connections']} connections) | {_ms(lat['p50_ms'])} | "
                             f"{_ms(lat['p99_ms'])} | {_ms(lat.get('max_ms'))} | {_errors(sat)} | "
                             f"{sat['server_cpu_cores']} | {sat['server_cpu_ms_per_request']} |")
    lines += ["", ("| layout / channel layer | sockets | orders | push p50 ms | push p99 ms | push max ms | reach | "
                   "POST p99 ms |"), "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for run in results["runs"]:
        for push in run["ws"].get("push", []):
            lat = push["push_latency"]
            lines.append(f"| {run['layout']} / {run['layer']} | {push['opened']['opened']} | {push['orders_watched']} | "
                         f"{_ms(lat['p50_ms'])} | {_ms(lat['p99_ms'])} | {_ms(lat['max_ms'])} | "
                         f"{push['received']}/{push['expected']} | {_ms(push['post_latency']['p99_ms'])} |")
        if run["ws"].get("skipped"):
            lines.append(f"| {run['layout']} / {run['layer']} | skipped: {run['ws']['skipped']} | | | | | | |")
    lines += ["", "| layout / channel layer | sockets held | opened in | server RSS before → after | per socket |",
              "|---|---:|---:|---|---:|"]
    for run in results["runs"]:
        for hold in run["ws"].get("hold", []):
            lines.append(f"| {run['layout']} / {run['layer']} | {hold['still_open']}/{hold['sockets']} | "
                         f"{hold['open_seconds']} s | {hold['server_rss_before_mb']} → {hold['server_rss_after_mb']} MB | "
                         f"{hold['kib_per_socket']} KiB |")
    events = results.get("events")
    if events:
        lat = events["batch_latency"]
        lines += ["", (f"Event batches through the dispatcher, end to end (service call → commit → Redis MULTI/EXEC → "
                       f"fan-out), one writer for {events['duration_s']:.0f} s: **{events['batches_per_s']} batches/s** "
                       f"({events['events_per_s']} events/s), per batch p50 {_ms(lat['p50_ms'])} ms, p99 "
                       f"{_ms(lat['p99_ms'])} ms; unpublished afterwards: {events['unpublished_batches']}.")]
    targets = results.get("targets", [])
    if targets:
        lines += ["", "| run | target | measured | met |", "|---|---|---:|:---:|"]
        for t in targets:
            met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
            lines.append(f"| {t['run']} | {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines)
