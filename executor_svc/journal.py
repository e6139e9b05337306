"""The trade-result journal: every TradeResult gets its seq and is committed to SQLite before anyone sees it.

Promise to the shell (ARCHITECTURE.md, "Executor → Shell"): a client that (re)connects with `from_seq` gets
every result after it, each once, in seq order. `Journal.subscribe(from_seq)` is that stream: it replays
from the database, then goes live, and falls back to the database whenever its live queue overflows.

Threading: one connection per process, used only from the thread that opened it (the event loop's).
SQLite calls block, but an append is one small insert and a WAL write (~80 µs p50 here, see `SYNCHRONOUS`)
and appends happen once per trade, so they run inline on the loop: no thread hop, and "committed, then
published" stays one uninterrupted step, which is what makes the fan-out gap-free.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from executor_svc.intent_log import IntentLog
from polyarb.runtime.metrics import ErrorCounter
from polyarb.v1.executor_pb2 import OUTCOME_UNKNOWN, TradeResult

log = logging.getLogger("executor.journal")
errors = ErrorCounter("executor")

SCHEMA_VERSION = 1
# SQLite integers are signed 64-bit; a uint64 from_seq above this simply has nothing after it.
MAX_SEQ = 2**63 - 1
# Rows read per database round trip while replaying: one page (read and decode, ~2.5 µs a row measured with
# 3-leg results) blocks the loop ~0.2 ms, so a long replay never holds up signals for long.
DEFAULT_PAGE_SIZE = 64
# Live results a subscriber may hold unconsumed before it is switched to re-reading from the database.
DEFAULT_QUEUE_SIZE = 1024
# WAL + NORMAL: a commit is a write() into the WAL, no fsync. The data is then in the OS page cache, so it
# survives the process being killed (SIGKILL, OOM, crash); only an OS crash or power loss can drop the last
# transactions. FULL adds an fsync per commit: measured here p50 ~0.5 ms, p99 2-8 ms, against ~80 µs and
# ~200 µs for NORMAL, too much to block the event loop for on every trade. Choose FULL where the journal's volume
# outlives the node: results lost with the OS may already have been streamed, and their seqs would be reused.
# Either way SQLite's auto-checkpoint (every 1000 WAL pages, ~650 results of ~6 KB of WAL each) runs inside
# the append that crosses it: ~10 ms here (two fsyncs), one slow append in ~650.
SYNCHRONOUS = ("NORMAL", "FULL")
BUSY_TIMEOUT_MS = 2000  # only another process writing could make us wait; better late than unjournaled

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER PRIMARY KEY,      -- 1, 2, 3, ... across restarts (reused only if an OS crash loses commits)
    signal_id TEXT NOT NULL,      -- not unique: a reconciled UNKNOWN gets a second result; not indexed, as
                                  -- nothing looks results up by it and an index costs a WAL page per append
    recorded_ns INTEGER NOT NULL,
    body BLOB NOT NULL            -- the serialized TradeResult, seq and recorded_ns included
);
CREATE TABLE IF NOT EXISTS pending (
    order_hash TEXT PRIMARY KEY,  -- an order posted with an unknown outcome, to reconcile, never re-send
    seq INTEGER NOT NULL,         -- the result that recorded it as unknown
    signal_id TEXT NOT NULL,
    token_id TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    resolved_ns INTEGER NOT NULL DEFAULT 0,  -- 0 while unresolved
    resolved_seq INTEGER NOT NULL DEFAULT 0  -- the result that resolved it, 0 if none
);
CREATE TABLE IF NOT EXISTS intents (
    -- no longer written (intents are in <journal>.intents, executor_svc/intent_log.py); an older
    -- executor's rows are still read as orphans at start, and deleted by the append of their result
    signal_id TEXT PRIMARY KEY,   -- a batch about to be posted; deleted by the append of its result
    created_ns INTEGER NOT NULL,
    body BLOB NOT NULL            -- the TradeResult to journal (UNKNOWN) if the process dies before it can
);
"""


