"""Results → bench/results/latest.json, latest.md, PNG plots, and the README's Performance section.

The JSON is the record: every figure with its unit, p50/p99/p99.9 where it is a distribution, and n,
plus the machine and its load. The markdown and the README section are rendered from the same dict
(``python -m bench.report --readme`` rewrites only the README block between the bench markers from
latest.json, so the README always shows the committed run).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import textwrap
import timeit
from importlib import metadata

ROOT = pathlib.Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
README_BEGIN = "<!-- bench:performance:begin (python -m bench.report --readme) -->"
README_END = "<!-- bench:performance:end -->"
PACKAGES = ("grpcio", "protobuf", "websockets", "pysimdjson", "msgspec", "coincurve", "aiohttp", "matplotlib")


# -- machine ----------------------------------------------------------------------------------------------


def machine_info() -> dict:
    model = ""
    with contextlib.suppress(OSError):
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for name in PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return {
        "calibration": calibration(),
        "cpu_model": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()),
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "packages": versions,
    }


CALIBRATION_SNIPPET = "sum(i * i for i in range(1000))"


def calibration() -> dict:
    """µs for a fixed pure-Python snippet (best of 20): compare machines by it before comparing figures."""
    best = min(timeit.repeat(CALIBRATION_SNIPPET, number=100, repeat=20)) / 100 * 1e6
    return {"snippet": CALIBRATION_SNIPPET, "best_us": best}


def _git(*args: str) -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    return ""


# -- JSON -------------------------------------------------------------------------------------------------


def jsonable(value):
    """A copy fit for strict JSON: tuples become lists, NaN/inf become None, keys starting with "_"
    (raw samples kept for the plots) are dropped."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: pathlib.Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(jsonable(results), indent=1, allow_nan=False) + "\n")


# -- headline figures ---------------------------------------------------------------------------------------


def _get(d: dict, *path, default=None):
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return default
        d = d[key]
    return d


def targets(results: dict) -> list[dict]:
    """Every target of issue 10 and of the seed documents, with the measured figure and whether it is met.
    ``met`` is None when the figure is missing (a phase skipped or failed)."""
    micro, inproc, macro = results.get("micro", {}), results.get("inprocess", {}), results.get("macro", {})
    at_1k = _get(macro, "latency", "1000", "trace", default={})
    rows = []

    def row(name: str, goal: str, value, unit: str, met, source: str, note: str = "") -> None:
        rows.append({"target": name, "goal": goal, "value": value, "unit": unit,
                     "met": None if value is None else bool(met(value)), "source": source, "note": note})

    ours = _get(micro, "signing", "sign_order.ours", "p50")
    pcc2 = _get(micro, "signing", "sign_order.pcc2", "p50")
    row("signing vs py-clob-client-v2 (identical bytes)", ">= 10x faster",
        pcc2 / ours if ours and pcc2 else None, "x", lambda v: v >= 10, "micro signing sign_order p50 ratio")
    pc = _get(micro, "parse", "price_change/simdjson", "p50")
    best = min(((k.split("/")[1], v["p50"]) for k, v in micro.get("parse", {}).items()
                if k.startswith("price_change/")), key=lambda kv: kv[1], default=(None, None))
    note = f"fastest backend: {best[0]} {best[1]:.1f} µs" if best[0] else ""
    row("parse + apply price_change (issue)", "<= 3 µs p50", pc, "µs", lambda v: v <= 3,
        "micro parse price_change/simdjson p50 (the service's default parser)", note)
    row("parse + book update (seed)", "< 10 µs", pc, "µs", lambda v: v < 10, "same figure", note)
    row("trio evaluation per change (seed)", "< 1 µs", _get(micro, "eval", "no_signal/1000", "p50"), "µs",
        lambda v: v < 1, "micro eval no_signal/1000 p50 (1,000 trios loaded)")
    row("socket → signal in process (seed)", "< 50 µs", _get(inproc, "socket_to_signal", "p50"), "µs",
        lambda v: v < 50, "in-process baseline socket_to_signal p50")
    row("sign one order (seed: signal → signed)", "< 100 µs", ours, "µs", lambda v: v < 100,
        "micro signing sign_order.ours p50 (build + sign)",
        f"a 3-leg signal: {_get(inproc, 'sign', 'p50', default=0):.0f} µs" if _get(inproc, "sign", "p50") else "")
    row("WS frame → signal at executor, 1K frames/s", "p50 <= 0.4 ms", _ms(_get(at_1k, "ws_to_signal_executor", "p50")),
        "ms", lambda v: v <= 0.4, "macro trace executor_recv - ws_recv at 1K frames/s")
    row("WS frame → signal at executor, 1K frames/s", "p99 <= 3 ms", _ms(_get(at_1k, "ws_to_signal_executor", "p99")),
        "ms", lambda v: v <= 3, "same")
    row("WS frame → signal p99 (seed KPI)", "< 2 ms", _ms(_get(at_1k, "ws_to_signal_executor", "p99")), "ms",
        lambda v: v < 2, "same")
    row("WS frame → POST bytes at venue, 1K frames/s", "p50 <= 1 ms", _ms(_get(at_1k, "ws_to_post_at_venue", "p50")),
        "ms", lambda v: v <= 1, "macro trace: tap arrival - ws_recv at 1K frames/s",
        "seed: end to end < 1 ms excluding network (loopback here)")
    tput = [v.get("max_sustained_updates_per_s") for v in macro.get("throughput", {}).values()]
    tput = [v for v in tput if v is not None]
    row("ingest → engine top-of-book updates/s", ">= 150K sustained", max(tput) if tput else None, "updates/s",
        lambda v: v >= 150_000, "macro throughput: best sustained step over both frame shapes")
    frames = _get(macro, "throughput", "1", "max_sustained_frames_per_s")
    row("WebSocket messages/s through ingest → engine (seed)", "> 10K msg/s", frames, "frames/s",
        lambda v: v > 10_000, "macro throughput, 1 market (2 updates) per frame")
    rss_1k = _get(macro, "scaling", "1000", "rss_loaded_mb", default={})
    services = {k: v for k, v in rss_1k.items() if k in ("ingest", "engine", "executor") and v is not None}
    worst = max(services.items(), key=lambda kv: kv[1], default=(None, None))
    row("RSS per service at 1K tokens (issue)", "<= 60 MB", worst[1], "MB", lambda v: v <= 60,
        "macro scaling 1000 tokens, under load, largest of ingest/engine/executor", f"largest: {worst[0]}")
    row("RSS per service (seed)", "< 50 MB", worst[1], "MB", lambda v: v < 50, "same")
    cost = []
    for key in ("ingest_cpu_us_per_frame", "engine_cpu_us_per_update"):
        low, high = _get(macro, "scaling", "100", key), _get(macro, "scaling", "10000", key)
        if low and high:
            cost.append((high / low, key))
    worst_cost = max(cost, default=(None, None))
    row("per-message cost 10K vs 100 tokens", "<= 1.2x", worst_cost[0], "x", lambda v: v <= 1.2,
        "macro scaling: CPU per frame (ingest) and per update (engine) at 1K frames/s, larger ratio",
        f"larger: {worst_cost[1]}" if worst_cost[1] else "")
    return rows


