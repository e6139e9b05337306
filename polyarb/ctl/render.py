"""Messages → the lines a person reads (pure: the clock, where needed, is passed in)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from google.protobuf.message import Message

from polyarb.v1 import common_pb2, engine_pb2, executor_pb2, ingest_pb2, venue_pb2

__all__ = [
    "balance_lines",
    "config_lines",
    "portfolio_lines",
    "result_line",
    "status_lines",
    "structure_line",
    "trading_line",
    "unreachable_lines",
]


def _header(service: str, addr: str, info: common_pb2.ServiceInfo) -> str:
    auth = "auth on" if info.auth_required else "auth OFF"
    return f"{service:<9}{addr}  v{info.version or '?'}  up {_duration(info.uptime_s)}  mode {info.mode or '-'}  {auth}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def _peer(peer: common_pb2.PeerState) -> str:
    state = "connected" if peer.connected else "DISCONNECTED"
    extra = f", {peer.reconnects} reconnects" if peer.reconnects else ""
    error = f", last error: {peer.last_error}" if peer.last_error and not peer.connected else ""
    return f"{peer.name} {peer.address or '-'} {state}{extra}{error}"


def _enum_word(name: str, prefix: str) -> str:
    return name.removeprefix(prefix).lower()


def strategy_word(value: int) -> str:
    return _enum_word(executor_pb2.Strategy.Name(value), "STRATEGY_") if value in executor_pb2.Strategy.values() \
        else str(value)


def outcome_word(value: int) -> str:
    return _enum_word(executor_pb2.Outcome.Name(value), "OUTCOME_").upper() if value in executor_pb2.Outcome.values() \
        else str(value)


def trading_line(state: executor_pb2.TradingState) -> str:
    switch = "ENABLED" if state.enabled else "disabled"
    circuit = "circuit OPEN" if state.circuit_open else "circuit closed"
    reason = f"  reason: {state.reason}" if state.reason else ""
    return f"trading {switch}, {circuit}, mode {state.mode or '-'}{reason}"


def balance_lines(balance: executor_pb2.BalanceState) -> list[str]:
    lines = [f"collateral {balance.collateral:.6f} pUSD, reserved {balance.reserved:.6f}, "
             f"{len(balance.inventory)} token(s) held"]
    lines += [f"  {token}  {shares:g}" for token, shares in sorted(balance.inventory.items())]
    return lines


def balance_source_lines(s: executor_pb2.ExecutorStatus) -> list[str]:
    """Where the collateral figure comes from (issue 16): pushed, the CLOB's, or unknown; none from an
    executor that does not say."""
    if not s.balance_source:
        return []
    source = executor_pb2.BalanceSource.Name(s.balance_source).removeprefix("BALANCE_SOURCE_").lower()
    figures = s.balance_figures
    parts = [f"sized from {source}, {s.balance_age_s:.1f} s old"]
    if figures.polling:
        parts.append(f"CLOB {figures.clob_collateral:.6f} pUSD, allowance {figures.clob_allowance:g}"
                     if figures.clob_age_s >= 0 else "CLOB not read yet")
    if figures.pushed_age_s >= 0:
        parts.append(f"pushed {figures.pushed_collateral:.6f}")
    lines = ["; ".join(parts)]
    if figures.last_error:
        lines.append(f"last balance poll failed: {figures.last_error}")
    return lines


def config_lines(config: Message) -> list[str]:
    return [f"{field.name} = {_value(getattr(config, field.name))}" for field in config.DESCRIPTOR.fields]


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def structure_line(response: engine_pb2.UpdateMarketStructureResponse) -> str:
    return f"structure v{response.version} in force: {response.instances} instance(s), {response.tokens} token(s)"


def result_line(result: executor_pb2.TradeResult) -> str:
    when = _utc(result.recorded_ns) if result.recorded_ns else "-"
    parts = [
        f"#{result.seq}",
        when,
        outcome_word(result.outcome),
        strategy_word(result.strategy),
        result.instance_id or "-",
        f"legs {len(result.legs)}",
        f"cost {result.cost:.6f}",
        f"pnl {result.expected_pnl:+.6f}",
        result.mode or "-",
    ]
    if result.leg_risk:
        parts.append("LEG-RISK")
    if result.reconciles_seq:
        parts.append(f"reconciles #{result.reconciles_seq}")
    if result.error:
        parts.append(f"error: {result.error}")
    return "  ".join(parts)


def _utc(ns: int) -> str:
    moment = datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def unreachable_lines(service: str, addr: str, error: str) -> list[str]:
    return [f"{service:<9}{addr}  {error}"]


def status_lines(service: str, addr: str, status: Message, now_ns: int) -> list[str]:
    """The GetStatus answer of `service` as a header line and a few indented lines."""
    if isinstance(status, ingest_pb2.IngestStatus):
        return _ingest(addr, status)
    if isinstance(status, engine_pb2.EngineStatus):
        return _engine(addr, status, now_ns)
    if isinstance(status, executor_pb2.ExecutorStatus):
        return _executor(addr, status)
    if isinstance(status, venue_pb2.VenueStatus):
        return _venue(addr, status)
    raise TypeError(f"no rendering for {type(status).__name__} of {service}")


def _ingest(addr: str, s: ingest_pb2.IngestStatus) -> list[str]:
    age = "no frame yet" if s.last_frame_age_s < 0 else f"last frame {s.last_frame_age_s:.1f}s ago"
    lines = [
        _header("ingest", addr, s.info),
        f"  ws {s.ws_url or '-'}: {s.connections} connection(s), {s.subscribed_tokens} token(s) "
        f"({s.stale_tokens} stale), {age}, {s.messages_per_s:.1f} msg/s, {s.streams} stream(s)",
    ]
    return lines + _indented(_peer(p) for p in s.sockets)


def _engine(addr: str, s: engine_pb2.EngineStatus, now_ns: int) -> list[str]:
    signals = ", ".join(f"{name} {count}" for name, count in sorted(s.signals_by_strategy.items())) or "none"
    evaluated = (
        f"last evaluation {max(0.0, (now_ns - s.last_evaluation_ns) / 1e9):.1f}s ago"
        if s.last_evaluation_ns else "no evaluation yet"
    )
    lines = [
        _header("engine", addr, s.info),
        f"  structure v{s.structure_version}: {s.instances} instance(s), {s.tokens} token(s) ({s.stale_tokens} stale)",
        f"  signals: {signals}; in flight {s.in_flight}; skipped acks {s.skipped_acks}; {evaluated}",
    ]
    if s.peers:
        return lines + _indented(_peer(p) for p in s.peers)
    links = (("ingest", s.ingest_connected), ("executor", s.executor_connected))
    return lines + [f"  {name} {'connected' if up else 'DISCONNECTED'}" for name, up in links]


def _executor(addr: str, s: executor_pb2.ExecutorStatus) -> list[str]:
    lines = [
        _header("executor", addr, s.info),
        f"  {trading_line(s.trading)}",
        f"  {balance_lines(s.balance)[0]}",
        *_indented(balance_source_lines(s)),
        f"  in flight {s.in_flight}, last seq {s.last_seq}, consecutive failures {s.consecutive_failures}, "
        f"signer {s.signer_address or 'none'}",
    ]
    if s.HasField("portfolio"):
        p = s.portfolio
        lines.append(f"  exposure {p.exposure:.6f} of {p.max_exposure:g} pUSD, {len(p.positions)} position(s), "
                     f"pnl expected {p.expected_pnl:+.6f} realized {p.realized_pnl:+.6f} (polyarbctl pnl)")
    lines += _indented(_peer(p) for p in s.peers)
    if s.last_results:
        lines.append(f"  last result: {result_line(s.last_results[-1])}")
    return lines


def _venue(addr: str, s: venue_pb2.VenueStatus) -> list[str]:
    return [
        _header("venue", addr, s.info),
        f"  scenario {s.scenario or '-'}; ws {s.ws_addr or '-'} ({s.ws_clients} client(s)), http {s.http_addr or '-'}",
        f"  {s.tokens} token(s), {s.frames_sent} frame(s) sent, {s.orders_received} order(s) received, "
        f"{s.orders_filled} filled",
    ]


def portfolio_lines(p: executor_pb2.Portfolio) -> list[str]:
    """`polyarbctl pnl`: exposure, PnL per strategy, then positions."""
    cap = f"{p.exposure / p.max_exposure:.0%} of " if p.max_exposure else ""
    lines = [
        f"exposure {p.exposure:.6f} pUSD ({cap}cap {p.max_exposure:g}); unknown outcomes {p.unknown_results} "
        f"at stake {p.unknown_exposure:.6f}; journal through #{p.through_seq}",
        f"pnl expected {p.expected_pnl:+.6f}  realized {p.realized_pnl:+.6f} pUSD",
    ]
    if p.other_mode_results:
        lines.append(f"  ({p.other_mode_results} result(s) journaled in another mode not counted)")
    lines.append(f"strategies: {len(p.strategies)}" if p.strategies else "strategies: none traded")
    for s in p.strategies:
        risk = f"  leg risk {s.leg_risk_results}" if s.leg_risk_results else ""
        lines.append(f"  {strategy_word(s.strategy):<17}results {s.results:<5} cost {s.cost:>14.6f}  "
                     f"expected {s.expected_pnl:+.6f}  realized {s.realized_pnl:+.6f}{risk}")
    shown = f" (the {len(p.positions)} largest by cost)" if p.positions_total > len(p.positions) else ""
    lines.append(f"positions: {p.positions_total}{shown}" if p.positions else "positions: none")
    for pos in p.positions:
        lines.append(f"  {pos.token_id}  {pos.shares:g} shares  avg {pos.avg_cost:.6f}  cost {pos.cost_basis:.6f}")
    return lines


def _indented(lines: Iterable[str]) -> list[str]:
    return [f"  {line}" for line in lines]
