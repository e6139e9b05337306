"""Execution against an in-test CLOB that checks HMAC and recovers the EIP-712 signer (real HTTP)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import pytest
from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_typed_data

from executor_svc.clob import ClobClient
from executor_svc.clob_auth import ApiCreds
from executor_svc.execution import Executor, make_identity
from executor_svc.journal import Journal
from executor_svc.orders import build_order, exchange_address
from executor_svc.signing import OrderSigner
from polyarb.v1 import common_pb2, executor_pb2

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
CREDS = ApiCreds("00000000-0000-4000-8000-000000000001", base64.urlsafe_b64encode(b"k" * 32).decode(), "pp")
TOKENS = ["1" * 77, "2" * 77, "3" * 77]
ORDER_TYPES = [{"name": n, "type": t} for n, t in (
    ("salt", "uint256"), ("maker", "address"), ("signer", "address"), ("tokenId", "uint256"),
    ("makerAmount", "uint256"), ("takerAmount", "uint256"), ("side", "uint8"), ("signatureType", "uint8"),
    ("timestamp", "uint256"), ("metadata", "bytes32"), ("builder", "bytes32"))]


def recover_signer(order: dict, neg_risk: bool) -> str:
    message = {**order, "side": 0 if order["side"] == "BUY" else 1}
    for name in ("salt", "tokenId", "makerAmount", "takerAmount", "timestamp"):
        message[name] = int(message[name])
    for name in ("metadata", "builder"):
        message[name] = bytes.fromhex(message[name][2:])
    typed = {"types": {"EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                                        {"name": "chainId", "type": "uint256"},
                                        {"name": "verifyingContract", "type": "address"}],
                       "Order": ORDER_TYPES},
             "primaryType": "Order",
             "domain": {"name": "Polymarket CTF Exchange", "version": "2", "chainId": 137,
                        "verifyingContract": exchange_address(137, neg_risk)},
             "message": {k: message[k] for k in (t["name"] for t in ORDER_TYPES)}}
    return Account.recover_message(encode_typed_data(full_message=typed), signature=order["signature"])


class FakeClob:
    """Checks L2 HMAC and every order's signature; answers as configured; counts every POST."""

    def __init__(self) -> None:
        self.posts: list[list[dict]] = []
        self.mode = "fill"  # fill | 500 | timeout | reject_one | html403
        self.hold = asyncio.Event()
        self.orders: dict[str, dict] = {}  # order hash -> venue order (for reconciliation)
        self.neg_risk = False

    async def post_orders(self, request: web.Request) -> web.Response:
        body = await request.read()
        h = request.headers
        message = h["POLY_TIMESTAMP"] + "POST" + "/orders" + body.decode()
        expected = base64.urlsafe_b64encode(hmac.new(CREDS.hmac_key, message.encode(), hashlib.sha256).digest())
        if h["POLY_SIGNATURE"] != expected.decode() or h["POLY_API_KEY"] != CREDS.api_key:
            return web.json_response({"error": "Unauthorized/Invalid api key"}, status=401)
        batch = json.loads(body)
        self.posts.append(batch)
        for entry in batch:
            if recover_signer(entry["order"], self.neg_risk) != entry["order"]["signer"]:
                return web.json_response({"error": "invalid signature"}, status=400)
        if self.mode == "500":
            return web.json_response({"error": "internal"}, status=500)
        if self.mode == "html403":
            return web.Response(text="<html>blocked in your region</html>", status=403, content_type="text/html")
        if self.mode == "timeout":
            for entry in batch:  # the venue did accept and match them; only the answer is lost
                self.orders[order_id(entry)] = {"status": "MATCHED", "size_matched": "10"}
            await self.hold.wait()
        replies = []
        for i, entry in enumerate(batch):
            if self.mode == "reject_one" and i == 1:
                replies.append({"success": False, "errorMsg": "not enough balance / allowance", "orderID": "",
                                "status": ""})
            else:
                # amounts as decimal text in pUSD and shares, like the venue's answers
                replies.append({"success": True, "errorMsg": "", "orderID": order_id(entry), "status": "matched",
                                "makingAmount": str(int(entry["order"]["makerAmount"]) / 1e6),
                                "takingAmount": "10"})
        return web.json_response(replies)

    async def get_order(self, request: web.Request) -> web.Response:
        found = self.orders.get(request.match_info["order_id"])
        return web.json_response(found) if found else web.json_response({"error": "not found"}, status=404)


def order_id(entry: dict) -> str:
    return "0x" + hashlib.sha256(entry["order"]["signature"].encode()).hexdigest()