# -- the headline of issue 15 -------------------------------------------------------------------------

HEADLINE_KEYS = (  # shared/docs/CONTRACT.md: exactly these keys, numbers or null
    "peer_bot_frame_to_post_ms_p50", "polyarb_frame_to_post_ms_p50", "peer_ratio_p50",
    "frame_to_signal_ms_p50_1k", "frame_to_signal_ms_p99_1k", "frame_to_post_ms_p50_1k",
    "max_sustained_frames_per_s", "max_sustained_tob_updates_per_s", "split_over_inprocess_socket_to_post",
    "sign_order_us_p50_ours", "sign_order_us_p50_pcc2", "rss_mb_max_1k_tokens", "soak_rss_growth_pct_max",
)
# key → (issue 15's target as written there, whether a figure meets it; None: a reference, not judged)
HEADLINE_TARGETS = {
    "peer_bot_frame_to_post_ms_p50": ("the peer (reference)", None),
    "polyarb_frame_to_post_ms_p50": ("≤ peer / 3 (same run)", None),
    "peer_ratio_p50": ("≥ 3x (peer / polyarb)", lambda v: v >= 3),
    "frame_to_signal_ms_p50_1k": ("≤ 0.6 ms", lambda v: v <= 0.6),
    "frame_to_signal_ms_p99_1k": ("≤ 3 ms", lambda v: v <= 3),
    "frame_to_post_ms_p50_1k": ("≤ 1.2 ms", lambda v: v <= 1.2),
    "max_sustained_frames_per_s": ("≥ 10K single-market frames/s", lambda v: v >= 10_000),
    "max_sustained_tob_updates_per_s": ("≥ 150K updates/s", lambda v: v >= 150_000),
    "split_over_inprocess_socket_to_post": ("≤ 3x", lambda v: v <= 3),
    "sign_order_us_p50_ours": ("≥ 10x faster than py-clob-client-v2", None),
    "sign_order_us_p50_pcc2": ("py-clob-client-v2 (reference)", None),
    "rss_mb_max_1k_tokens": ("≤ 60 MB per service", lambda v: v <= 60),
    "soak_rss_growth_pct_max": ("< 5 % per service", lambda v: v < 5),
}


