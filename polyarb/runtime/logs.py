"""JSON logs, one object per line on stderr, with a redaction step no record can bypass.

Secrets (private keys, API secrets and passphrases, the control token) are registered once with
`register_secret`; every formatted line, tracebacks included, has each registered value replaced by
`***`. Fields whose names say they hold a secret are masked whatever their value.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from typing import Any, TextIO

REDACTED = "***"
# Field names that hold a secret whatever their value ("token_count" or "tokens" do not).
SECRET_FIELD_NAMES = frozenset({"token", "control_token", "authorization", "secret", "passphrase", "password"})
SECRET_FIELD_SUFFIXES = ("private_key", "_secret", "_passphrase", "_password")
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Never log this value, in any letter case, nor a hex key with or without its 0x."""
    global _pattern
    if not value or len(value) < 4:  # a too-short "secret" would mask ordinary text
        return
    bare = value[2:] if value.lower().startswith("0x") else value
    with _secrets_lock:
        _secrets.update(v for v in (value, bare) if len(v) >= 4)
        # longest first, so a key is masked whole rather than leaving its 0x prefix dangling
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("(?:0x)?(?:" + "|".join(map(re.escape, alternatives)) + ")", re.IGNORECASE)


def redact(text: str) -> str:
    pattern = _pattern
    return text if pattern is None else pattern.sub(REDACTED, text)


def _is_secret_field(name: str) -> bool:
    lowered = name.lower()
    return lowered in SECRET_FIELD_NAMES or lowered.endswith(SECRET_FIELD_SUFFIXES)


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            entry[key] = REDACTED if _is_secret_field(key) else value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


def setup_logging(service: str, level: str = "info", stream: TextIO | None = None) -> logging.Logger:
    """Send every logger of the process to stderr (or stream) as JSON lines; return the service's logger."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # grpc and asyncio are chatty at debug; keep them at warning unless something is wrong
    for noisy in ("grpc", "asyncio", "aiohttp.access", "websockets"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return logging.getLogger(service)
