import pytest

from polyarb.runtime import config
from polyarb.runtime.config import Flag, parse_flags

FLAGS = (
    Flag("tokens-per-connection", "n", 50, config.positive_int),
    Flag("ws-url", "url", "wss://x"),
    Flag("record-all", "switch", False, switch=True),
    Flag("ping-interval", "seconds", 10.0, config.positive_float),
)


def parse(argv, env=None):
    return parse_flags("svc", "test", FLAGS, argv, environ=env or {})


def test_defaults_and_flags():
    args = parse([])
    assert args.tokens_per_connection == 50
    assert args.grpc_addr == "127.0.0.1:50050"
    assert args.log_level == "info"
    assert args.record_all is False
    args = parse(["--tokens-per-connection", "7", "--grpc-addr", "[::1]:0", "--record-all"])
    assert (args.tokens_per_connection, args.grpc_addr, args.record_all) == (7, "[::1]:0", True)


def test_environment_fallback_and_flag_wins():
    env = {"POLYARB_TOKENS_PER_CONNECTION": "9", "POLYARB_WS_URL": "ws://env", "POLYARB_RECORD_ALL": "yes"}
    args = parse([], env)
    assert (args.tokens_per_connection, args.ws_url, args.record_all) == (9, "ws://env", True)
    assert parse(["--tokens-per-connection", "3"], env).tokens_per_connection == 3


def test_per_service_default_override():
    args = parse_flags("svc", "t", (), [], environ={}, defaults={"grpc-addr": "127.0.0.1:50052"})
    assert args.grpc_addr == "127.0.0.1:50052"


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (["--bogus"], {}, "unrecognized arguments: --bogus"),
        (["--tokens-per-connection", "0"], {}, "must be > 0"),
        (["--tokens-per-connection", "x"], {}, "invalid literal"),
        (["--grpc-addr", "nohost"], {}, "expected HOST:PORT"),
        (["--grpc-addr", "h:70000"], {}, "port must be 0..65535"),
        (["--log-level", "loud"], {}, "invalid choice"),
        ([], {"POLYARB_TOKENS_PER_CONNECTION": "-1"}, "bad POLYARB_TOKENS_PER_CONNECTION"),
        ([], {"POLYARB_LOG_LEVEL": "loud"}, "bad POLYARB_LOG_LEVEL"),
        ([], {"POLYARB_RECORD_ALL": "maybe"}, "bad POLYARB_RECORD_ALL"),
        (["--control-token-file", "/does/not/exist"], {}, "no such file"),
        (["--ping-interval", "0"], {}, "argument --ping-interval: must be a finite number > 0, got '0'"),
        (["--ping-interval", "-1"], {}, "argument --ping-interval: must be a finite number > 0"),
        (["--ping-interval", "nan"], {}, "argument --ping-interval: must be a finite number > 0"),
        ([], {"POLYARB_PING_INTERVAL": "0"}, "bad POLYARB_PING_INTERVAL: must be a finite number > 0"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, env, expected, capsys):
    with pytest.raises(SystemExit) as exc:
        parse(argv, env)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("svc: error: ")
    assert expected in err


def test_help_lists_flags_and_env(capsys):
    with pytest.raises(SystemExit) as exc:
        parse(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in ("--grpc-addr", "--metrics-addr", "--log-level", "--control-token-file", "--tokens-per-connection"):
        assert name in out
    assert "POLYARB_TOKENS_PER_CONNECTION" in out


def test_control_token_from_file_or_env(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("  s3cret-token\n")
    args = parse(["--control-token-file", str(token_file)])
    assert config.load_control_token(args, {"POLYARB_CONTROL_TOKEN": "other"}) == "s3cret-token"
    assert config.load_control_token(parse([]), {"POLYARB_CONTROL_TOKEN": " env-token "}) == "env-token"
    assert config.load_control_token(parse([]), {}) is None
    token_file.write_text("\n")
    with pytest.raises(config.ConfigError, match="empty"):
        config.load_control_token(args, {})