def headline(results: dict, soak: dict | None = None) -> dict:
    """The 13 figures of issue 15, read off this run's results (and the latest soak report, if any);
    None where a figure was not measured. Pure: the caller finds the soak report (latest_soak)."""
    macro = results.get("macro", {})
    at_1k = _get(macro, "latency", "1000", "trace", default={})
    peer = _get(macro, "peer", default={})
    tput = [v.get("max_sustained_updates_per_s") for v in macro.get("throughput", {}).values()]
    tput = [v for v in tput if v is not None]
    rss_1k = _get(macro, "scaling", "1000", "rss_loaded_mb", default={})
    services = [v for k, v in rss_1k.items() if k in ("ingest", "engine", "executor") and v is not None]
    growth = [r["growth"] * 100 for r in _get(soak or {}, "rss", default={}).values()
              if isinstance(r, dict) and r.get("judged") and isinstance(r.get("growth"), int | float)]
    values = {
        "peer_bot_frame_to_post_ms_p50": _ms(_get(peer, "peer", "ws_to_post_at_venue", "p50")),
        "polyarb_frame_to_post_ms_p50": _ms(_get(peer, "polyarb", "ws_to_post_at_venue", "p50")),
        "peer_ratio_p50": _get(peer, "ratio", "p50"),
        "frame_to_signal_ms_p50_1k": _ms(_get(at_1k, "ws_to_signal_executor", "p50")),
        "frame_to_signal_ms_p99_1k": _ms(_get(at_1k, "ws_to_signal_executor", "p99")),
        "frame_to_post_ms_p50_1k": _ms(_get(at_1k, "ws_to_post_at_venue", "p50")),
        "max_sustained_frames_per_s": _get(macro, "throughput", "1", "max_sustained_frames_per_s"),
        "max_sustained_tob_updates_per_s": max(tput) if tput else None,
        "split_over_inprocess_socket_to_post": _get(service_split(results), "socket_to_post", "ratio"),
        "sign_order_us_p50_ours": _get(results, "micro", "signing", "sign_order.ours", "p50"),
        "sign_order_us_p50_pcc2": _get(results, "micro", "signing", "sign_order.pcc2", "p50"),
        "rss_mb_max_1k_tokens": max(services) if services else None,
        "soak_rss_growth_pct_max": max(growth) if growth else None,
    }
    return {k: (float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None)
            for k, v in values.items()}


def latest_soak(run_root: pathlib.Path = ROOT / "run") -> tuple[pathlib.Path | None, dict | None]:
    """The newest ``make soak`` report (run/soak-<time>/report.json, soak/__main__.py), or (None, None)."""
    reports = sorted(run_root.glob("soak-*/report.json"))
    for path in reversed(reports):
        with contextlib.suppress(OSError, ValueError):
            return path, json.loads(path.read_text())
    return None, None


def soak_source(path: pathlib.Path | None, soak: dict | None) -> dict | None:
    """Where soak_rss_growth_pct_max came from: the report, its load and whether it passed."""
    if soak is None:
        return None
    config = soak.get("config", {})
    return {"report": str(path), "passed": soak.get("passed"), "soak_s": config.get("soak_s"),
            "tokens": config.get("tokens"), "rate": config.get("rate"),
            "default_load": (config.get("soak_s"), config.get("tokens"), config.get("rate")) == (600.0, 10000, 5000.0)}


def headline_table(results: dict) -> list[str]:
    """The headline beside issue 15's targets (markdown)."""
    figures = results.get("headline") or {}
    lines = ["| figure | measured | target (issue 15) | met |", "|---|---|---|---|"]
    for key in HEADLINE_KEYS:
        value = figures.get(key)
        goal, met = HEADLINE_TARGETS[key]
        if key == "polyarb_frame_to_post_ms_p50":
            peer = figures.get("peer_bot_frame_to_post_ms_p50")
            met = (lambda v, peer=peer: v <= peer / 3) if peer else None
        if key == "sign_order_us_p50_ours":
            pcc2 = figures.get("sign_order_us_p50_pcc2")
            met = (lambda v, pcc2=pcc2: pcc2 / v >= 10) if pcc2 else None
        verdict = "—" if met is None or value is None else ("yes" if met(value) else "**no**")
        lines.append(f"| `{key}` | {'not measured' if value is None else _f(value, 2)} | {goal} | {verdict} |")
    return lines


