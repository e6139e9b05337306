"""Fault switches: what goes wrong on purpose, so clients can be tested against a misbehaving venue.

Pure. One JSON object sets them, from the --faults flag at start (JSON text or a file path) and
from POST /admin/faults at run time; unknown keys are refused. HTTP faults are counts consumed by
the next order posts (POST /order and POST /orders each count once):

- "http_5xx": N        the next N posts answer `http_5xx_status` (default 503) with {"error": ...},
                       the order is NOT processed;
- "timeout": N         the next N posts ARE processed (matched, balances moved) but the answer is held
                       back `timeout_s` seconds (default 5), beyond a client's time-out: the outcome is
                       unknown to the client and must be reconciled (GET /data/order/{id});
- "hang": N            the next N posts hang `timeout_s` seconds and are then dropped, never processed
                       (a request queued at the edge and lost): GET /data/order/{id} says "not found",
                       which a client may take as proof only after a grace period;
- "reject_leg": N      the next N batches (POST /orders) reject one leg unprocessed, the one at
                       `reject_leg_index` (default -1, the last), the way live rejections look in a batch:
                       success true, empty orderID, reason in errorMsg (protocol 2.5);
- "html_403": N        the next N posts get a Cloudflare-like HTML 403 page (geoblock; protocol doc
                       and reference-designs: "treat an HTML 403 as a config error").

Two more counts act on reads, not on posts (each request counts once; set 0 to end one early):
- "gamma_5xx": N       the next N `GET /events` (the Gamma listing) answer 500;
- "balance_5xx": N     the next N `GET /balance-allowance` answer 500 (a dead balance endpoint).

Switches that stay as set until changed:
- "ws_hide_fills": B   while true, the market feed does not show the liquidity that fills consumed
                       (the venue's book update lagging the fill); the next quote change shows it.

WebSocket faults are actions applied at once (they need connected clients):
- "ws_drop": true          abort every market connection (no close frame, like a network cut);
- "ws_stall_s": S          send nothing for S seconds, not even PONG (a silent server freeze);
- "ws_garbage": N          send N frames that are not JSON;
- "ws_oversized": N        send N frames of `ws_oversized_bytes` (default 2 MiB, above websockets'
                           1 MiB default max_size).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

HTTP_COUNTS = ("http_5xx", "timeout", "hang", "reject_leg", "html_403", "gamma_5xx", "balance_5xx")
SWITCHES = ("ws_hide_fills",)
HTTP_SETTINGS = {"http_5xx_status": int, "timeout_s": float, "reject_leg_index": int}
WS_ACTIONS = ("ws_drop", "ws_stall_s", "ws_garbage", "ws_oversized", "ws_oversized_bytes")

GEOBLOCK_HTML = (
    "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>"
    "<h1>Sorry, you have been blocked</h1><p>You are unable to access polymarket.com (paper venue "
    "fault html_403).</p></body></html>"
)


class FaultError(ValueError):
    """A fault setting the venue refuses."""


@dataclass(frozen=True)
class WsActions:
    drop: bool = False
    stall_s: float = 0.0
    garbage: int = 0
    oversized: int = 0
    oversized_bytes: int = 2 * 1024 * 1024

    def any(self) -> bool:
        return self.drop or self.stall_s > 0 or self.garbage > 0 or self.oversized > 0


@dataclass
class Faults:
    http_5xx: int = 0
    http_5xx_status: int = 503
    timeout: int = 0
    timeout_s: float = 5.0
    hang: int = 0
    ws_hide_fills: bool = False
    reject_leg: int = 0
    reject_leg_index: int = -1
    html_403: int = 0
    gamma_5xx: int = 0
    balance_5xx: int = 0
    fired: Counter[str] = field(default_factory=Counter)

    def update(self, settings: Mapping[str, Any]) -> WsActions:
        """Apply the HTTP part of `settings`, return its WebSocket actions; FaultError before any change."""
        if not isinstance(settings, Mapping):
            raise FaultError("faults must be a JSON object")
        unknown = set(settings) - set(HTTP_COUNTS) - set(HTTP_SETTINGS) - set(SWITCHES) - set(WS_ACTIONS)
        if unknown:
            raise FaultError(f"unknown fault(s): {', '.join(sorted(unknown))}")
        counts = {k: _count(k, settings[k]) for k in HTTP_COUNTS if k in settings}
        values: dict[str, Any] = {}
        for name, kind in HTTP_SETTINGS.items():
            if name in settings:
                values[name] = _number(name, settings[name], kind)
        for name in SWITCHES:
            if name in settings:
                values[name] = _flag(name, settings[name])
        if "http_5xx_status" in values and not 500 <= values["http_5xx_status"] <= 599:
            raise FaultError("http_5xx_status must be 500..599")
        ws = WsActions(
            drop=_flag("ws_drop", settings.get("ws_drop", False)),
            stall_s=_number("ws_stall_s", settings.get("ws_stall_s", 0.0), float),
            garbage=_count("ws_garbage", settings.get("ws_garbage", 0)),
            oversized=_count("ws_oversized", settings.get("ws_oversized", 0)),
            oversized_bytes=_count("ws_oversized_bytes", settings.get("ws_oversized_bytes", 2 * 1024 * 1024)),
        )
        for name, value in (*counts.items(), *values.items()):
            setattr(self, name, value)
        return ws

    def take(self, kind: str) -> bool:
        """Consume one of `kind` (an HTTP_COUNTS name); True when the fault fires now."""
        left = getattr(self, kind)
        if left <= 0:
            return False
        setattr(self, kind, left - 1)
        self.fired[kind] += 1
        return True

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: getattr(self, k) for k in (*HTTP_COUNTS, *HTTP_SETTINGS, *SWITCHES)}
        out["fired"] = dict(self.fired)
        return out


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(f"{name} must be an integer >= 0")
    return value


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FaultError(f"{name} must be true or false")
    return value


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(f"{name} must be a number")
    if kind is int:
        if value != int(value):
            raise FaultError(f"{name} must be an integer")
        return int(value)
    if not math.isfinite(value) or value < 0:
        raise FaultError(f"{name} must be a finite number >= 0")
    return float(value)
