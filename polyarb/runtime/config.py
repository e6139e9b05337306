"""Flags with POLYARB_* environment fallbacks.

Every flag `--some-flag` also reads `POLYARB_SOME_FLAG`; the flag wins. Bad input (an unknown flag, a
value that does not parse, from the command line or the environment) exits 2 with one line on stderr.
No other module reads the environment for configuration.

Intervals, time-outs and sizes parse with `positive_float` / `positive_int`: zero and negatives exit 2
(a zero ping interval would spin). A flag where 0 means something (off, at once, as fast as possible)
parses with `non_negative_float` and says what 0 means in its help.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import math
import os
import pathlib
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

ENV_PREFIX = "POLYARB_"
TOKEN_ENV = "POLYARB_CONTROL_TOKEN"


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names it."""


@dataclass(frozen=True)
class Flag:
    name: str  # without the leading dashes: "grpc-addr"
    help: str
    default: Any = None
    parse: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None
    switch: bool = False  # a boolean flag: present = true; env accepts 1/0/true/false/yes/no

    @property
    def dest(self) -> str:
        return self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.dest.upper()


# -- value parsers: each raises ValueError with a short reason --------------------------------------


def host_port(text: str) -> str:
    """`HOST:PORT` (IPv6 in brackets); port 0 asks the OS for a free one."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"port must be 0..65535, got {port!r}")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        ipaddress.IPv6Address(bare)  # raises ValueError on nonsense
    return f"{host}:{int(port)}"


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"must be > 0, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a finite number > 0, got {text!r}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"must be a finite number >= 0, got {text!r}")
    return value


def readable_file(text: str) -> pathlib.Path:
    path = pathlib.Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {text}")
    return path


def switch_value(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


COMMON_FLAGS: tuple[Flag, ...] = (
    Flag("grpc-addr", "gRPC listen address HOST:PORT", "127.0.0.1:50050", host_port),
    Flag("metrics-addr", "Prometheus /metrics listen address HOST:PORT", "127.0.0.1:9100", host_port),
    Flag("log-level", "log level", "info", str.lower, choices=("debug", "info", "warning", "error")),
    Flag(
        "control-token-file",
        f"file holding the bearer token every control RPC must carry (or env {TOKEN_ENV})",
        None,
        readable_file,
    ),
    Flag("grace-s", "seconds in-flight RPCs get to finish on SIGTERM; 0: stop at once, no drain", 5.0,
         non_negative_float),
    Flag("tls-cert-file", "PEM certificate chain: serve TLS on the gRPC port (with --tls-key-file)", None,
         readable_file),
    Flag("tls-key-file", "PEM private key of --tls-cert-file", None, readable_file),
    Flag("tls-client-ca-file", "PEM CA: also require client certificates signed by it (mutual TLS)", None,
         readable_file),
    Flag("health-addr", "also serve grpc.health.v1 alone, plaintext, on this HOST:PORT: for kubelet gRPC probes, "
         "which cannot speak TLS, when the gRPC port serves it (default: none)", None, host_port),
    Flag("require-tls-for-token", "refuse to start when a control token is set and the gRPC port is reachable "
         "from the network without TLS", False, switch=True),
)


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        fail(self.prog, message)


def fail(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise SystemExit(2)


def _env_default(flag: Flag, environ: Mapping[str, str], prog: str) -> Any:
    raw = environ.get(flag.env)
    if raw is None:
        return flag.default
    try:
        value = switch_value(raw) if flag.switch else flag.parse(raw)
    except (ValueError, TypeError) as exc:
        fail(prog, f"bad {flag.env}: {exc}")
    if flag.choices and value not in flag.choices:
        fail(prog, f"bad {flag.env}: {raw!r} is not one of {', '.join(flag.choices)}")
    return value


def _argparse_type(flag: Flag) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return flag.parse(text)
        except (ValueError, TypeError) as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = flag.name  # argparse names the type in its message
    return convert


def parse_flags(
    prog: str,
    description: str,
    flags: Sequence[Flag],
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> argparse.Namespace:
    """Parse COMMON_FLAGS + flags from argv, falling back to POLYARB_* in environ.

    defaults overrides a common flag's default per service (e.g. its own grpc port).
    """
    environ = os.environ if environ is None else environ
    parser = _OneLineParser(
        prog=prog,
        description=description,
        epilog="Every flag also reads POLYARB_<FLAG> from the environment (upper case, - as _); "
        "the flag wins.",
    )
    for flag in (*COMMON_FLAGS, *flags):
        if defaults and flag.name in defaults:
            flag = dataclasses.replace(flag, default=defaults[flag.name])
        default = _env_default(flag, environ, prog)
        env_help = f"{flag.help} [env {flag.env}]"
        if flag.switch:
            parser.add_argument(
                f"--{flag.name}", dest=flag.dest, action="store_true", default=bool(default), help=env_help
            )
            continue
        parser.add_argument(
            f"--{flag.name}",
            dest=flag.dest,
            default=default,
            type=_argparse_type(flag),
            choices=flag.choices,
            help=f"{env_help} (default: {flag.default})",
        )
    return parser.parse_args(argv)


def load_control_token(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> str | None:
    """The control token from --control-token-file or POLYARB_CONTROL_TOKEN; None when neither is set.

    Never a flag value: a token on the command line is visible to every user of the machine.
    """
    environ = os.environ if environ is None else environ
    path = getattr(args, "control_token_file", None)
    if path is not None:
        token = pathlib.Path(path).read_text().strip()
        if not token:
            raise ConfigError(f"control token file {path} is empty")
        return token
    token = environ.get(TOKEN_ENV, "").strip()
    return token or None