def stage_lines(results: dict) -> list[str]:
    """Per stage p50 / p99 / n (µs): polyarb and the peer bot in their same-run comparison, and polyarb
    at 1K frames/s. The peer has no gRPC hops: its parse, evaluation and signing are one stage."""
    from bench.bench_macro import PEER_STAGES, PEER_TOTALS, STAGES, TOTALS

    macro = results.get("macro", {})
    peer, at_1k = macro.get("peer", {}), _get(macro, "latency", "1000", "trace", default={})
    ours = [name for name, _, _ in STAGES]
    theirs = [name for name, _, _ in PEER_STAGES]
    rows = [(name, name, name if name in theirs else None) for name in ours]
    rows += [(f"{name} (peer)", None, name) for name in theirs if name not in ours]
    rows += [(f"total: {name}", name, name if name in {n for n, _ in PEER_TOTALS} else None) for name, _ in TOTALS]

    def cell(group: dict, name: str | None) -> str:
        d = (group.get(name) if name else None) or {}
        return "" if name is None else "—" if not d.get("n") else (
            f"{_f(d.get('p50'), 0)} / {_f(d.get('p99'), 0)} / {d['n']}")

    lines = ["| stage (µs p50 / p99 / n) | polyarb, peer run | peer bot, peer run | polyarb at 1K frames/s |",
             "|---|---|---|---|"]
    for label, name, peer_name in rows:
        cells = (cell(peer.get("polyarb", {}), name), cell(peer.get("peer", {}), peer_name), cell(at_1k, name))
        if any(c not in ("", "—") for c in cells) or not (peer or at_1k):  # a stage this run did not trace: left out
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _ms(us: float | None) -> float | None:
    return None if us is None else us / 1000


def service_split(results: dict) -> dict:
    """What three processes and two gRPC hops cost, at 1K frames/s, against the in-process baseline."""
    inproc = results.get("inprocess", {})
    trace = _get(results, "macro", "latency", "1000", "trace", default={})
    out = {}
    for name, macro_key, inproc_key in (("socket_to_signal", "ws_to_signal_executor", "socket_to_signal"),
                                        ("socket_to_post", "ws_to_post_at_venue", "socket_to_post")):
        pipeline_p50, baseline_p50 = _get(trace, macro_key, "p50"), _get(inproc, inproc_key, "p50")
        out[name] = {"pipeline_p50_us": pipeline_p50, "in_process_p50_us": baseline_p50,
                     "ratio": pipeline_p50 / baseline_p50 if pipeline_p50 and baseline_p50 else None}
    return out


# -- markdown ---------------------------------------------------------------------------------------------