@pytest.fixture
async def clob():
    fake = FakeClob()
    app = web.Application()
    app.router.add_post("/orders", fake.post_orders)
    app.router.add_get("/data/order/{order_id}", fake.get_order)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    fake.url = f"http://127.0.0.1:{port}"
    yield fake
    fake.hold.set()
    await runner.cleanup()


@pytest.fixture
async def executor(clob, tmp_path):
    journal = Journal(str(tmp_path / "journal.sqlite"))
    client = ClobClient(clob.url, CREDS, ADDRESS, 2000)
    core = Executor("paper", make_identity(KEY, 137, 0, None, CREDS.api_key), journal, client)
    core.set_trading(True, "test")
    core.ledger.replace(1000.0, {})
    yield core
    await client.close()
    journal.close()


def trio_signal(signal_id: str = "s-1", instance: str = "trio-1", price: float = 0.30) -> executor_pb2.Signal:
    return executor_pb2.Signal(
        signal_id=signal_id, instance_id=instance, strategy=executor_pb2.STRATEGY_TRIO, payout=2.0,
        expected_profit=2.0 - 3 * price, min_profit_abs=0.01,
        trace=common_pb2.Trace(signal_sent_ns=time.time_ns()),
        legs=[executor_pb2.Leg(token_id=t, side=executor_pb2.SIDE_BUY, price=price, size=10, tick_size=0.01,
                               min_order_size=5) for t in TOKENS])


async def run(core: Executor, signal: executor_pb2.Signal) -> executor_pb2.TradeResult:
    decision = core.accept(signal, time.time_ns())
    assert not hasattr(decision, "reason"), decision
    finished: asyncio.Future = asyncio.get_running_loop().create_future()
    core.start(decision, signal, time.time_ns(), finished.set_result)
    return await asyncio.wait_for(finished, 10)


async def test_filled_batch_is_one_post_verified_by_the_venue(clob, executor):
    result = await run(executor, trio_signal())
    assert len(clob.posts) == 1 and len(clob.posts[0]) == 3
    assert result.outcome == executor_pb2.OUTCOME_FILLED and result.seq == 1 and result.mode == "paper"
    assert [leg.filled_size for leg in result.legs] == [10, 10, 10]
    assert all(leg.order_hash.startswith("0x") and len(leg.order_hash) == 66 for leg in result.legs)
    assert result.trace.executor_recv_ns and result.trace.signed_ns and result.trace.posted_ns
    assert result.trace.response_ns >= result.trace.posted_ns
    assert result.cost == pytest.approx(3 * 10 * 0.31)  # 1 tick of slippage, no fees
    assert executor.ledger.reserved() == 0 and executor.ledger.collateral == pytest.approx(1000 - result.cost)
    assert executor.ledger.inventory == {t: 10 for t in TOKENS}
    assert not executor.in_flight


def test_tampered_amount_is_rejected_by_the_venue_check():
    """The check the fake venue makes can fail: change an amount after signing and the signer differs."""
    core_entry = {"order": {"salt": 1, "maker": ADDRESS, "signer": ADDRESS, "tokenId": TOKENS[0],
                            "makerAmount": "3000000", "takerAmount": "10000000", "side": "BUY",
                            "signatureType": 0, "timestamp": "1", "metadata": "0x" + "00" * 32,
                            "builder": "0x" + "00" * 32}}
    order = build_order(side=0, token_id=TOKENS[0], price=0.3, size=10, tick_size=0.01, maker=ADDRESS,
                        signer=ADDRESS, signature_type=0, salt=1, timestamp_ms=1)
    signed = OrderSigner(KEY).sign(order, neg_risk=False)
    core_entry["order"]["signature"] = signed.signature
    assert recover_signer(core_entry["order"], False) == ADDRESS
    core_entry["order"]["makerAmount"] = "3000001"
    assert recover_signer(core_entry["order"], False) != ADDRESS


@pytest.mark.parametrize("mode", ["500", "timeout"])
async def test_5xx_and_timeout_are_unknown_never_reposted(clob, executor, mode):
    clob.mode = mode
    executor.set_config(executor_pb2.ExecutorConfig(**{**_config(executor), "http_timeout_ms": 300}))
    result = await run(executor, trio_signal())
    assert result.outcome == executor_pb2.OUTCOME_UNKNOWN and result.error
    assert all(leg.order_hash for leg in result.legs)
    await asyncio.sleep(0.5)
    assert len(clob.posts) == 1  # never re-posted
    assert executor.ledger.reserved() > 0  # an unknown outcome keeps its reservation
    assert {p.order_hash for p in executor.journal.unresolved()} == {leg.order_hash for leg in result.legs}


