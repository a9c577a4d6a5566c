"""Results: the JSON files, the targets of issues 6 and 17, and the markdown tables for the README."""
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
# Issue 17: the write path, growth, `make run`, idle sockets.
LOCATION_SATURATION = 1000.0   # updates/s, on PostgreSQL
LOCATION_RATE, LOCATION_P99 = 500, 50.0
LOCATION_PUSH_P99 = 100.0      # every location run
LIFECYCLE_WRITERS, LIFECYCLE_RATE = 8, 300.0  # batches/s, on PostgreSQL
GROWTH_RATIO = 1.2             # every latency within 20% of the empty run
MAKERUN_SHARE = 0.5            # make run's delivery saturation / the bare view's (gunicorn -w 2)
IDLE_SOCKETS, IDLE_KIB = 10_000, 50.0
# Issue 6's yardstick: on the machine the targets were set on, a bare Django view reading one Redis
# hash (bench/bare.py) served about this many req/s under gunicorn -w 2.
BARE_VIEW_REFERENCE_RPS = 2700


def _fixed(endpoint: dict[str, Any], rate: int) -> dict[str, Any] | None:
    return next((run for run in endpoint.get("fixed", []) if int(run["rate"]) == rate), None)


def _target(run: dict[str, Any] | str, what: str, measured: Any, met: bool | None) -> dict[str, Any]:
    label = run if isinstance(run, str) else f"{run['layout']}/{run['layer']}"
    return {"run": label, "target": what, "measured": measured, "met": met}


def on_postgres(results: dict[str, Any]) -> bool:
    return str(results.get("machine", {}).get("database", "")).startswith("PostgreSQL")


def makerun_share(results: dict[str, Any]) -> dict[str, Any] | None:
    """`make run`'s delivery saturation beside the bare view's (same run)."""
    run = next((r for r in results.get("runs", []) if r["layout"] == "makerun"), None)
    calibration = results.get("calibration") or {}
    bare = (calibration.get("gunicorn") or {}).get("throughput_rps")
    rps = ((run or {}).get("http", {}).get("delivery") or {}).get("saturation", {}).get("throughput_rps")
    if not run or not bare or rps is None:
        return None
    granian = (calibration.get("granian") or {}).get("throughput_rps")
    direct = (run["http"]["delivery"].get("saturation_without_proxy") or {}).get("throughput_rps")
    return {"makerun_rps": rps, "bare_gunicorn_rps": bare, "share": round(rps / bare, 3),
            "bare_granian_rps": granian, "share_of_granian": round(rps / granian, 3) if granian else None,
            "without_proxy_rps": direct}


