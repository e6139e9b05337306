"""POST /orders to the CLOB (or the paper venue) and what its answer means for each leg.

`classify_batch_response` is pure: HTTP status, content type and body bytes → a `BatchReply`.
`ClobClient` is the thin shell: POST /orders on the executor's own kept-alive connection
(executor_svc/batch_post.py: the critical path), every other request on one aiohttp session; L2 HMAC
headers over the exact bytes sent, connect/total time-outs. A batch is posted once; nothing here ever
retries a POST.

Venue facts (polymarket-protocol.md 2.5): the reply to POST /orders is an array, one entry per order,
`{"success", "errorMsg", "orderID", "status", "makingAmount", "takingAmount", ...}`; a rejected leg
can come back as success:true with an empty orderID (treat as rejected); errors may also be
`{"error": ...}` with a non-200 status.
"""

from __future__ import annotations

import json
import math
import ssl
import time
from dataclasses import dataclass, field
from enum import StrEnum

import aiohttp

from executor_svc.batch_post import BatchPoster, InFlight, NotSent, SentUnknown
from executor_svc.clob_auth import ApiCreds, l2_headers

MATCHED = "matched"


class ReconcileError(Exception):
    """The venue could not say what happened to an order this time; ask again later."""


class BatchFate(StrEnum):
    ANSWERED = "answered"  # per-leg replies below
    UNKNOWN = "unknown"  # sent, answer lost (time-out, 5xx, garbage): never re-post, reconcile
    NOT_SENT = "not_sent"  # the request never left (connect failed): nothing can have matched
    REFUSED = "refused"  # a 4xx for the whole batch: nothing matched
    CONFIG = "config"  # 401/403 or HTML: credentials, geoblock or wrong URL; retrying will not help


@dataclass
class LegReply:
    success: bool
    order_id: str
    status: str
    error: str
    making_amount: float | None  # what the order gave (pUSD for a BUY, shares for a SELL), if reported
    taking_amount: float | None  # what it got (shares for a BUY, pUSD for a SELL), if reported

    @property
    def accepted(self) -> bool:
        return self.success and bool(self.order_id)


@dataclass
class BatchReply:
    fate: BatchFate
    http_status: int = 0
    legs: list[LegReply] = field(default_factory=list)
    error: str = ""


def _amount(value: object) -> float | None:
    if value in (None, ""):
        return None
    try:
        amount = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return amount if math.isfinite(amount) and amount >= 0 else None


def _leg(entry: object) -> LegReply:
    if not isinstance(entry, dict):
        return LegReply(False, "", "", f"malformed reply entry: {str(entry)[:80]}", None, None)
    order_id = entry.get("orderID") or entry.get("orderId") or ""
    error = entry.get("errorMsg") or entry.get("error") or ""
    return LegReply(
        success=bool(entry.get("success")) and not entry.get("error"),
        order_id=str(order_id),
        status=str(entry.get("status") or "").lower(),
        error=str(error)[:300],
        making_amount=_amount(entry.get("makingAmount")),
        taking_amount=_amount(entry.get("takingAmount")),
    )


def _error_text(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:120].decode(errors="replace")
    if isinstance(parsed, dict):
        return str(parsed.get("error") or parsed.get("errorMsg") or parsed)[:300]
    return str(parsed)[:300]


def classify_batch_response(status: int, content_type: str, body: bytes, n_orders: int) -> BatchReply:
    """What a POST /orders answer says happened to each of the n_orders legs."""
    if status >= 500:
        return BatchReply(BatchFate.UNKNOWN, status, error=f"HTTP {status}: {_error_text(body)}")
    is_html = "html" in content_type.lower() or body.lstrip()[:1] == b"<"
    if status in (401, 403) or is_html:
        return BatchReply(BatchFate.CONFIG, status, error=f"HTTP {status}: {_error_text(body)[:120]}")
    if status >= 400:
        return BatchReply(BatchFate.REFUSED, status, error=f"HTTP {status}: {_error_text(body)}")
    try:
        parsed = json.loads(body)
    except ValueError:
        return BatchReply(BatchFate.UNKNOWN, status, error="reply is not JSON")
    if isinstance(parsed, dict) and n_orders == 1:
        parsed = [parsed]  # POST /order answers with one object
    if not isinstance(parsed, list) or len(parsed) != n_orders:
        shape = f"{type(parsed).__name__} of {len(parsed)}" if isinstance(parsed, list) else type(parsed).__name__
        return BatchReply(BatchFate.UNKNOWN, status, error=f"reply is a {shape}, expected {n_orders} entries")
    return BatchReply(BatchFate.ANSWERED, status, legs=[_leg(entry) for entry in parsed])