async def test_unknown_outcome_is_reconciled_from_the_venue(clob, executor):
    clob.mode = "timeout"
    executor.set_config(executor_pb2.ExecutorConfig(**{**_config(executor), "http_timeout_ms": 300}))
    unknown = await run(executor, trio_signal())
    for leg in unknown.legs:  # what the venue knows, by order hash
        clob.orders[leg.order_hash] = {"status": "MATCHED", "size_matched": "10"}
    assert await executor.reconcile_once() == 1
    (reconciled,) = executor.journal.read_after(unknown.seq)
    assert reconciled.outcome == executor_pb2.OUTCOME_FILLED and reconciled.reconciles_seq == unknown.seq
    assert executor.ledger.reserved() == 0 and executor.ledger.inventory == {t: 10 for t in TOKENS}
    assert executor.journal.unresolved() == []
    assert await executor.reconcile_once() == 0
    assert len(clob.posts) == 1


async def test_one_leg_rejected_is_partial_with_leg_risk(clob, executor):
    clob.mode = "reject_one"
    result = await run(executor, trio_signal())
    assert result.outcome == executor_pb2.OUTCOME_PARTIAL and result.leg_risk
    assert [leg.filled_size for leg in result.legs] == [10, 0, 10]
    assert result.legs[1].error == "not enough balance / allowance"
    assert executor.ledger.inventory == {TOKENS[0]: 10, TOKENS[2]: 10}


async def test_breaker_opens_after_n_failures_and_closes_only_by_a_person(clob, executor):
    clob.mode = "500"
    for i in range(3):
        await run(executor, trio_signal(f"s-{i}", f"trio-{i}"))
    assert executor.breaker.is_open and executor.trading_state().circuit_open
    denied = executor.accept(trio_signal("s-9", "trio-9"), time.time_ns())
    assert str(denied.reason) == "circuit_open"
    assert len(clob.posts) == 3
    executor.set_trading(True, "checked the venue")
    assert not executor.breaker.is_open


async def test_html_403_is_a_config_error_that_opens_the_circuit_at_once(clob, executor):
    clob.mode = "html403"
    result = await run(executor, trio_signal())
    assert result.outcome == executor_pb2.OUTCOME_REJECTED and "403" in result.error
    assert executor.breaker.is_open and executor.ledger.reserved() == 0


async def test_signal_for_an_instance_in_flight_is_skipped(clob, executor):
    clob.mode = "timeout"
    first = executor.accept(trio_signal("a", "trio-1"), time.time_ns())
    assert not hasattr(first, "reason")
    second = executor.accept(trio_signal("b", "trio-1"), time.time_ns())
    assert str(second.reason) == "in_flight"
    executor.ledger.release("a")


async def test_dry_run_signs_posts_nothing_and_fills_at_signal_prices(clob, tmp_path):
    journal = Journal(str(tmp_path / "dry.sqlite"))
    core = Executor("dry-run", make_identity(KEY, 137, 0, None, CREDS.api_key), journal, None)
    core.set_trading(True, "test")
    core.ledger.replace(1000.0, {})
    result = await run(core, trio_signal())
    assert result.outcome == executor_pb2.OUTCOME_DRY_RUN and result.mode == "dry-run"
    assert [leg.avg_price for leg in result.legs] == [0.30] * 3 and all(leg.order_hash for leg in result.legs)
    assert result.cost == pytest.approx(3 * 10 * 0.30)  # filled at the signal's prices
    assert clob.posts == []
    journal.close()


def _config(core: Executor) -> dict:
    return {f.name: getattr(core.config, f.name) for f in core.config.DESCRIPTOR.fields}


async def test_a_result_the_journal_cannot_store_stops_trading(clob, executor):
    executor.journal.close()  # any later append fails
    decision = executor.accept(trio_signal(), time.time_ns())
    done = []
    executor.start(decision, trio_signal(), time.time_ns(), done.append)
    await executor.drain(5)
    assert done == []  # no "done" for a result that is not durable
    assert not executor.trading_enabled and "journal" in executor.trading_reason
    assert executor.ledger.reserved() > 0  # what it may have spent stays reserved


