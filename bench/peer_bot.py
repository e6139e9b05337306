"""The peer: the one-process bot a trader writes alone, which polyarb's three services must beat.

``python -m bench.peer_bot --ws-url ws://VENUE/ws/market --clob-url http://TAP --structure FILE
--key-file FILE --creds-file FILE`` is what issue 15 calls "a plain one-process bot": a ``websockets``
client on the venue's market channel, stdlib ``json``, a dict of ask levels per token, the trio rule
(lower YES + upper NO + range NO asks < 2 - ``--min-profit``, the engine's ``min_profit_abs``
default), and py-clob-client-v2 to build and sign the three orders (``ClobClient.create_order``, tick
size and neg-risk passed in so nothing is fetched on the hot path) and send them as one
``post_orders`` batch (FOK). Nothing here is tuned: it is the baseline, written the obvious way.

It keeps its own trace per batch (``time.time_ns()``): ``ws_recv_ns`` when the frame's text is in
hand, ``evaluated_ns`` when the frame is parsed, applied and the trio found, ``signed_ns`` after the
third order is built and signed, ``posted_ns`` just before ``post_orders`` (which
then serialises the body, computes the L2 headers and writes with httpx), ``response_ns`` after the
answer. The harness points ``--clob-url`` at its own bench.clob_tap, so "POST /orders bytes at the
venue" is stamped at the same point, by the same code, as polyarb's.

Control as the other bench tools: JSON lines on stdin, one reply line each on stdout; the first line
is ``{"msg": "serving", "address", "tokens"}`` once the snapshot is in. ``{"cmd": "arm", "armed":
bool}`` (disarmed it still reads and evaluates every frame, but never signs or posts),
``{"cmd": "trades"}`` returns and forgets the traces, ``{"cmd": "stop"}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import pathlib
import sys
import time

from websockets.asyncio.client import connect

MIN_SHARES = 5.0  # the paper markets' min_order_size
MIN_BUY_USD = 1.0  # the venue refuses marketable BUYs under $1


def trios_of(structure: dict) -> list[dict]:
    """The trios a trader would watch: the three legs bought together (lower YES, upper NO, range NO)."""
    out = []
    for trio in structure.get("trios", []):
        legs = [(trio["lower"], "yes_token_id"), (trio["upper"], "no_token_id"), (trio["range"], "no_token_id")]
        out.append({"id": trio["id"], "tokens": [m[key] for m, key in legs],
                    "tick_size": [_tick_text(m.get("tick_size", 0.01)) for m, _ in legs],
                    "neg_risk": [bool(m.get("neg_risk", False)) for m, _ in legs]})
    return out


def _tick_text(tick: float | str) -> str:
    return tick if isinstance(tick, str) else f"{float(tick):g}"


def apply_event(asks: dict[str, dict[str, float]], event: dict) -> list[str]:
    """One market-channel event onto the ask levels {token: {price text: size}}; the tokens touched."""
    kind = event.get("event_type")
    if kind == "book":
        token = event.get("asset_id")
        if token in asks:
            asks[token] = {level["price"]: float(level["size"]) for level in event.get("asks", ())}
            return [token]
    elif kind == "price_change":
        touched = []
        for change in event.get("price_changes", ()):
            token = change.get("asset_id")
            if token in asks and change.get("side") == "SELL":
                size = float(change["size"])
                if size > 0:
                    asks[token][change["price"]] = size
                else:
                    asks[token].pop(change["price"], None)
                touched.append(token)
        return touched
    return []


def best_ask(levels: dict[str, float]) -> tuple[float, float] | None:
    if not levels:
        return None
    price = min(levels, key=float)
    return float(price), levels[price]


def opportunity(trio: dict, asks: dict[str, dict[str, float]], min_profit: float,
                max_shares: float) -> tuple[list[float], float] | None:
    """(leg prices, shares) when the three best asks sum below 2 - min_profit, else None."""
    tops = [best_ask(asks[t]) for t in trio["tokens"]]
    if any(top is None for top in tops):
        return None
    prices = [p for p, _ in tops]
    if sum(prices) >= 2.0 - min_profit:
        return None
    shares = math.floor(min(min(s for _, s in tops), max_shares))
    shares = max(shares, MIN_SHARES, *(math.ceil(MIN_BUY_USD / p) for p in prices))
    if shares > min(s for _, s in tops):
        return None
    return prices, float(shares)


class PeerBot:
    def __init__(self, args: argparse.Namespace) -> None:
        from py_clob_client_v2.client import ClobClient
        from py_clob_client_v2.clob_types import ApiCreds

        creds = json.loads(pathlib.Path(args.creds_file).read_text())
        key = pathlib.Path(args.key_file).read_text().strip()
        self.client = ClobClient(args.clob_url, chain_id=args.chain_id, key="0x" + key.removeprefix("0x"),
                                 creds=ApiCreds(creds["apiKey"], creds["secret"], creds["passphrase"]),
                                 signature_type=0)
        self.trios = trios_of(json.loads(pathlib.Path(args.structure).read_text()))
        self.by_token: dict[str, list[dict]] = {}
        for trio in self.trios:
            for token in trio["tokens"]:
                self.by_token.setdefault(token, []).append(trio)
        self.asks: dict[str, dict[str, float]] = {t: {} for t in self.by_token}
        self.min_profit, self.max_shares = args.min_profit, args.max_shares
        self.ws_url = args.ws_url
        self.armed = False
        self.cooldown_s = args.cooldown_s
        self.traded: dict[str, tuple[float, tuple]] = {}  # trio id → (when, the asks) of its last batch
        self.trades: list[dict] = []
        self.frames = 0

    def warm_up(self) -> None:
        """What any bot does once at start: pcc2 caches the CLOB version (GET /version) on its first order
        and each token's minimum tick (GET /tick-size, checked by every create_order) on first use."""
        from py_clob_client_v2.clob_types import OrderArgsV2, PartialCreateOrderOptions

        for token in self.asks:
            self.client.get_tick_size(token)
        trio = self.trios[0]
        self.client.create_order(OrderArgsV2(token_id=trio["tokens"][0], price=0.5, size=5.0, side="BUY"),
                                 PartialCreateOrderOptions(tick_size=trio["tick_size"][0],
                                                           neg_risk=trio["neg_risk"][0]))

    def on_frame(self, text: str | bytes, recv_ns: int) -> None:
        self.frames += 1
        try:
            data = json.loads(text)
        except ValueError:
            return  # PONG and the like
        touched: set[str] = set()
        for event in data if isinstance(data, list) else [data]:
            if isinstance(event, dict):
                touched.update(apply_event(self.asks, event))
        for trio in {id(t): t for token in touched for t in self.by_token[token]}.values():
            found = opportunity(trio, self.asks, self.min_profit, self.max_shares)
            if found is None:
                continue
            if not self.armed:
                continue
            # Once per dislocation: not the same book twice, and not again within the cooldown (the
            # fills of its own batch show the deeper levels, which it would otherwise chase).
            book = tuple(tuple(sorted(self.asks[t].items())) for t in trio["tokens"])
            now = time.monotonic()
            last_s, last_book = self.traded.get(trio["id"], (-math.inf, None))
            if book == last_book or now - last_s < self.cooldown_s:
                continue
            self.traded[trio["id"]] = (now, book)
            self.trade(trio, *found, recv_ns, time.time_ns())

    def trade(self, trio: dict, prices: list[float], shares: float, recv_ns: int, evaluated_ns: int) -> None:
        from py_clob_client_v2.clob_types import OrderArgsV2, OrderType, PartialCreateOrderOptions, PostOrdersV2Args

        orders = [self.client.create_order(OrderArgsV2(token_id=token, price=price, size=shares, side="BUY"),
                                           PartialCreateOrderOptions(tick_size=tick, neg_risk=neg_risk))
                  for token, price, tick, neg_risk in zip(trio["tokens"], prices, trio["tick_size"],
                                                          trio["neg_risk"], strict=True)]
        signed_ns = time.time_ns()
        posted_ns = time.time_ns()
        error = ""
        try:
            answer = self.client.post_orders([PostOrdersV2Args(order=o, orderType=OrderType.FOK) for o in orders])
        except Exception as exc:  # a refused batch still measured its way to the venue
            answer, error = None, repr(exc)[:200]
        response_ns = time.time_ns()
        filled = sum(1 for a in answer or () if isinstance(a, dict) and a.get("success"))
        self.trades.append({"trio": trio["id"], "ws_recv_ns": recv_ns, "evaluated_ns": evaluated_ns,
                            "signed_ns": signed_ns,
                            "posted_ns": posted_ns, "response_ns": response_ns, "legs_ok": filled,
                            "error": error})

    async def run(self) -> None:
        self.warm_up()
        async with connect(self.ws_url, compression=None, ping_interval=None, max_size=1 << 24, proxy=None) as ws:
            await ws.send(json.dumps({"assets_ids": sorted(self.asks), "type": "market"}))
            self.on_frame(await ws.recv(), time.time_ns())  # the snapshot array
            print(json.dumps({"msg": "serving", "address": self.client.get_address(), "tokens": len(self.asks),
                              "trios": len(self.trios)}), flush=True)
            async for message in ws:
                self.on_frame(message, time.time_ns())