class JournalError(Exception):
    """The journal cannot be opened or written, or a stored row cannot be read."""


@dataclass(frozen=True)
class PendingOrder:
    """An order whose outcome is unknown (timeout, 5xx): it may have matched, so it is reconciled, not re-sent."""

    order_hash: str
    seq: int
    signal_id: str
    token_id: str
    created_ns: int
    resolved_ns: int = 0
    resolved_seq: int = 0


# --- pure parts: no clock, no database ---


def stamp(result: TradeResult, seq: int, now_ns: int) -> TradeResult:
    """The copy to store: the journal's seq, and recorded_ns unless the caller already set it."""
    stored = TradeResult()
    stored.CopyFrom(result)
    stored.seq = seq
    if not stored.recorded_ns:
        stored.recorded_ns = now_ns
    return stored


def decode_result(seq: int, body: object) -> TradeResult:
    """A stored row back into a TradeResult; JournalError if the body is not the result stored under seq."""
    if not isinstance(body, bytes):
        raise JournalError(f"journal row seq={seq}: body is {type(body).__name__}, not bytes")
    try:
        result = TradeResult.FromString(body)
    except DecodeError as exc:
        raise JournalError(f"journal row seq={seq}: body is not a TradeResult ({exc})") from exc
    if result.seq != seq:  # garbage can parse as a message of unknown fields; a wrong seq gives it away
        raise JournalError(f"journal row seq={seq}: body says seq={result.seq}")
    return result


def unknown_orders(result: TradeResult) -> list[PendingOrder]:
    """The orders of a stored result that need reconciliation: every signed leg of an UNKNOWN outcome."""
    if result.outcome != OUTCOME_UNKNOWN:
        return []
    return [
        PendingOrder(leg.order_hash, result.seq, result.signal_id, leg.token_id, result.recorded_ns)
        for leg in result.legs
        if leg.order_hash
    ]


# --- live fan-out ---


class _Subscriber:
    """One stream's bounded inbox. An overflow never blocks the appender and never drops silently:
    the subscriber is marked lagging and re-reads from the database after its last delivered seq."""

    __slots__ = ("lagging", "limit", "queue", "wake")

    def __init__(self, limit: int) -> None:
        self.queue: deque[TradeResult] = deque()
        self.limit = limit
        self.lagging = False
        self.wake = asyncio.Event()

    def offer(self, result: TradeResult) -> bool:
        """Queue a committed result; True when it overflowed the queue (the subscriber now lags)."""
        overflowed = False
        if not self.lagging:
            if len(self.queue) < self.limit:
                self.queue.append(result)
            else:
                self.lagging = overflowed = True
                self.queue.clear()  # all of it is in the database; free the memory now
        self.wake.set()
        return overflowed