async def test_unknown_batch_holds_its_instance_and_not_found_settles_only_after_the_grace(clob, executor):
    clob.mode = "500"  # answered 5xx: the venue may or may not have it; here it never heard of it
    executor.not_found_grace_ns = 400_000_000
    settled = []
    executor.settled_listeners.add(settled.append)
    unknown = await run(executor, trio_signal("a", "trio-1"))
    assert unknown.outcome == executor_pb2.OUTCOME_UNKNOWN
    denied = executor.accept(trio_signal("b", "trio-1"), time.time_ns())
    assert str(denied.reason) == "outcome_unknown"  # no new exposure on that instance
    assert not hasattr(executor.accept(trio_signal("c", "trio-2"), time.time_ns()), "reason")  # others trade
    executor.ledger.release("c")
    executor.in_flight.clear()
    assert [(b.seq, b.instance_id) for b in executor.unknown_batches(time.time_ns())] == [(unknown.seq, "trio-1")]

    assert await executor.reconcile_once() == 0  # "not found" right after the POST is no proof
    assert executor.unknown.instances() and executor.ledger.reserved() > 0 and settled == []
    await asyncio.sleep(0.45)
    assert await executor.reconcile_once() == 1  # past the grace: the batch never reached the venue
    (result,) = settled
    assert result.outcome == executor_pb2.OUTCOME_REJECTED and result.reconciles_seq == unknown.seq
    assert {leg.status for leg in result.legs} == {"not_found"}
    assert executor.ledger.reserved() == 0 and executor.ledger.collateral == 1000.0 and not executor.unknown
    assert not hasattr(executor.accept(trio_signal("d", "trio-1"), time.time_ns()), "reason")
    assert len(clob.posts) == 1


async def test_a_found_leg_proves_the_batch_arrived_so_its_missing_legs_are_final_at_once(clob, executor):
    clob.mode = "500"
    unknown = await run(executor, trio_signal())
    clob.orders[unknown.legs[0].order_hash] = {"status": "MATCHED", "size_matched": "10"}
    assert await executor.reconcile_once() == 1  # the grace (30 s) need not pass
    (settled,) = executor.journal.read_after(unknown.seq)
    assert settled.outcome == executor_pb2.OUTCOME_PARTIAL and settled.leg_risk
    assert [leg.status for leg in settled.legs] == ["matched", "not_found", "not_found"]


async def test_a_restarted_executor_keeps_the_unknown_batch_held_and_reserved(clob, executor, tmp_path):
    clob.mode = "500"
    unknown = await run(executor, trio_signal("a", "trio-1"))
    reserved = executor.ledger.reserved()
    restarted = Executor("paper", executor.identity, executor.journal, executor.clob)
    restarted.set_trading(True, "test")
    restarted.ledger.replace(1000.0, {})
    assert restarted.recover_orphans() == 0
    assert restarted.ledger.reserved() == pytest.approx(reserved)  # rebuilt from the journaled legs
    assert [b.seq for b in restarted.unknown.batches()] == [unknown.seq]
    assert str(restarted.accept(trio_signal("b", "trio-1"), time.time_ns()).reason) == "outcome_unknown"


async def test_reconcile_forever_settles_a_matched_batch_at_its_first_probe(clob, executor):
    clob.mode = "timeout"
    executor.set_config(executor_pb2.ExecutorConfig(**{**_config(executor), "http_timeout_ms": 300}))
    settled = []
    executor.settled_listeners.add(settled.append)
    loop = asyncio.create_task(executor.reconcile_forever())
    try:
        unknown = await run(executor, trio_signal())
        for leg in unknown.legs:  # the venue matched it; only the answer was lost
            clob.orders[leg.order_hash] = {"status": "MATCHED", "size_matched": "10"}
        started = time.monotonic()
        while not settled:
            assert time.monotonic() - started < 10, "never settled"
            await asyncio.sleep(0.02)
    finally:
        loop.cancel()
    assert settled[0].reconciles_seq == unknown.seq and settled[0].outcome == executor_pb2.OUTCOME_FILLED
    assert not executor.unknown and executor.ledger.reserved() == 0


async def test_the_request_is_written_inside_start_and_a_bug_after_it_is_unknown_not_rejected(
        clob, executor, monkeypatch):
    await run(executor, trio_signal("warm", "trio-0"))  # leaves a warm connection
    written = []
    send_now = executor.clob._poster.send_now
    monkeypatch.setattr(executor.clob._poster, "send_now", lambda *a: written.append(send_now(*a)) or written[-1])

    def broken(*args):
        raise RuntimeError("a bug reading the answer")

    monkeypatch.setattr("executor_svc.clob.classify_batch_response", broken)
    decision = executor.accept(trio_signal("s-2", "trio-2"), time.time_ns())
    finished: asyncio.Future = asyncio.get_running_loop().create_future()
    executor.start(decision, trio_signal("s-2", "trio-2"), time.time_ns(), finished.set_result)
    assert len(written) == 1 and written[0] is not None  # on the wire before start returned
    result = await asyncio.wait_for(finished, 10)
    assert len(clob.posts) == 2  # the venue has it, and matched it
    assert result.outcome == executor_pb2.OUTCOME_UNKNOWN and "a bug reading the answer" in result.error
    assert all(leg.order_hash for leg in result.legs) and executor.ledger.reserved() > 0  # reconciled, kept