def _f(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def _dist_row(name: str, d: dict | None, scale: float = 1.0, digits: int = 1) -> str:
    d = d or {}
    vals = [None if d.get(k) is None else d[k] * scale for k in ("p50", "p99", "p99.9")]
    return f"| {name} | " + " | ".join(_f(v, digits) for v in vals) + f" | {d.get('n', 0)} |"


def machine_lines(results: dict) -> list[str]:
    m = results.get("machine", {})
    load = results.get("load", {})
    return [
        f"- **Machine:** {m.get('cpu_model')} ({m.get('cores')} cores, shared), {m.get('platform')}",
        f"- **Python** {m.get('python')}; grpcio {m.get('packages', {}).get('grpcio')}, protobuf "
        f"{m.get('packages', {}).get('protobuf')}, websockets {m.get('packages', {}).get('websockets')}; "
        f"calibration `{_get(m, 'calibration', 'snippet')}` = {_f(_get(m, 'calibration', 'best_us'))} µs",
        f"- **Run:** {m.get('date_utc')}, commit `{(m.get('git_commit') or '')[:12]}`"
        f"{' (+ uncommitted changes)' if m.get('git_dirty') else ''}, "
        f"{'quick' if results.get('quick') else 'full'} run, {_f(results.get('duration_s'), 0)} s",
        f"- **Load average** (1/5/15 min) at start {_loadavg(load.get('start'))}, at end {_loadavg(load.get('end'))}; "
        f"other processes used {_f(load.get('others_cores_mean'), 2)} cores on average during the macro steps",
    ]


def _loadavg(values) -> str:
    return "/".join(f"{v:.2f}" for v in values) if values else "—"


def targets_table(results: dict) -> list[str]:
    lines = ["| target | goal | measured | met |", "|---|---|---|---|"]
    for r in results.get("targets", []):
        met = {True: "yes", False: "**no**", None: "not measured"}[r["met"]]
        value = "—" if r["value"] is None else f"{_f(r['value'], 2)} {r['unit']}"
        note = f" ({r['note']})" if r.get("note") else ""
        lines.append(f"| {r['target']} | {r['goal']} | {value}{note} | {met} |")
    return lines


def render_markdown(results: dict) -> str:
    micro, inproc, macro = results.get("micro", {}), results.get("inprocess", {}), results.get("macro", {})
    out = ["# polyarb benchmarks: latest run", ""]
    out += machine_lines(results)
    if results.get("errors"):
        out += ["", "**Errors:** " + "; ".join(results["errors"])]
    if results.get("headline"):
        out += ["", "## Headline (issue 15)", "", *headline_table(results)]
        soak = results.get("soak")
        out += ["", f"soak_rss_growth_pct_max: from {soak['report']} ({soak['soak_s']:g} s, {soak['tokens']} tokens, "
                f"{soak['rate']:g} frames/s; passed: {soak['passed']})" if soak else
                "soak_rss_growth_pct_max: no `make soak` report under run/ (not measured)"]
    peer = _get(results, "macro", "peer", default={})
    if peer or _get(results, "macro", "latency", "1000"):
        out += ["", "## Per stage: WS frame → POST /orders bytes at the venue", ""]
        if peer:
            out += [_wrap(f"Same-run comparison with the peer bot ({peer.get('method')}; a trio injected every "
                          f"{peer.get('inject_every_s')} s, {peer.get('trios')} trios, trades: {peer.get('trades')})."),
                    ""]
        out += stage_lines(results)
    out += ["", "## Targets", "", *targets_table(results)]
    split = results.get("service_split", {})
    if split:
        out += ["", "## What the service split costs (1K frames/s vs the in-process baseline, p50)", "",
                "| path | pipeline µs | in process µs | ratio |", "|---|---|---|---|"]
        for name, s in split.items():
            out.append(f"| {name} | {_f(s['pipeline_p50_us'])} | {_f(s['in_process_p50_us'])} | {_f(s['ratio'], 1)}x |")
    for title, key, note in (("Parse + apply per frame", "parse", "gc enabled"),
                             ("Evaluation per top-of-book change", "eval", "gc disabled while timed"),
                             ("Signing one V2 order, L2 headers", "signing", "gc enabled; bytes checked identical")):
        section = micro.get(key, {})
        if not section:
            continue
        gc = micro.get("gc", {}).get(key, {})
        out += ["", f"## Micro: {title} (µs; {note}, {gc.get('collections', '?')} collections)", "",
                "| case | p50 | p99 | p99.9 | n |", "|---|---|---|---|---|"]
        out += [_dist_row(name, d, digits=2) for name, d in section.items()]
    if inproc:
        collections = inproc.get("gc", {}).get("collections")
        out += ["", f"## In-process baseline: one arbitrage frame → POST bytes, no gRPC (µs; {inproc.get('tokens')} "
                f"tokens, {inproc.get('legs')} legs, gc enabled: {collections} collections)",
                "", "| stage | p50 | p99 | p99.9 | n |", "|---|---|---|---|---|"]
        for name in ("parse_apply", "tob_messages", "evaluate", "to_signal", "plan_reserve", "sign", "body_headers",
                     "socket_to_signal", "socket_to_post"):
            out.append(_dist_row(name, inproc.get(name)))
        if inproc.get("profile"):
            out += ["", "cProfile of the same path, functions by own time (profiling inflates small calls):", "",
                    "| share | µs per frame | function |", "|---|---|---|"]
            out += [f"| {p['own_share'] * 100:.1f} % | {p['own_us_per_frame']:.1f} | `{p['function']}` |"
                    for p in inproc["profile"]]
    latency = macro.get("latency", {})
    if latency:
        rates = list(latency)
        out += ["", f"## Macro: latency through the real processes ({macro.get('plan', {}).get('latency_tokens')} "
                "tokens, µs; arbitrages injected at the venue during the load)", ""]
        out.append("| figure | " + " | ".join(f"{int(r) // 1000}K/s p50 | p99 | p99.9 | n" for r in rates) + " |")
        out.append("|---|" + "---|---|---|---|" * len(rates))
        names = [("trace", n) for n in ("ws_to_tob_engine", "ws_to_signal_executor", "ws_to_post_at_venue",
                                         "ws_to_response", "ingest", "ingest_to_engine", "engine",
                                         "engine_to_executor", "executor_sign", "executor_to_post", "post_to_venue",
                                         "venue_round_trip")]
        names += [("probe", n) for n in ("ws_to_tob_consumer", "ingest_ws_to_sent", "grpc_sent_to_consumer",
                                         "source_send_to_consumer")]
        for group, name in names:
            cells = []
            for r in rates:
                d = latency[r].get(group, {}).get(name) or {}
                cells += [_f(d.get("p50"), 0), _f(d.get("p99"), 0), _f(d.get("p99.9"), 0), str(d.get("n", 0))]
            out.append(f"| {group}: {name} | " + " | ".join(cells) + " |")
        out += ["", "| rate | offered frames/s | ingested frames/s | engine updates/s | conflated | trades "
                "(traced) | outcomes | signals denied | cores: ingest / engine / executor / others | drain after s |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for r in rates:
            s = latency[r]
            cpu, wall = s["cpu"]["cpu_s"], s["cpu"]["wall_s"] or 1
            cores = " / ".join(_f((cpu.get(n) or 0) / wall, 2) for n in ("ingest", "engine", "executor"))
            out.append(f"| {int(r) // 1000}K | {_f(s['offered_fps'], 0)} | {_f(s['ws_frames_per_s'], 0)} | "
                       f"{_f(s['engine_updates_per_s'], 0)} | {_f(s['conflated'], 0)} | {s['trades']['results']} "
                       f"({s['trades']['traced']}) | {s['trades']['outcomes']} | {_denied(s['counters'])} | {cores} / "
                       f"{_f(s['cpu']['cores_others'], 2)} | {_f(s.get('drain_after_s'), 1)}"
                       f"{'' if s.get('drained', True) else ' (not drained)'} |")
    throughput = macro.get("throughput", {})
    if throughput:
        out += ["", "## Macro: ingest → engine throughput (offered load ramp)", "",
                "| updates/frame | offered frames/s | offered updates/s | engine updates/s | ingested frames/s | "
                "conflated | skipped by source | sustained | cores: ingest / engine / others |",
                "|---|---|---|---|---|---|---|---|---|"]
        for shape in throughput.values():
            for s in shape["steps"]:
                cpu, wall = s["cpu"]["cpu_s"], s["cpu"]["wall_s"] or 1
                out.append(f"| {shape['updates_per_frame']} | {_f(s['offered_fps'], 0)} | "
                           f"{_f(s['offered_updates_per_s'], 0)} | {_f(s['engine_updates_per_s'], 0)} | "
                           f"{_f(s['ws_frames_per_s'], 0)} | {_f(s['conflated'], 0)} | {s['source']['skipped']} | "
                           f"{'yes' if s['sustained'] else 'no'} | {_f((cpu.get('ingest') or 0) / wall, 2)} / "
                           f"{_f((cpu.get('engine') or 0) / wall, 2)} / {_f(s['cpu']['cores_others'], 2)} |")
    scaling = macro.get("scaling", {})
    if scaling:
        out += ["", "## Macro: memory and CPU per service vs subscribed tokens (1K frames/s)", "",
                "| tokens | RSS MB ingest / engine / executor / venue (idle) | under load | ingest CPU µs/frame "
                "(event loop / other threads) | engine CPU µs/update (event loop / other threads) |",
                "|---|---|---|---|---|"]
        for s in scaling.values():
            idle = " / ".join(_f(s["rss_idle_mb"].get(n), 1) for n in ("ingest", "engine", "executor", "paper_venue"))
            loaded = " / ".join(_f(s["rss_loaded_mb"].get(n), 1) for n in ("ingest", "engine", "executor",
                                                                             "paper_venue"))
            out.append(f"| {s['tokens']} | {idle} | {loaded} | {_f(s['ingest_cpu_us_per_frame'])} "
                       f"({_thread_split(s, 'ingest')}) | {_f(s['engine_cpu_us_per_update'])} "
                       f"({_thread_split(s, 'engine')}) |")
    if macro.get("skipped"):
        out += ["", "Skipped for time: " + ", ".join(macro["skipped"])]
    if results.get("notes"):
        out += ["", "## Notes", ""] + [f"- {n}" for n in results["notes"]]
    return "\n".join(out) + "\n"


def _denied(counters: dict[str, float]) -> str:
    prefix = "polyarb_signals_denied_total{"
    reasons = {k[len(prefix):].split('"')[1]: int(v) for k, v in counters.items() if k.startswith(prefix)}
    return ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())) or "0"


