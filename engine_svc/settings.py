"""The engine's runtime config: defaults and whole-message validation of `EngineConfig`.

`UpdateConfig` replaces the whole config, so a message is either valid as a whole or refused with
the first bad field named (the servicer turns `ConfigError` into INVALID_ARGUMENT and keeps the old
config). Proto3 cannot tell "unset" from zero, so defaults apply only where the engine starts;
an update means exactly what it says, with one exception (`in_flight_timeout_ms`, below).
"""

from __future__ import annotations

import math

from polyarb.runtime.config import ConfigError
from polyarb.v1 import engine_pb2

__all__ = ["DEFAULTS", "ConfigError", "default_config", "validate_config"]

# CONTRACT.md engine.proto comments; the in-flight timeout is ours (engine.proto field 10).
DEFAULTS: dict[str, float | int | bool] = {
    "min_profit_abs": 0.01,
    "min_profit_bps": 50.0,
    "min_expected_pnl": 0.05,
    "max_set_size": 100.0,
    "cooldown_ms": 200,
    "trio": True,
    "complement_trio": True,
    "bundle": True,
    "unbundle": True,
    "in_flight_timeout_ms": 10_000,
}

# Thresholds may be 0 (take any strictly profitable set); a negative one would mean trading at a loss.
_NON_NEGATIVE = ("min_profit_abs", "min_profit_bps", "min_expected_pnl")


def default_config() -> engine_pb2.EngineConfig:
    """A fresh message (messages are mutable, so no shared instance)."""
    return engine_pb2.EngineConfig(**DEFAULTS)


def validate_config(msg: engine_pb2.EngineConfig) -> engine_pb2.EngineConfig:
    """The config to put in force, or `ConfigError` naming the first bad field.

    `in_flight_timeout_ms = 0` is read as the default: the field is newer than the contract, and a
    client built from the contract alone (the Node shell reading GetStatus and sending it back)
    drops it; 0 would otherwise mean "never wait for an outcome", which nobody wants.
    """
    for name in _NON_NEGATIVE:
        _finite(msg, name)
        if getattr(msg, name) < 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(msg, name)!r}")
    _finite(msg, "max_set_size")
    if msg.max_set_size <= 0:
        raise ConfigError(f"max_set_size must be > 0 shares, got {msg.max_set_size!r}")
    config = engine_pb2.EngineConfig()
    config.CopyFrom(msg)
    if config.in_flight_timeout_ms == 0:
        config.in_flight_timeout_ms = int(DEFAULTS["in_flight_timeout_ms"])
    return config


def _finite(msg: engine_pb2.EngineConfig, name: str) -> None:
    if not math.isfinite(getattr(msg, name)):
        raise ConfigError(f"{name} must be a finite number, got {getattr(msg, name)!r}")
