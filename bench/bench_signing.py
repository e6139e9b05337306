"""µs per signed CLOB V2 order: our fast path vs py-clob-client-v2 vs plain eth-account; µs per L2 header.

Same inputs for all three (64 orders over both sides, every tick, neg-risk on and off, salt and
clock fixed). Before timing anything, ``check_identical`` proves the bytes equal for every input: the
three signatures, the amounts, each POST /order body and POST /orders batches of three, byte for
byte against py-clob-client-v2's own serialisation (``order_to_json_v2`` + its ``json.dumps``), and
the L2 headers; a difference raises SigningMismatch (not an ``assert``, which ``python -O`` drops)
and nothing is timed.
The signing contenders are timed in alternating rounds, so load from other processes hits them alike.

    .venv/bin/python -m bench.bench_signing [--quick]

run(quick) returns {name: {"unit", "p50", "p99", "mean", "n"}}. Not in --quick: ``sign_3_legs_idle.*``,
three legs signed after 0.1 s idle (30 samples each), what the low-rate macro path sees.
"""

from __future__ import annotations

import argparse
import functools
import time
import types
from collections.abc import Callable
from decimal import Decimal
from unittest import mock

from bench.stats import summarize
from executor_svc.clob_auth import ApiCreds, l2_headers
from executor_svc.orders import (
    ROUNDING_CONFIG,
    OrderSide,
    batch_body,
    build_order,
    exchange_address,
    order_body,
    order_to_wire,
)
from executor_svc.signing import OrderSigner, reference_signature

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")  # public hardhat key
CHAIN_ID = 137
SALT = 479249096354
TIMESTAMP_MS = 1713398400000
SECRET = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
OWNER = "00000000-0000-0000-0000-000000000000"


