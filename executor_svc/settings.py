"""The executor's runtime config: defaults and whole-message validation of `ExecutorConfig`.

`UpdateConfig` replaces the whole config, so a message is either valid as a whole or refused with
the first bad field named, in field order (the servicer turns `ConfigError` into INVALID_ARGUMENT
and keeps the old config). Proto3 cannot tell "unset" from zero, so defaults apply only where the
executor starts; an update means exactly what it says, with one exception (`min_marketable_buy_pusd`,
below).
"""

from __future__ import annotations

import math

from polyarb.runtime.config import ConfigError
from polyarb.v1 import executor_pb2

__all__ = ["DEFAULTS", "ORDER_TYPES", "ConfigError", "default_config", "validate_config"]

# CONTRACT.md executor.proto comments.
DEFAULTS: dict[str, int | float | str] = {
    "max_signal_age_ms": 250,
    "slippage_ticks": 1,
    "breaker_failures": 3,
    "http_timeout_ms": 2000,
    "max_exposure": 1000.0,
    "order_type": "FOK",
    # The venue refuses a marketable (FOK/FAK) BUY worth under $1 ("invalid amount for a marketable BUY
    # order ($0.3), min size: $1"; NautilusTrader docs/integrations/polymarket.md, its issue 3874).
    "min_marketable_buy_pusd": 1.0,
}

# Legs are marketable and all-or-nothing per leg; GTC/GTD would rest on the book (never wanted here).
ORDER_TYPES = ("FOK", "FAK")

# slippage_ticks may be 0 (post at the signal's prices); any larger value is capped by the profit
# threshold and the price range in pricing.py, so it needs no bound here.
_AT_LEAST_ONE = ("max_signal_age_ms", "breaker_failures", "http_timeout_ms")


def default_config() -> executor_pb2.ExecutorConfig:
    """A fresh message (messages are mutable, so no shared instance)."""
    return executor_pb2.ExecutorConfig(**DEFAULTS)


def validate_config(msg: executor_pb2.ExecutorConfig) -> executor_pb2.ExecutorConfig:
    """A copy of the config to put in force, or `ConfigError` naming the first bad field.

    `min_marketable_buy_pusd = 0` is read as the default: the field is newer than the contract, and a
    client built from the contract alone (the Node shell reading GetStatus and sending it back) drops
    it; 0 would otherwise switch off a check the venue makes anyway, so every such order would be
    refused there, after signing, with the other legs of its batch filled. There is no "off".
    """
    for field in msg.DESCRIPTOR.fields:  # field-number order, so "first" is well defined
        name = field.name
        value = getattr(msg, name)
        if name in _AT_LEAST_ONE and value < 1:
            raise ConfigError(f"{name} must be >= 1, got {value!r}")
        if name == "max_exposure" and not 0.0 <= value < math.inf:
            raise ConfigError(f"max_exposure must be a finite number >= 0 pUSD, got {value!r}")
        if name == "order_type" and value not in ORDER_TYPES:
            raise ConfigError(f"order_type must be FOK or FAK, got {value!r}")
        if name == "min_marketable_buy_pusd" and not 0.0 <= value < math.inf:
            raise ConfigError(f"min_marketable_buy_pusd must be a finite number >= 0 pUSD (0: the default "
                              f"{DEFAULTS[name]}), got {value!r}")
    config = executor_pb2.ExecutorConfig()
    config.CopyFrom(msg)
    if config.min_marketable_buy_pusd == 0.0:
        config.min_marketable_buy_pusd = float(DEFAULTS["min_marketable_buy_pusd"])
    return config