ORDERS_PATH = "/orders"


@dataclass
class SentBatch:
    """A batch whose request is signed, and written if a connection was warm (in_flight)."""

    body: bytes
    headers: list[tuple[str, str]]
    n_orders: int
    started: float  # perf_counter at send_batch, for the round trip's histogram
    in_flight: InFlight | None


class ClobClient:
    """The batch poster and one aiohttp session to the CLOB; created inside the running loop."""

    def __init__(self, base_url: str, creds: ApiCreds, address: str, timeout_ms: int,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.creds = creds
        self.address = address
        self.timeout_ms = timeout_ms
        self.connected = False
        self.last_error = ""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=16, keepalive_timeout=60, ttl_dns_cache=300),
            raise_for_status=False,
        )
        self._poster = BatchPoster(self.base_url, ssl_context=ssl_context)
        self._poster.start()

    def _timeout(self) -> aiohttp.ClientTimeout:
        total = self.timeout_ms / 1000
        return aiohttp.ClientTimeout(total=total, connect=min(total, 1.0))

    def send_batch(self, body: bytes, n_orders: int) -> SentBatch:
        """Sign the request for body (the exact bytes the HMAC covers) and, when a connection is warm,
        write it now, before the caller yields. Nothing raised here; what happened is `batch_reply`'s."""
        headers = list(l2_headers(self.creds, self.address, int(time.time()), "POST", ORDERS_PATH, body).items())
        headers.append(("Content-Type", "application/json"))
        started = time.perf_counter()
        return SentBatch(body, headers, n_orders, started, self._poster.send_now(ORDERS_PATH, headers, body))

    async def batch_reply(self, sent: SentBatch) -> tuple[BatchReply, int]:
        """The reply to a batch `send_batch` made (posting it first, on a new connection, if no warm
        one was there), and posted_ns. Posts it at most once."""
        timeout_s = self.timeout_ms / 1000
        self._poster.connect_timeout_s = min(timeout_s, 1.0)
        try:
            if sent.in_flight is None:
                response, posted_ns = await self._poster.post(ORDERS_PATH, sent.headers, sent.body, timeout_s)
            else:
                posted_ns = sent.in_flight.posted_ns
                response = await self._poster.answer(sent.in_flight, timeout_s)
            reply = classify_batch_response(response.status, response.content_type, response.body, sent.n_orders)
        except NotSent as exc:  # no byte left: nothing can have matched
            posted_ns = time.time_ns()
            reply = BatchReply(BatchFate.NOT_SENT, error=str(exc))
        except SentUnknown as exc:  # sent, then no complete answer: it may have matched
            posted_ns = exc.posted_ns
            reply = BatchReply(BatchFate.UNKNOWN, error=str(exc))
        self.connected = reply.fate in (BatchFate.ANSWERED, BatchFate.REFUSED)
        self.last_error = reply.error
        return reply, posted_ns

    async def get_order(self, order_id: str) -> dict | None:
        """GET /data/order/{id} for reconciliation: the venue's order, or None when it has never heard
        of it (404). Raises ReconcileError when it cannot say (transport error, 5xx, garbage)."""
        path = f"/data/order/{order_id}"
        headers = l2_headers(self.creds, self.address, int(time.time()), "GET", path, None)
        try:
            async with self._session.get(self.base_url + path, headers=headers, timeout=self._timeout()) as response:
                if response.status == 404:
                    return None
                if response.status != 200:
                    raise ReconcileError(f"GET {path}: HTTP {response.status}")
                payload = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ReconcileError(f"GET {path}: {type(exc).__name__}") from None
        if not isinstance(payload, dict):
            raise ReconcileError(f"GET {path}: not an object")
        return payload

    async def close(self) -> None:
        await self._poster.close()
        await self._session.close()
