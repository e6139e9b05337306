"""ExecutorConfig: the contract's defaults and whole-message validation naming the first bad field."""

from __future__ import annotations

import math

import pytest

from executor_svc.settings import DEFAULTS, default_config, validate_config
from polyarb.runtime.config import ConfigError
from polyarb.v1 import executor_pb2


def test_defaults_are_the_contracts():
    config = default_config()
    assert (
        config.max_signal_age_ms, config.slippage_ticks, config.breaker_failures, config.http_timeout_ms,
        config.max_exposure, config.order_type, config.min_marketable_buy_pusd,
    ) == (250, 1, 3, 2000, 1000.0, "FOK", 1.0)
    assert set(DEFAULTS) == {f.name for f in executor_pb2.ExecutorConfig.DESCRIPTOR.fields}
    assert default_config() is not default_config()


def test_valid_config_is_returned_as_a_copy():
    msg = default_config()
    msg.order_type = "FAK"
    msg.slippage_ticks = 0
    msg.max_exposure = 0.0
    config = validate_config(msg)
    assert config == msg and config is not msg


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_signal_age_ms", 0),
        ("breaker_failures", 0),
        ("http_timeout_ms", 0),
        ("max_exposure", -0.01),
        ("max_exposure", math.nan),
        ("max_exposure", math.inf),
        ("order_type", "GTC"),
        ("order_type", "fok"),
        ("order_type", ""),
        ("min_marketable_buy_pusd", -1.0),
        ("min_marketable_buy_pusd", math.nan),
        ("min_marketable_buy_pusd", math.inf),
    ],
)
def test_bad_field_is_named(field, value):
    msg = default_config()
    setattr(msg, field, value)
    with pytest.raises(ConfigError, match=field):
        validate_config(msg)


def test_the_first_bad_field_in_field_order_is_named():
    msg = executor_pb2.ExecutorConfig()  # all zero: proto3's "unset" is not read as a default
    with pytest.raises(ConfigError, match=r"^max_signal_age_ms"):
        validate_config(msg)
    msg = default_config()
    msg.order_type = "GTC"
    msg.breaker_failures = 0
    with pytest.raises(ConfigError, match=r"^breaker_failures"):
        validate_config(msg)


def test_a_zero_marketable_buy_minimum_is_read_as_the_default():
    # a client built from the contract alone sends the config back without the field: proto3's 0
    msg = default_config()
    msg.ClearField("min_marketable_buy_pusd")
    config = validate_config(msg)
    assert config.min_marketable_buy_pusd == DEFAULTS["min_marketable_buy_pusd"] == 1.0
    assert msg.min_marketable_buy_pusd == 0.0  # the caller's message is not touched
    msg.min_marketable_buy_pusd = 2.5
    assert validate_config(msg).min_marketable_buy_pusd == 2.5