def _inputs(count: int = 64) -> list[dict]:
    ticks = list(ROUNDING_CONFIG)
    cases = []
    for i in range(count):
        tick = ticks[i % len(ticks)]
        steps = round(1 / Decimal(tick))
        cases.append(
            {
                "side": OrderSide(i % 2),
                "tick": tick,
                "price": float((1 + (i * 7919) % (steps - 1)) * Decimal(tick)),
                "size": round(5 + i * 3.37, 2),
                "neg_risk": bool(i // 2 % 2),
                "token_id": str(10**70 + i * 104729),
            }
        )
    return cases


def _ours(signer: OrderSigner, case: dict):
    order = build_order(
        side=case["side"], token_id=case["token_id"], price=case["price"], size=case["size"],
        tick_size=float(case["tick"]), maker=signer.address, signer=signer.address, signature_type=0,
        salt=SALT, timestamp_ms=TIMESTAMP_MS,
    )
    return signer.sign(order, neg_risk=case["neg_risk"])


def _pcc2_builder():
    """A PCC2 OrderBuilder whose salt and clock are fixed (see tests/executor/test_signing.py)."""
    from py_clob_client_v2.order_builder import builder as pcc_builder
    from py_clob_client_v2.order_utils.exchange_order_builder_v2 import ExchangeOrderBuilderV2
    from py_clob_client_v2.signer import Signer

    fixed_clock = types.SimpleNamespace(time_ns=lambda: TIMESTAMP_MS * 1_000_000)
    patches = (
        mock.patch.object(pcc_builder, "time", fixed_clock),
        mock.patch.object(
            pcc_builder, "ExchangeOrderBuilderV2",
            functools.partial(ExchangeOrderBuilderV2, generate_salt=lambda: str(SALT)),
        ),
    )
    return pcc_builder.OrderBuilder(Signer("0x" + KEY.hex(), CHAIN_ID)), patches


def _pcc2_sign(builder, case: dict):
    from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2

    args = OrderArgsV2(
        token_id=case["token_id"], price=case["price"], size=case["size"], side=case["side"].name
    )
    return builder.build_order(args, CreateOrderOptions(tick_size=case["tick"], neg_risk=case["neg_risk"]))


class SigningMismatch(RuntimeError):
    """Our signed order bytes differ from py-clob-client-v2's for the same inputs: timings would mean nothing."""


def _pcc2_body(payload) -> bytes:
    """The bytes py-clob-client-v2's post_order / post_orders put on the wire (client.py)."""
    import json

    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def check_identical(signer: OrderSigner, pcc, cases: list[dict]) -> int:
    """Every case signed both ways, compared byte for byte; SigningMismatch at the first difference.
    Call with the PCC2 salt and clock patches active. Returns how many comparisons were made."""
    from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2

    checked = 0

    def same(what: str, ours, theirs, case: dict) -> None:
        nonlocal checked
        checked += 1
        if ours != theirs:
            raise SigningMismatch(f"{what} differs from py-clob-client-v2 for {case}:\n ours   {ours!r}\n pcc2   "
                                  f"{theirs!r}")

    wires, pcc_payloads = [], []
    for case in cases:
        ours = _ours(signer, case)
        domain = signer.domain(case["neg_risk"])
        theirs = _pcc2_sign(pcc, case)
        same("exchange address", exchange_address(CHAIN_ID, case["neg_risk"]), domain.verifying_contract, case)
        same("signature", ours.signature, theirs.signature, case)
        same("signature (eth-account)", ours.signature, reference_signature(ours.order, domain, KEY), case)
        same("amounts", (ours.order.maker_amount, ours.order.taker_amount),
             (int(theirs.makerAmount), int(theirs.takerAmount)), case)
        wire = order_to_wire(ours.order, ours.signature, OWNER, "FOK")
        payload = order_to_json_v2(theirs, OWNER, "FOK", False, False)
        same("POST /order body", order_body(wire), _pcc2_body(payload), case)
        wires.append(wire)
        pcc_payloads.append(payload)
    for i in range(0, len(wires) - 2, 3):  # the executor's shape: one batch of three legs
        same("POST /orders body", batch_body(wires[i:i + 3]), _pcc2_body(pcc_payloads[i:i + 3]), cases[i])
    return checked


def _time_us(fn: Callable[[dict], object], cases: list[dict], n: int, warmup: int) -> dict:
    for i in range(warmup):
        fn(cases[i % len(cases)])
    samples = []
    clock = time.perf_counter_ns
    for i in range(n):
        case = cases[i % len(cases)]
        start = clock()
        fn(case)
        samples.append((clock() - start) / 1000)
    return summarize(samples, "us")


def _time_side_by_side(steps: dict[str, tuple[Callable[[dict], object], int]], cases: list[dict],
                       warmup: int, rounds: int) -> dict[str, dict]:
    """Each step's n calls split over `rounds` rounds that alternate between the steps, so a noisy
    neighbour slows every contender alike and their ratio holds (this machine is shared)."""
    for fn, _ in steps.values():
        for i in range(warmup):
            fn(cases[i % len(cases)])
    samples: dict[str, list[float]] = {name: [] for name in steps}
    clock = time.perf_counter_ns
    for r in range(rounds):
        for name, (fn, n) in steps.items():
            out = samples[name]
            for i in range(r * n // rounds, (r + 1) * n // rounds):
                case = cases[i % len(cases)]
                start = clock()
                fn(case)
                out.append((clock() - start) / 1000)
    return {name: summarize(values, "us") for name, values in samples.items()}


IDLE_GAP_S = 0.1  # the gap between arbitrages at a few per second
IDLE_SAMPLES = 30


def _time_idle(steps: dict[str, Callable[[dict], object]], cases: list[dict]) -> dict[str, dict]:
    """Three legs signed in a row after IDLE_GAP_S asleep, as at a low arbitrage rate: caches, branch
    predictors and the core's clock have moved on to other work meanwhile, so this is what a 3-leg signal
    costs on the macro benchmarks' low-rate path, against the warm loops above. Alternating contenders."""
    samples: dict[str, list[float]] = {name: [] for name in steps}
    clock = time.perf_counter_ns
    for i in range(IDLE_SAMPLES):
        for name, fn in steps.items():
            time.sleep(IDLE_GAP_S)
            legs = [cases[(3 * i + k) % len(cases)] for k in range(3)]
            start = clock()
            for case in legs:
                fn(case)
            samples[name].append((clock() - start) / 1000)
    return {name: summarize(values, "us") for name, values in samples.items()}


def run(quick: bool = False) -> dict:
    fast_n, slow_n, warmup = (500, 100, 50) if quick else (20_000, 2_000, 500)
    cases = _inputs()
    signer = OrderSigner(KEY, CHAIN_ID)
    pcc, patches = _pcc2_builder()
    from py_clob_client_v2.clob_types import ApiCreds as PccApiCreds
    from py_clob_client_v2.clob_types import RequestArgs
    from py_clob_client_v2.headers.headers import create_level_2_headers

    signed = _ours(signer, cases[0])
    body = order_body(order_to_wire(signed.order, signed.signature, OWNER, "FOK"))
    creds = ApiCreds(OWNER, SECRET, "passphrase")
    pcc_creds = PccApiCreds(OWNER, SECRET, "passphrase")
    request = RequestArgs(method="POST", request_path="/order", serialized_body=body.decode())
    results = {}
    with patches[0], patches[1]:
        # identical bytes first, or the timings mean nothing
        checked = check_identical(signer, pcc, cases)
        theirs = create_level_2_headers(pcc.signer, pcc_creds, request, timestamp=1786728000)
        ours = l2_headers(creds, signer.address, 1786728000, "POST", "/order", body)
        if theirs != ours:
            raise SigningMismatch(f"L2 headers differ from py-clob-client-v2:\n ours {ours!r}\n pcc2 {theirs!r}")
        print(f"  signing: {checked + 1} comparisons with py-clob-client-v2 identical; timing", flush=True)
        prebuilt = {id(c): _ours(signer, c).order for c in cases}
        results.update(_time_side_by_side({
            "sign_order.ours": (lambda c: _ours(signer, c), fast_n),
            "sign_only.ours": (lambda c: signer.sign(prebuilt[id(c)], neg_risk=c["neg_risk"]), fast_n),
            "sign_order.pcc2": (lambda c: _pcc2_sign(pcc, c), slow_n),
            "sign_only.eth_account": (
                lambda c: reference_signature(prebuilt[id(c)], signer.domain(c["neg_risk"]), KEY), slow_n),
        }, cases, warmup // 5, rounds=10 if quick else 40))

        if not quick:
            results.update(_time_idle({"sign_3_legs_idle.ours": lambda c: _ours(signer, c),
                                       "sign_3_legs_idle.pcc2": lambda c: _pcc2_sign(pcc, c)}, cases))

    results["order_body.ours"] = _time_us(
        lambda c: order_body(order_to_wire(signed.order, signed.signature, OWNER, "FOK")),
        cases, fast_n, warmup,
    )
    results["l2_headers.ours"] = _time_us(
        lambda c: l2_headers(creds, signer.address, 1786728000, "POST", "/order", body), cases, fast_n, warmup
    )
    results["l2_headers.pcc2"] = _time_us(
        lambda c: create_level_2_headers(pcc.signer, pcc_creds, request, timestamp=1786728000),
        cases, fast_n, warmup,
    )
    return results


def _table(results: dict) -> str:
    lines = [f"{'name':<24}{'p50 µs':>10}{'p99 µs':>10}{'mean µs':>10}{'n':>8}"]
    for name, r in results.items():
        lines.append(f"{name:<24}{r['p50']:>10.1f}{r['p99']:>10.1f}{r['mean']:>10.1f}{r['n']:>8}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations (a smoke run)")
    print(_table(run(quick=parser.parse_args().quick)))


if __name__ == "__main__":
    main()
