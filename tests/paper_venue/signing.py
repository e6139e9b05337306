"""Signed orders and L2 headers for tests, built with py-clob-client-v2 (the reference client)."""

from __future__ import annotations

import json

from py_clob_client_v2.clob_types import CreateOrderOptions, OrderArgsV2
from py_clob_client_v2.order_builder.builder import OrderBuilder
from py_clob_client_v2.order_utils.model.order_data_v2 import order_to_json_v2
from py_clob_client_v2.signer import Signer
from py_clob_client_v2.signing.hmac import build_hmac_signature

from paper_venue.auth import PAPER_CREDS, ApiKey

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"  # public Hardhat key (protocol 4)
ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
OTHER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"  # Hardhat account 1
OTHER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

_builders: dict[str, OrderBuilder] = {}


def signed_order(token: str, price: float, size: float, side: str = "BUY", tick: str = "0.01",
                 neg_risk: bool = False, key: str = KEY):
    builder = _builders.get(key) or _builders.setdefault(key, OrderBuilder(Signer(key, 137)))
    return builder.build_order(OrderArgsV2(token_id=token, price=price, size=size, side=side),
                               CreateOrderOptions(tick_size=tick, neg_risk=neg_risk))


def order_body(order, order_type: str = "FOK", owner: str = PAPER_CREDS.api_key, post_only: bool = False) -> dict:
    return order_to_json_v2(order, owner, order_type, post_only, False)


def compact(obj) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def l2_headers(method: str, path: str, body: str = "", creds: ApiKey = PAPER_CREDS, address: str = ADDRESS,
               timestamp: int = 1786728000) -> dict[str, str]:
    """PCC2's HMAC over exactly the bytes sent (protocol 2.6)."""
    return {
        "POLY_ADDRESS": address,
        "POLY_SIGNATURE": build_hmac_signature(creds.secret, timestamp, method, path, body or None),
        "POLY_TIMESTAMP": str(timestamp),
        "POLY_API_KEY": creds.api_key,
        "POLY_PASSPHRASE": creds.passphrase,
        "Content-Type": "application/json",
    }
