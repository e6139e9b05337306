"""The Executor gRPC servicer: a thin shell over execution (plan, sign, post, journal) and control."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time

import grpc
from grpc import aio

from executor_svc.balance import BalancePoller, Funds, balance_gate, balance_status, export_metrics
from executor_svc.clob import ClobClient
from executor_svc.clob_auth import ApiCreds
from executor_svc.deny import Denial
from executor_svc.execution import Executor, make_identity
from executor_svc.journal import Journal, JournalError
from executor_svc.keys import SigningKey
from executor_svc.ledger import LedgerError
from executor_svc.portfolio import Portfolio
from executor_svc.portfolio_feed import PortfolioFeed
from executor_svc.settings import validate_config
from polyarb.runtime.config import ConfigError
from polyarb.runtime.metrics import ErrorCounter
from polyarb.runtime.server import Registration, ServiceApp, service_info, status_details
from polyarb.v1 import common_pb2, executor_pb2, executor_pb2_grpc

log = logging.getLogger("executor")
errors = ErrorCounter("executor")
LAST_RESULTS = 10


def _done_ack(result: executor_pb2.TradeResult) -> executor_pb2.SignalAck:
    return executor_pb2.SignalAck(signal_id=result.signal_id, accepted=True, done=True, outcome=result.outcome,
                                  result_seq=result.seq)


class ExecutorServicer(executor_pb2_grpc.ExecutorServicer):
    def __init__(self, core: Executor, clob_url: str, auth_required: bool, portfolio: Portfolio | None = None,
                 funds: Funds | None = None) -> None:
        self.core = core
        self.clob_url = clob_url
        self.auth_required = auth_required
        self.portfolio = portfolio if portfolio is not None else Portfolio(core.mode)
        self.funds = funds or Funds(polling=False, started_s=time.monotonic())

    async def ExecuteSignals(self, request_iterator, context):
        """Acks are written straight onto the stream (context.write), never through a queue: a signal's
        orders are signed and their POST started before its "accepted" ack is written, so the ack costs
        the trade nothing. Writes are serialised by a lock (one write in flight per stream)."""
        core = self.core
        lock = asyncio.Lock()
        writes: set[asyncio.Task] = set()
        executing = 0  # signals of this stream whose outcome has not been acked yet
        idle = asyncio.Event()
        idle.set()

        async def write(ack: executor_pb2.SignalAck) -> None:
            async with lock:
                await context.write(ack)

        def write_later(ack: executor_pb2.SignalAck) -> None:
            task = asyncio.ensure_future(write(ack))
            writes.add(task)
            task.add_done_callback(_written)

        def _written(task: asyncio.Task) -> None:
            writes.discard(task)
            if not task.cancelled() and task.exception() is not None:
                errors("signal_stream", "ack not written: the stream is gone", error=repr(task.exception())[:200])

        def done(result: executor_pb2.TradeResult) -> None:
            nonlocal executing
            executing -= 1
            if not executing:
                idle.set()
            write_later(_done_ack(result))

        def settled(result: executor_pb2.TradeResult) -> None:
            write_later(_done_ack(result))  # an UNKNOWN batch settled: its engine may trade the instance again

        core.settled_listeners.add(settled)
        try:
            async for signal in request_iterator:
                recv_ns = time.time_ns()
                decision = core.accept(signal, recv_ns)
                if isinstance(decision, Denial):
                    await write(executor_pb2.SignalAck(signal_id=signal.signal_id, accepted=False,
                                                       reason=str(decision.reason)))
                    continue
                executing += 1
                idle.clear()
                core.start(decision, signal, recv_ns, done)  # the request is on the wire when this returns
                await write(executor_pb2.SignalAck(signal_id=signal.signal_id, accepted=True))
            # the engine closed its side: keep answering until this stream's accepted signals are done
            await idle.wait()
            while writes:
                await asyncio.gather(*writes, return_exceptions=True)
        except aio.AbortError:
            raise
        except Exception as exc:  # the request stream failed: end this stream (its executions go on)
            errors("signal_stream", "signal stream failed", error=repr(exc)[:200])
        finally:
            core.settled_listeners.discard(settled)

    async def SetTradingEnabled(self, request, context):
        self.core.set_trading(request.enabled, request.reason)
        log.warning("trading switched", extra={"enabled": request.enabled, "reason": request.reason})
        return self.core.trading_state()

    async def UpdateBalance(self, request, context):
        try:
            figure = self.funds.on_push(self.core.ledger, request.collateral, dict(request.inventory), time.monotonic())
            if figure.collateral < request.collateral:  # never past the wallet: sized with the CLOB's figure
                log.warning("pushed collateral above the CLOB's balance: sizing with the CLOB's" if figure.known
                            else "no CLOB balance (yet, or for 30 s): the push is a budget, trading waits for a poll",
                            extra={"pushed": request.collateral, "sizing": figure.collateral})
        except LedgerError as exc:
            errors("bad_balance", "balance refused", reason=status_details(str(exc)))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, status_details(str(exc)))
        return self.core.balance_state()

    async def UpdateConfig(self, request, context):
        try:
            config = validate_config(request)
        except ConfigError as exc:
            errors("bad_config", "config refused", reason=status_details(str(exc)))
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, status_details(str(exc)))
        self.core.set_config(config)
        return config

    async def StreamTradeResults(self, request, context):
        try:
            async for result in self.core.journal.subscribe(request.from_seq):
                yield result
        except JournalError as exc:
            errors("journal", "trade-result stream failed", level=logging.ERROR, error=str(exc))
            await context.abort(grpc.StatusCode.UNAVAILABLE, "journal unavailable")

    async def GetStatus(self, request, context):
        core = self.core
        clob = core.clob
        peers = []
        if clob is not None:
            peers.append(common_pb2.PeerState(name="clob", address=self.clob_url, connected=clob.connected,
                                              last_error=clob.last_error))
        return executor_pb2.ExecutorStatus(
            trading=core.trading_state(),
            balance=core.balance_state(),
            config=core.config,
            in_flight=len(core.in_flight),
            last_seq=core.journal.last_seq(),
            info=service_info("executor", core.mode, self.auth_required),
            peers=peers,
            last_results=core.journal.last_results(LAST_RESULTS),
            signer_address=core.identity.signer.address,
            consecutive_failures=core.breaker.consecutive_failures,
            unknown_batches=core.unknown_batches(time.time_ns()),
            in_flight_instance_ids=sorted(core.in_flight),
            portfolio=self.portfolio.to_proto(core.ledger.exposure(), core.config.max_exposure),
            **balance_status(self.funds, time.monotonic()),
        )


async def build_app(args: argparse.Namespace, token: str | None, key: SigningKey | None,
                    creds: ApiCreds | None) -> ServiceApp:
    if key is None:  # dry-run only (__main__ refuses paper/live without a key): sign with a throwaway key
        key_bytes = os.urandom(32)
        log.warning("dry-run without --private-key-file: signing with a throwaway key")
    else:
        key_bytes = key.key
    identity = make_identity(key_bytes, args.chain_id, int(args.signature_type), args.funder,
                             creds.api_key if creds else "00000000-0000-0000-0000-000000000000")
    journal = Journal(args.journal)
    clob = None
    core = Executor(args.mode, identity, journal, clob)
    core.not_found_grace_ns = int(args.not_found_grace_s * 1e9)
    portfolio = Portfolio(args.mode)
    feed = PortfolioFeed(journal, portfolio, lambda: core.ledger.exposure())
    poll_s = getattr(args, "balance_poll_s", 0.0)
    funds = Funds(polling=args.mode != "dry-run" and poll_s > 0, started_s=time.monotonic())
    export_metrics(funds)
    servicer = ExecutorServicer(core, args.clob_url, bool(token), portfolio, funds)
    reconciler: asyncio.Task | None = None
    poller: BalancePoller | None = None

    async def start() -> None:
        nonlocal reconciler, poller
        core.recover_orphans()  # before serving: a batch a killed process was posting is not forgotten
        feed.catch_up()  # before serving too: a restarted executor shows the same figures at once
        feed.start()
        if args.mode != "dry-run":
            core.clob = ClobClient(args.clob_url, creds, identity.signer.address, core.config.http_timeout_ms)
            reconciler = asyncio.create_task(core.reconcile_forever())
        if funds.polling:
            core.balance_gate = balance_gate(funds, time.monotonic)
            poller = BalancePoller(funds, core.ledger, args.clob_url, creds, identity.signer.address,
                                   int(args.signature_type), poll_s, journal.last_seq)
            poller.start()

    async def stop() -> None:
        core.set_trading(False, "shutting down")
        await core.drain(timeout_s=args.grace_s)
        if poller is not None:
            await poller.stop()
        if reconciler is not None:
            reconciler.cancel()
        if core.clob is not None:
            await core.clob.close()
        await feed.stop()
        journal.close()

    return ServiceApp(
        name="executor",
        mode=args.mode,
        registrations=[
            Registration(executor_pb2_grpc.add_ExecutorServicer_to_server, servicer, "polyarb.v1.Executor")
        ],
        start=start,
        stop=stop,
        extra={"clob_url": args.clob_url, "journal": args.journal},
    )