def _thread_split(step: dict, name: str) -> str:
    cpu = step["load"]["cpu"]
    main, other = cpu["cpu_main_thread_s"].get(name) or 0, cpu["cpu_other_threads_s"].get(name) or 0
    total = main + other
    return f"{main / total * 100:.0f} % / {other / total * 100:.0f} %" if total else "—"


# -- README ---------------------------------------------------------------------------------------------


def readme_section(results: dict) -> str:
    minutes = (results.get("duration_s") or 0) / 60
    lines = [README_BEGIN, "## Performance", "",
             _wrap(f"`make bench` ({minutes:.1f} minutes here) runs every benchmark and writes "
                   "`bench/results/latest.json` "
             "(every figure with unit, p50/p99/p99.9 and n, the machine and its load), `latest.md` (all tables) and "
             "PNG plots (latency CDF per stage, peer bot vs polyarb, throughput vs offered load, RSS vs tokens; "
             "not committed); "
             "`make bench-quick` is a subset that fits in 60 seconds. Micro benchmarks time the pure modules in one "
             "process; macro ones run the real processes over loopback: a load source in front of ingest "
             "(`bench/market_source.py`) offers exact `price_change` rates and relays the paper venue, arbitrages "
             "are injected at the venue during the load, a tap in front of the venue's REST stamps when each "
             "`POST /orders` arrives, and the TradeResult traces give every stage in between. Numbers from one "
             "shared 2-core VM with other engineers' tests running: read them as this machine's, with its load."),
             "", "Latest run:", ""]
    lines += [_wrap(line, "  ") for line in machine_lines(results)]
    if results.get("headline"):
        lines += ["", "Headline figures beside the targets of issue 15 (`bench/results/latest.json` → `headline`):",
                  ""]
        lines += headline_table(results)
        peer = _get(results, "macro", "peer", default={})
        if peer:
            lines += ["", _wrap("The peer is `bench/peer_bot.py`, the one-process bot a trader writes alone "
                                "(websockets + json + py-clob-client-v2); it and polyarb trade the same injected trio "
                                "arbitrages against the same venue in one run, in alternating blocks (both "
                                "subscribed throughout; why: the `peer` phase in `bench/bench_macro.py`), each POST "
                                "stamped by its own `bench/clob_tap.py`; `python -m bench.bench_macro --peer-only` "
                                "runs this comparison alone (about a minute). Per stage:"), ""]
            lines += stage_lines(results)
    lines += ["", "Against the targets (issue 10 and the seed documents):", ""]
    lines += targets_table(results)
    latency = _get(results, "macro", "latency", default={})
    if latency:
        lines += ["", "Latency through the real processes, ms (1,000 tokens; traces of the trades on arbitrages "
                  "injected during the load):", ""]
        lines.append("| frames/s | " + " | ".join(f"{label} p50 / p99 / p99.9" for label in (
            "WS → top of book at engine", "WS → signal at executor", "WS → POST bytes at venue")) + " | n |")
        lines.append("|---|---|---|---|---|")
        for rate, step in latency.items():
            cells = []
            for key in ("ws_to_tob_engine", "ws_to_signal_executor", "ws_to_post_at_venue"):
                d = step.get("trace", {}).get(key) or {}
                cells.append(" / ".join(_f(None if d.get(q) is None else d[q] / 1000, 2)
                                        for q in ("p50", "p99", "p99.9")))
            n = (step.get("trace", {}).get("ws_to_post_at_venue") or {}).get("n", 0)
            lines.append(f"| {int(rate):,} | " + " | ".join(cells) + f" | {n} |")
    split = results.get("service_split", {})
    if split.get("socket_to_post", {}).get("ratio"):
        s = split["socket_to_post"]
        lines += ["", _wrap(f"The service split costs {s['ratio']:.1f}x at p50: WS frame → POST bytes takes "
                            f"{s['pipeline_p50_us'] / 1000:.2f} ms through the three processes at 1K frames/s and "
                            f"{s['in_process_p50_us'] / 1000:.2f} ms in one process from the same pure modules.")]
    if results.get("notes"):
        lines += ["", "Where the time goes, from this run's figures:", ""]
        lines += [_wrap(f"- {n}", "  ") for n in results["notes"]]
    lines += ["", _wrap("Every other table (micro, per-stage latency at 1K/5K/10K frames/s, throughput ramp, "
                        "memory and CPU per token count) is in `bench/results/latest.md`."), README_END]
    return "\n".join(lines) + "\n"