def _issue17(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets = []
    postgres = on_postgres(results)
    for run in results["runs"]:
        location = run.get("location")
        if not location:
            continue
        saturation = location.get("saturation")
        rps = (saturation or {}).get("throughput_rps")
        targets.append(_target(run, f"location saturation ≥ {LOCATION_SATURATION:,.0f}/s on PostgreSQL", rps,
                               None if rps is None or not postgres else rps >= LOCATION_SATURATION))
        at = next((f for f in location.get("fixed", []) if int(f["rate"]) == LOCATION_RATE), None)
        if at is not None:
            p99 = at["post_latency"]["p99_ms"]
            targets.append(_target(run, f"location POST p99 ≤ {LOCATION_P99:.0f} ms at {LOCATION_RATE}/s", p99,
                                   p99 is not None and p99 <= LOCATION_P99
                                   and set(at["post_statuses"]) == {"200"}))
        pushes = [f["push_latency"]["p99_ms"] for f in location.get("fixed", [])]
        if saturation:
            pushes.append(saturation["probe_push_latency"]["p99_ms"])
        if pushes:
            worst = None if any(p is None for p in pushes) else max(pushes)
            targets.append(_target(run, f"location push p99 ≤ {LOCATION_PUSH_P99:.0f} ms at every rate (worst)",
                                   worst, worst is not None and worst <= LOCATION_PUSH_P99))
    for lifecycle in results.get("lifecycle", []):
        label = f"lifecycle/{lifecycle['writers']} writers"
        if lifecycle["writers"] == LIFECYCLE_WRITERS:
            rate = lifecycle["batches_per_s"]
            targets.append(_target(label, f"lifecycle ≥ {LIFECYCLE_RATE:.0f} batches/s with {LIFECYCLE_WRITERS} "
                                          "writers on PostgreSQL", rate,
                                   rate >= LIFECYCLE_RATE if postgres else None))
        targets.append(_target(label, "order kept (one total order, database = Redis stream, lifecycle order)",
                               lifecycle["order_kept"] if lifecycle["order_kept"] else lifecycle["reason"],
                               lifecycle["order_kept"]))
    growth = results.get("growth")
    if growth:
        ratios = [row["ratio"] for row in growth.get("ratios", []) if row["ratio"] is not None]
        worst = max(ratios) if ratios else None
        targets.append(_target(f"growth/{growth['stored']['events']:,} events",
                               f"every latency within {100 * (GROWTH_RATIO - 1):.0f}% of the empty run (worst ratio)",
                               worst, None if worst is None else worst <= GROWTH_RATIO))
    share = makerun_share(results)
    if share:
        targets.append(_target("makerun", f"make run delivery saturation ≥ {100 * MAKERUN_SHARE:.0f}% of the bare "
                                          "view (gunicorn -w 2)", f"{100 * share['share']:.0f}%",
                               share["share"] >= MAKERUN_SHARE))
    for run in results["runs"]:
        for hold in run["ws"].get("hold", []):
            if hold["sockets"] == IDLE_SOCKETS:
                deflate = hold.get("server_deflate", "on")
                targets.append(_target(run, f"{IDLE_SOCKETS:,} idle sockets, ≤ {IDLE_KIB:.0f} KiB each (server "
                                            f"deflate {deflate})", hold["kib_per_socket"],
                                       hold["still_open"] == IDLE_SOCKETS and hold["kib_per_socket"] <= IDLE_KIB))
    return targets


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
            if hold["sockets"] >= HELD_SOCKETS:
                targets.append(_target(run, f"{hold['sockets']:,} idle sockets held (server deflate "
                                            f"{hold.get('server_deflate', 'on')})", hold["still_open"],
                                       hold["still_open"] == hold["sockets"]))
    return targets + _issue17(results)


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


def _cpu(run: dict[str, Any]) -> str:
    parts = [_ms(run.get(f"{name}_cpu_ms_per_unit")) for name in ("app", "relay", "database", "redis", "total")]
    busy = run.get("machine_busy_cores")
    return " | ".join([*parts, "–" if busy is None else f"{busy:.2f}"])


def _location_lines(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for run in results["runs"]:
        location = run.get("location")
        if not location:
            continue
        if not lines:
            lines += ["", ("| layout | location updates | POST p50 ms | POST p99 ms | errors | push p99 ms | reach | "
                           "CPU ms/update: app | relay | database | Redis | total | machine busy cores (all users) |"),
                      "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for fixed in location.get("fixed", []):
            lat = fixed["post_latency"]
            bad = {k: v for k, v in fixed["post_statuses"].items() if k != "200"}
            lines.append(f"| {run['layout']} | {fixed['rate']:.0f}/s fixed rate, {fixed['updates']} updates, "
                         f"{fixed['sockets']} trackers | {_ms(lat['p50_ms'])} | {_ms(lat['p99_ms'])} | "
                         f"{', '.join(f'{k}: {v}' for k, v in bad.items()) or '0'} | "
                         f"{_ms(fixed['push_latency']['p99_ms'])} | {fixed['reach']} | {_cpu(fixed)} |")
        sat = location.get("saturation")
        if sat:
            lines.append(f"| {run['layout']} | **saturation {sat['throughput_rps'] or 0:,.0f}/s** (wrk, "
                         f"{sat['connections']} connections; push probe at 20/s) | {_ms(sat['latency']['p50_ms'])} | "
                         f"{_ms(sat['latency']['p99_ms'])} | {_errors(sat)} | "
                         f"{_ms(sat['probe_push_latency']['p99_ms'])} | {sat['probe_reach']} | {_cpu(sat)} |")
    return lines


def _lifecycle_lines(results: dict[str, Any]) -> list[str]:
    runs = results.get("lifecycle") or []
    if not runs:
        return []
    lines = ["", ("| lifecycle writers | batches/s | batch p50 ms | batch p99 ms | rolled back | failed calls | "
                  "order kept |"), "|---:|---:|---:|---:|---:|---|---|"]
    for run in runs:
        lat = run["batch_latency"]
        kept = "yes" if run["order_kept"] else f"**no**: {run['reason']}"
        failed = ", ".join(f"{k}: {v}" for k, v in run["failed_calls"].items()) or "0"
        lines.append(f"| {run['writers']} | **{run['batches_per_s']}** | {_ms(lat['p50_ms'])} | {_ms(lat['p99_ms'])} | "
                     f"{run['rolled_back_batches']} | {failed} | {kept} ({run['events_checked']} events, "
                     f"{run['orders_checked']} orders) |")
    return lines


def _size(value: int) -> str:
    return f"{value / 2**20:,.0f} MiB" if value >= 2**20 else f"{value / 1024:,.0f} KiB"


def _growth_lines(results: dict[str, Any]) -> list[str]:
    growth = results.get("growth")
    if not growth:
        return []
    stored = growth["stored"]
    sizes = ", ".join(f"{name.removesuffix('_bytes')} {_size(stored['sizes_before'].get(name, 0))} → {_size(value)}"
                      for name, value in stored["sizes_after"].items())
    lines = ["", (f"Growth: {stored['events']:,} published position reports inserted in {stored['insert_seconds']} s "
                  f"({stored['events_per_s']:,}/s; then VACUUM ANALYZE {stored['vacuum_analyze_seconds']} s), "
                  f"{stored['events_after']:,} events stored; {sizes}; **{stored['bytes_per_event']} bytes per "
                  "event** (event and batch rows with their indexes)."),
             "", "| measured again with the events stored | empty run | grown | ratio |", "|---|---:|---:|---:|"]
    for row in growth.get("ratios", []):
        ratio = row["ratio"]
        mark = "" if ratio is None or ratio <= GROWTH_RATIO else " **over**"
        lines.append(f"| {row['what']} | {row['empty']} | {row['grown']} | ×{ratio}{mark} |")
    return lines


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
    lines += ["", ("| layout / channel layer | server permessage-deflate | sockets held | opened in | "
                   "server RSS before → after | per socket |"), "|---|---|---:|---:|---|---:|"]
    for run in results["runs"]:
        for hold in run["ws"].get("hold", []):
            offered = "offered by the clients" if hold.get("client_offers_deflate", True) else "not offered"
            lines.append(f"| {run['layout']} / {run['layer']} | {hold.get('server_deflate', 'on')} ({offered}) | "
                         f"{hold['still_open']}/{hold['sockets']} | {hold['open_seconds']} s | "
                         f"{hold['server_rss_before_mb']} → {hold['server_rss_after_mb']} MB | "
                         f"{hold['kib_per_socket']} KiB |")
    events = results.get("events")
    if events:
        lat = events["batch_latency"]
        lines += ["", (f"Event batches through the dispatcher, end to end (service call → commit → Redis MULTI/EXEC → "
                       f"fan-out), one writer for {events['duration_s']:.0f} s: **{events['batches_per_s']} batches/s** "
                       f"({events['events_per_s']} events/s), per batch p50 {_ms(lat['p50_ms'])} ms, p99 "
                       f"{_ms(lat['p99_ms'])} ms; unpublished afterwards: {events['unpublished_batches']}.")]
    lines += _location_lines(results) + _lifecycle_lines(results) + _growth_lines(results)
    share = makerun_share(results)
    if share:
        lines += ["", (f"`make run` (Caddy → granian 2x2 + uvicorn): the delivery endpoint saturates at "
                       f"**{share['makerun_rps']:,.0f} req/s**, {100 * share['share']:.0f}% of the bare view's "
                       f"{share['bare_gunicorn_rps']:,.0f} req/s under gunicorn -w 2"
                       + (f" ({100 * share['share_of_granian']:.0f}% of its {share['bare_granian_rps']:,.0f} req/s "
                          "under granian)" if share["share_of_granian"] else "") + " in the same run"
                      + (f"; its granian without Caddy in front: {share['without_proxy_rps']:,.0f} req/s."
                         if share["without_proxy_rps"] else "."))]
    targets = results.get("targets", [])
    if targets:
        lines += ["", "| run | target | measured | met |", "|---|---|---:|:---:|"]
        for t in targets:
            met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
            lines.append(f"| {t['run']} | {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines)
