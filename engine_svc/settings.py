"""The engine's runtime config: defaults and whole-message validation of `EngineConfig`.

`UpdateConfig` replaces the whole config, so a message is either valid as a whole or refused with
the first bad field named (the servicer turns `ConfigError` into INVALID_ARGUMENT and keeps the old
config). Proto3 cannot tell "unset" from zero, so defaults apply only where the engine starts;
an update means exactly what it says, with two exceptions (`in_flight_timeout_ms` and
`min_marketable_buy_pusd`, below).
"""

from __future__ import annotations

import math

from polyarb.runtime.config import ConfigError
from polyarb.v1 import engine_pb2

__all__ = ["DEFAULTS", "ConfigError", "default_config", "validate_config"]

# CONTRACT.md engine.proto comments; the in-flight timeout and the marketable BUY minimum are ours
# (engine.proto fields 10 and 11).
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
    # The venue's minimum for a marketable BUY, in pUSD per leg (engine_svc/min_notional.py); the
    # executor's ExecutorConfig.min_marketable_buy_pusd should be the same figure.
    "min_marketable_buy_pusd": 1.0,
}

# Read as the default when 0 (see validate_config).
_ZERO_MEANS_DEFAULT = ("in_flight_timeout_ms", "min_marketable_buy_pusd")

# Thresholds may be 0 (take any strictly profitable set); a negative one would mean trading at a loss.
_NON_NEGATIVE = ("min_profit_abs", "min_profit_bps", "min_expected_pnl")


def default_config() -> engine_pb2.EngineConfig:
    """A fresh message (messages are mutable, so no shared instance)."""
    return engine_pb2.EngineConfig(**DEFAULTS)


def validate_config(msg: engine_pb2.EngineConfig) -> engine_pb2.EngineConfig:
    """The config to put in force, or `ConfigError` naming the first bad field.

    `in_flight_timeout_ms = 0` and `min_marketable_buy_pusd = 0` are read as the defaults: the fields
    are newer than the contract, and a client built from the contract alone (the Node shell reading
    GetStatus and sending it back) drops them; 0 would otherwise mean "never wait for an outcome" and
    "signal sets the venue refuses", which nobody wants. Neither has an "off".
    """
    for name in _NON_NEGATIVE:
        _finite(msg, name)
        if getattr(msg, name) < 0:
            raise ConfigError(f"{name} must be >= 0, got {getattr(msg, name)!r}")
    _finite(msg, "max_set_size")
    if msg.max_set_size <= 0:
        raise ConfigError(f"max_set_size must be > 0 shares, got {msg.max_set_size!r}")
    _finite(msg, "min_marketable_buy_pusd")
    if msg.min_marketable_buy_pusd < 0:
        raise ConfigError(f"min_marketable_buy_pusd must be >= 0 pUSD (0: the default "
                          f"{DEFAULTS['min_marketable_buy_pusd']}), got {msg.min_marketable_buy_pusd!r}")
    config = engine_pb2.EngineConfig()
    config.CopyFrom(msg)
    for name in _ZERO_MEANS_DEFAULT:
        if getattr(config, name) == 0:
            setattr(config, name, DEFAULTS[name])
    return config


def _finite(msg: engine_pb2.EngineConfig, name: str) -> None:
    if not math.isfinite(getattr(msg, name)):
        raise ConfigError(f"{name} must be a finite number, got {getattr(msg, name)!r}")