async def _control(bot: PeerBot) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        name = command.get("cmd")
        if name == "arm":
            bot.armed = bool(command.get("armed", True))
            reply = {"ok": True, "armed": bot.armed}
        elif name == "trades":
            reply = {"ok": True, "trades": bot.trades, "frames": bot.frames}
            bot.trades = []
        elif name == "stop":
            print(json.dumps({"ok": True}), flush=True)
            return
        else:
            reply = {"ok": False, "error": f"unknown command {name!r}"}
        print(json.dumps(reply), flush=True)


async def main_async(args: argparse.Namespace) -> None:
    bot = PeerBot(args)
    feed = asyncio.create_task(bot.run())
    control = asyncio.create_task(_control(bot))
    done, _ = await asyncio.wait({feed, control}, return_when=asyncio.FIRST_COMPLETED)
    for task in (feed, control):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for task in done:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ws-url", required=True, help="the venue's market WebSocket URL")
    parser.add_argument("--clob-url", required=True, help="the CLOB REST base URL (the harness's tap)")
    parser.add_argument("--structure", required=True, help="JSON file: the venue's /admin/structure")
    parser.add_argument("--key-file", required=True, help="hex private key")
    parser.add_argument("--creds-file", required=True, help='JSON {"apiKey", "secret", "passphrase"}')
    parser.add_argument("--chain-id", type=int, default=137)
    parser.add_argument("--min-profit", type=float, default=0.01, help="per share, as the engine's min_profit_abs")
    parser.add_argument("--max-shares", type=float, default=20.0)
    parser.add_argument("--cooldown-s", type=float, default=0.5, help="no second batch on a trio within this")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