def _wrap(text: str, indent: str = "") -> str:
    return textwrap.fill(text, width=100, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def update_readme(readme: pathlib.Path, section: str) -> None:
    """Replace the block between the markers, or append it; nothing else in the README changes."""
    text = readme.read_text()
    if README_BEGIN in text and README_END in text:
        head, rest = text.split(README_BEGIN, 1)
        _, tail = rest.split(README_END, 1)
        text = head + section.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    readme.write_text(text)


# -- plots ----------------------------------------------------------------------------------------------


def plots(results: dict, out_dir: pathlib.Path) -> list[pathlib.Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bench.bench_macro import STAGES, TOTALS

    written = []
    macro = results.get("macro", {})
    raw = results.get("_raw_latency", {})
    if raw:
        fig, axes = plt.subplots(1, len(raw), figsize=(6 * len(raw), 5), sharey=True, squeeze=False)
        for ax, (rate, data) in zip(axes[0], raw.items(), strict=True):
            stamps = data.get("stamps", [])
            curves = {name: [(s[end] - s[start]) / 1000 for s in stamps if s[end]] for name, start, end in STAGES}
            curves.update({f"total: {name}": [(s[end] - s["ws_recv_ns"]) / 1000 for s in stamps if s[end]]
                           for name, end in TOTALS if name in ("ws_to_signal_executor", "ws_to_post_at_venue")})
            probe = data.get("probe", [])
            curves["probe: ws → TOB consumer"] = [(r - w) / 1000 for r, w, _, _ in probe]
            for name, values in curves.items():
                values = sorted(v for v in values if v > 0)
                if values:
                    ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=name,
                            linestyle="--" if name.startswith(("total", "probe")) else "-")
            ax.set_xscale("log")
            ax.set_xlabel("µs")
            ax.set_title(f"{int(rate) // 1000}K frames/s ({len(stamps)} traced trades)")
            ax.grid(True, which="both", alpha=0.3)
        axes[0][0].set_ylabel("cumulative fraction")
        axes[0][-1].legend(fontsize=7, loc="lower right")
        fig.suptitle("Latency CDF per stage (TradeResult traces; probe: StreamTopOfBook consumer)")
        fig.tight_layout()
        written.append(_save(fig, out_dir / "latency_cdf.png", plt))
    peer_raw = results.get("_raw_peer", {})
    if peer_raw.get("peer") or peer_raw.get("polyarb"):
        fig, ax = plt.subplots(figsize=(7, 5))
        for label, stamps in (("polyarb (3 services)", peer_raw.get("polyarb", [])),
                              ("peer bot (one process)", peer_raw.get("peer", []))):
            values = sorted((s["venue"] - s["ws_recv_ns"]) / 1e6 for s in stamps if s.get("venue"))
            if values:
                ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=f"{label}, n={len(values)}")
        ax.set_xscale("log")
        ax.set_xlabel("WS frame → POST /orders bytes at the venue, ms")
        ax.set_ylabel("cumulative fraction")
        ax.set_title("Same run, same venue, same injected trios")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        written.append(_save(fig, out_dir / "peer_vs_polyarb.png", plt))
    throughput = macro.get("throughput", {})
    if throughput:
        fig, ax = plt.subplots(figsize=(7, 5))
        low, top = math.inf, 1.0
        for shape in throughput.values():
            xs = [s["offered_updates_per_s"] for s in shape["steps"]]
            ys = [s["engine_updates_per_s"] for s in shape["steps"]]
            if not xs:
                continue
            low, top = min(low, *xs, *ys), max(top, *xs, *ys)
            ax.plot(xs, ys, marker="o", label=f"{shape['updates_per_frame']} updates per frame")
            bad = [(x, y) for x, y, s in zip(xs, ys, shape["steps"], strict=True) if s["conflated"] > 0]
            if bad:
                ax.scatter(*zip(*bad, strict=True), color="red", zorder=3, s=60, marker="x")
        if math.isfinite(low):
            ax.plot([low / 2, top * 2], [low / 2, top * 2], color="grey", linestyle=":", label="evaluated = offered")
        ax.axhline(150_000, color="green", linestyle="--", linewidth=1, label="target 150K/s")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("offered top-of-book updates/s")
        ax.set_ylabel("updates/s evaluated by the engine")
        ax.set_title("Ingest → engine throughput (red x: conflation on ingest)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        written.append(_save(fig, out_dir / "throughput.png", plt))
    scaling = macro.get("scaling", {})
    if scaling:
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
        steps = sorted(scaling.values(), key=lambda s: s["tokens"])
        tokens = [s["tokens"] for s in steps]
        for name in ("ingest", "engine", "executor", "paper_venue"):
            ax.plot(tokens, [s["rss_loaded_mb"].get(name) or 0 for s in steps], marker="o", label=name)
        ax.axhline(60, color="red", linestyle="--", linewidth=1, label="60 MB")
        ax.set_xscale("log")
        ax.set_xlabel("subscribed tokens")
        ax.set_ylabel("RSS MB (under 1K frames/s)")
        ax.set_title("RSS vs tokens")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax2.plot(tokens, [s["ingest_cpu_us_per_frame"] or 0 for s in steps], marker="o", label="ingest µs/frame")
        ax2.plot(tokens, [s["engine_cpu_us_per_update"] or 0 for s in steps], marker="o", label="engine µs/update")
        ax2.set_xscale("log")
        ax2.set_xlabel("subscribed tokens")
        ax2.set_ylabel("CPU µs")
        ax2.set_title("CPU per message vs tokens")
        ax2.grid(True, which="both", alpha=0.3)
        ax2.legend(fontsize=8)
        fig.tight_layout()
        written.append(_save(fig, out_dir / "rss_tokens.png", plt))
    return written


def _save(fig, path: pathlib.Path, plt) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", action="store_true", help="rewrite README.md's Performance block from latest.json")
    parser.add_argument("--markdown", action="store_true", help="rewrite latest.md from latest.json")
    args = parser.parse_args()
    results = json.loads((RESULTS / "latest.json").read_text())
    if args.markdown:
        (RESULTS / "latest.md").write_text(render_markdown(results))
    if args.readme:
        update_readme(ROOT / "README.md", readme_section(results))
    if not (args.readme or args.markdown):
        sys.stdout.write(render_markdown(results))


if __name__ == "__main__":
    main()
