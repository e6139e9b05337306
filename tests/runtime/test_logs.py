import io
import json
import logging

import pytest

from polyarb.runtime import logs

KEY = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class Captured(io.StringIO):
    def readouterr(self):  # the shape of capsys, so tests read naturally
        text, _ = self.getvalue(), self.truncate(0)
        self.seek(0)
        return type("Out", (), {"err": text})


@pytest.fixture
def captured():
    stream = Captured()
    logger = logs.setup_logging("testsvc", "debug", stream=stream)
    yield logger, stream
    logging.getLogger().handlers.clear()


def lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().err.splitlines()]


def test_one_json_object_per_line_with_fields(captured):
    logger, capsys = captured
    logger.info("hello", extra={"token_count": 3, "addr": "x"})
    (entry,) = lines(capsys)
    assert entry["msg"] == "hello"
    assert entry["service"] == "testsvc"
    assert entry["level"] == "info"
    assert entry["addr"] == "x"


def test_registered_secrets_never_appear(captured):
    logger, capsys = captured
    logs.register_secret("0x" + KEY)
    logs.register_secret("api-s3cret-value")
    logger.warning("key is %s and %s", KEY, "0x" + KEY.upper())
    logger.error("creds", extra={"detail": "secret=api-s3cret-value"})
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        logger.exception("failed")
    text = capsys.readouterr().err
    assert KEY not in text.lower()
    assert "api-s3cret-value" not in text
    assert text.count(logs.REDACTED) >= 4


def test_secret_named_fields_are_masked(captured):
    logger, capsys = captured
    logger.info(
        "x",
        extra={"private_key": "abc", "api_secret": "def", "control_token": "ghi", "passphrase": "p", "tokens": 3},
    )
    (entry,) = lines(capsys)
    assert entry["private_key"] == entry["api_secret"] == entry["control_token"] == entry["passphrase"] == "***"
    assert entry["tokens"] == 3


def test_short_values_are_not_registered():
    logs.register_secret("ab")
    assert logs.redact("abc ab") == "abc ab"