class Journal:
    """The executor's durable, sequenced record of trade results, with live fan-out to any number of streams.

    Use from one thread, the event loop's (sqlite3's check_same_thread enforces it). A live result yielded
    by `subscribe` is one object shared by every stream: treat it as read-only.
    """

    def __init__(self, path: str, *, clock: Callable[[], int] = time.time_ns, synchronous: str = "NORMAL") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {SYNCHRONOUS}, got {synchronous!r}")
        self.path = path
        self._clock = clock
        self._subscribers: set[_Subscriber] = set()
        self._corrupt_seqs: set[int] = set()
        self.lag_rereads = 0  # times a subscriber overflowed and went back to the database
        self._db: sqlite3.Connection | None = None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so "committed" means exactly what we say.
            # check_same_thread stays on: a stray call from another thread fails loudly instead of racing
            # the fan-out.
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        try:
            self._setup(db, synchronous)
        except sqlite3.Error as exc:
            db.close()
            raise JournalError(f"cannot open journal {path}: {exc}") from exc
        except JournalError:
            db.close()
            raise
        try:
            self._intents = IntentLog(path + ".intents")
        except OSError as exc:
            db.close()
            raise JournalError(f"cannot open the intents file {path}.intents: {exc}") from exc
        if self._intents.torn:  # the process died inside an intent's write: that batch was never posted
            errors("journal_corrupt_row", "intents file ended in a torn record: cut off", level=logging.WARNING,
                   reason=self._intents.torn)
        self._db = db

    @staticmethod
    def _setup(db: sqlite3.Connection, synchronous: str) -> None:
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":  # e.g. ":memory:", or a filesystem without shared memory
            raise JournalError(f"journal needs WAL mode, SQLite gave {mode!r}")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(f"journal schema version {version} is newer than this executor's {SCHEMA_VERSION}")
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # --- writing ---

    def append(self, result: TradeResult, now_ns: int | None = None, *, resolves: Iterable[str] = ()) -> TradeResult:
        """Store result under the next seq and return the stored copy, only once it is committed.

        recorded_ns is set to now_ns (default: the clock) unless already set. An OUTCOME_UNKNOWN result
        records its signed legs as pending in the same transaction, so a crash cannot leave an unknown
        outcome without its reconciliation entries; `resolves` marks order hashes resolved by this result,
        also atomically. Raises JournalError if the commit fails: then nothing was stored or published.
        """
        now = self._clock() if now_ns is None else now_ns
        resolves = tuple(resolves)
        with self._transaction() as db:
            # MAX(seq) on the rowid is a b-tree edge lookup; inside BEGIN IMMEDIATE no other writer can race it.
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM results").fetchone()[0]
            stored = stamp(result, seq, now)
            db.execute(
                "INSERT INTO results (seq, signal_id, recorded_ns, body) VALUES (?, ?, ?, ?)",
                (seq, stored.signal_id, stored.recorded_ns, stored.SerializeToString()),
            )
            self._insert_pending(db, unknown_orders(stored))
            db.execute("DELETE FROM intents WHERE signal_id = ?", (stored.signal_id,))
            db.executemany(
                "UPDATE pending SET resolved_ns = ?, resolved_seq = ? WHERE order_hash = ? AND resolved_ns = 0",
                [(now, seq, order_hash) for order_hash in resolves],
            )
        # Committed: from here on a reader of the database sees it, so live subscribers may too.
        try:
            self._intents.done(stored.signal_id)
        except OSError as exc:  # the file only grows: at the next start its records are matched to results
            errors("journal", "intents file not emptied", level=logging.ERROR, error=str(exc)[:200])
        for subscriber in self._subscribers:
            if subscriber.offer(stored):
                self.lag_rereads += 1
        returned = TradeResult()
        returned.CopyFrom(stored)  # the caller's copy: mutating it must not change what streams send
        return returned

    def record_intent(self, unknown: TradeResult) -> None:
        """Before a batch goes on the wire: the UNKNOWN result to journal should the process die before
        the batch's own result is appended. Written to the intents file (executor_svc/intent_log.py: one
        write, ~80 µs cold against ~270 µs for a SQLite transaction). Raises JournalError if it cannot
        be stored: then the batch must not be posted."""
        self._open_db()  # a closed journal takes no intent: its result could not be appended either
        try:
            self._intents.record(unknown)
        except OSError as exc:
            raise JournalError(f"intent not written: {exc}") from exc

    def orphan_intents(self) -> list[TradeResult]:
        """Intents left by a process that died mid-post (no result carries their signal), oldest first;
        call before trading starts."""
        db = self._open_db()
        orphans: dict[str, TradeResult] = {}
        for signal_id, body in db.execute("SELECT signal_id, body FROM intents ORDER BY created_ns").fetchall():
            try:  # an older executor's intents, kept in this table
                orphans[signal_id] = TradeResult.FromString(body)
            except DecodeError:
                errors("journal_corrupt_row", "unreadable intent", level=logging.ERROR, signal_id=signal_id)
        try:
            records, torn, _end = self._intents.read()
        except OSError as exc:
            raise JournalError(f"cannot read the intents file: {exc}") from exc
        if torn:
            errors("journal_corrupt_row", "intents file: reading stopped early", level=logging.ERROR, reason=torn)
        for record in records:
            orphans.setdefault(record.signal_id, record)
        if orphans:
            marks = ",".join("?" * len(orphans))
            answered = {row[0] for row in db.execute(
                f"SELECT DISTINCT signal_id FROM results WHERE signal_id IN ({marks})", tuple(orphans))}
            for signal_id in answered:
                del orphans[signal_id]
        return list(orphans.values())

    def add_pending(self, orders: Iterable[PendingOrder]) -> None:
        """Record orders to reconcile that `append` did not record itself (it does so for OUTCOME_UNKNOWN)."""
        with self._transaction() as db:
            self._insert_pending(db, orders)

    def resolve(self, order_hash: str, now_ns: int | None = None, resolved_seq: int = 0) -> bool:
        """Mark a pending order resolved; False if it is unknown to the journal or already resolved.
        Prefer `append(result, resolves=...)` when the resolution produces a trade result."""
        now = self._clock() if now_ns is None else now_ns
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE pending SET resolved_ns = ?, resolved_seq = ? WHERE order_hash = ? AND resolved_ns = 0",
                (now, resolved_seq, order_hash),
            )
        return cursor.rowcount == 1

    @staticmethod
    def _insert_pending(db: sqlite3.Connection, orders: Iterable[PendingOrder]) -> None:
        # OR IGNORE: an order hash is unique per signed order (random salt); seeing one twice would be a
        # re-record of the same order, and the first record, with its seq, is the one to reconcile.
        db.executemany(
            "INSERT OR IGNORE INTO pending (order_hash, seq, signal_id, token_id, created_ns, resolved_ns,"
            " resolved_seq) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (o.order_hash, o.seq, o.signal_id, o.token_id, o.created_ns, o.resolved_ns, o.resolved_seq)
                for o in orders
            ],
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._open_db()
        try:
            # IMMEDIATE takes the write lock up front, so the seq read and the insert are one atomic step
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise JournalError(f"journal {self.path}: cannot begin a write: {exc}") from exc
        try:
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            if db.in_transaction:
                with suppress(sqlite3.Error):  # keep the original error, not a failed rollback's
                    db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise JournalError(f"journal {self.path}: write failed, nothing stored: {exc}") from exc
            raise

    # --- reading ---

    def last_seq(self) -> int:
        """The highest seq stored, 0 for an empty journal."""
        return self._open_db().execute("SELECT COALESCE(MAX(seq), 0) FROM results").fetchone()[0]

    def read_after(self, from_seq: int, limit: int = DEFAULT_PAGE_SIZE) -> list[TradeResult]:
        """Up to `limit` results with seq > from_seq, in seq order; unreadable rows are skipped (and counted).
        Page with the seq of the last result returned; an empty list means there is nothing after from_seq."""
        if limit <= 0:
            raise ValueError(f"limit must be positive, got {limit}")
        results: list[TradeResult] = []
        while len(results) < limit:  # more than one page only when unreadable rows were skipped
            wanted = limit - len(results)
            page, from_seq, scanned = self._read_page(from_seq, wanted)
            results.extend(page)
            if scanned < wanted:  # the table ran out
                break
        return results

    def last_results(self, n: int) -> list[TradeResult]:
        """The n most recent readable results, oldest first (for status pages and debugging)."""
        if n <= 0:  # SQLite reads a negative LIMIT as "no limit"
            return []
        rows = self._open_db().execute("SELECT seq, body FROM results ORDER BY seq DESC LIMIT ?", (n,)).fetchall()
        return self._decode_rows(reversed(rows))

    def unresolved(self) -> list[PendingOrder]:
        """Orders still waiting for reconciliation, oldest first."""
        rows = (
            self._open_db()
            .execute(
                "SELECT order_hash, seq, signal_id, token_id, created_ns, resolved_ns, resolved_seq FROM pending"
                " WHERE resolved_ns = 0 ORDER BY seq, order_hash"
            )
            .fetchall()
        )
        return [PendingOrder(*row) for row in rows]

    def _read_page(self, after: int, limit: int) -> tuple[list[TradeResult], int, int]:
        """(readable results, seq of the last row scanned or `after`, rows scanned) for seq > after."""
        rows = (
            self._open_db()
            .execute("SELECT seq, body FROM results WHERE seq > ? ORDER BY seq LIMIT ?", (min(after, MAX_SEQ), limit))
            .fetchall()
        )
        return self._decode_rows(rows), rows[-1][0] if rows else after, len(rows)

    def _decode_rows(self, rows: Iterable[tuple[int, object]]) -> list[TradeResult]:
        results = []
        for seq, body in rows:
            try:
                results.append(decode_result(seq, body))
            except JournalError as exc:
                # One bad row must not take down every stream: skip it, and say so once per row.
                if seq not in self._corrupt_seqs:
                    self._corrupt_seqs.add(seq)
                    errors("journal_corrupt_row", str(exc), level=logging.ERROR, seq=seq, journal=self.path)
        return results

    @property
    def corrupt_rows(self) -> int:
        """Distinct unreadable rows met so far (they are skipped by every reader)."""
        return len(self._corrupt_seqs)

    # --- streaming ---

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    async def subscribe(
        self, from_seq: int, *, queue_size: int = DEFAULT_QUEUE_SIZE, page_size: int = DEFAULT_PAGE_SIZE
    ) -> AsyncIterator[TradeResult]:
        """Every result with seq > from_seq, each once, in seq order: first from the database, then live.

        Never ends on its own; it returns when the journal is closed. A consumer slower than the appends
        is switched back to the database instead of slowing appends or losing results.
        """
        if queue_size <= 0 or page_size <= 0:
            raise ValueError("queue_size and page_size must be positive")
        subscriber = _Subscriber(queue_size)
        # Register before the first read: anything committed from now on is queued, and anything committed
        # before is in the database, so the replay and the live queue overlap instead of leaving a gap.
        self._subscribers.add(subscriber)
        last = max(0, min(from_seq, MAX_SEQ))  # the last seq delivered (or skipped as unreadable)
        replaying = True
        try:
            while self._db is not None:
                if replaying or subscriber.lagging:
                    # Drop the queue, then read, with no await in between: everything dropped was committed
                    # before the read, so the page or a later one covers it.
                    subscriber.queue.clear()
                    subscriber.lagging = False
                    page, scanned_to, scanned = self._read_page(last, page_size)
                    for result in page:
                        yield result
                        last = result.seq
                    last = max(last, scanned_to)  # past unreadable rows too, or the live path would see a gap
                    replaying = scanned == page_size  # a full page: there may be more
                    await asyncio.sleep(0)  # let appends and other streams run between pages
                    continue
                while subscriber.queue and not subscriber.lagging:
                    result = subscriber.queue.popleft()
                    if result.seq <= last:  # already delivered from the database (defensive: a duplicate
                        continue  # cannot arise while the queue is dropped before each read, but must never leak)
                    if result.seq != last + 1:  # a gap (e.g. another process appended): the database has it
                        subscriber.lagging = True
                        break
                    yield result
                    last = result.seq
                # Checked again here, not only at the top: close() may have set `wake` while the consumer held
                # the last item, and clearing it then would leave this stream waiting forever.
                if not subscriber.queue and not subscriber.lagging and self._db is not None:
                    subscriber.wake.clear()
                    await subscriber.wake.wait()
        finally:
            self._subscribers.discard(subscriber)

    # --- lifetime ---

    def close(self) -> None:
        """Close the database (checkpointing the WAL) and end every subscription. Idempotent."""
        db, self._db = self._db, None
        if db is None:
            return
        self._intents.close()
        for subscriber in self._subscribers:
            subscriber.wake.set()  # they see the journal closed and return
        db.close()

    def _open_db(self) -> sqlite3.Connection:
        if self._db is None:
            raise JournalError(f"journal {self.path} is closed")
        return self._db
