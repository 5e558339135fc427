"""The store-and-forward uplink: the journal after HQ's cursor, batch by batch, to HQ.

One batch in flight. Each batch is read on a thread from a read-only connection (the tills
never wait for it), compressed and signed, and the cursor moves only on HQ's acknowledgement
(SPEC §2.2). Transient failures (timeouts, resets, 429/5xx) are retried with capped
exponential backoff and full jitter on the event loop's monotonic clock, honouring
Retry-After; a refusal (400/401/422 and other 4xx) stops forwarding at that seq with an alarm
until an operator asks for a retry. Memory is one batch, whatever the backlog.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeGuard

import aiohttp

from edge.hq.state import (
    LinkState,
    Stop,
    load_state,
    retry_path,
    save_state,
    state_path,
    take_retry,
)
from edge.ledger.journal import journal_tail
from edge.ledger.schema import connect
from edge.protocol.hq import (
    IDEMPOTENCY_HEADER,
    MAX_COMPRESSED_BYTES,
    SIGNATURE_HEADER,
    BatchWriter,
    idempotency_key,
    retry_after_seconds,
    sign,
)
from edge.services.downlink import sync_state_in
from edge.settings import HqSettings

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 1.0
ANSWER_LIMIT = 64 * 1024  # HQ's answers are small; never hold more of one
FETCH_ROWS = 500  # journal rows held at once while a batch is written
BATCH_SLACK = 512 * 1024  # compressed output a gzip stream may still hold back
RETRY_AFTER_MAX_S = 3600.0  # a Retry-After beyond an hour is taken as an hour
SKEW_NOISE_S = 2.0  # HQ's Date has one-second resolution: smaller changes are noise
STOP_STATUSES = frozenset({400, 401, 422})
RETRY_STATUSES = frozenset({408, 425, 429})
# each event's wire JSON is built by SQLite (the stored data is canonical JSON already): the
# text need not be canonical, HQ recomputes the canonical form from the values
WIRE_SELECT = (
    "SELECT seq, ts, prev_hash, '{\"seq\":' || seq || ',\"id\":' || json_quote(id)"
    " || ',\"type\":' || json_quote(type) || ',\"ts\":' || json_quote(ts)"
    " || ',\"till\":' || json_quote(till) || ',\"staff\":' || json_quote(staff)"
    " || ',\"data\":' || data || ',\"prev_hash\":' || json_quote(prev_hash)"
    " || ',\"hash\":' || json_quote(hash) || '}'"
    " FROM journal WHERE seq >= ? ORDER BY seq LIMIT ?"
)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch ready to send: its range, its compressed body and its first event's time."""

    first: int
    last: int
    body: bytes
    oldest_ts: str

    @property
    def count(self) -> int:
        """Return how many events the batch holds."""
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt at a batch came to, and what to do next."""

    kind: str  # acked | resend | retry | shrink | stop
    seq: int | None = None  # acked: HQ's head; resend: the seq HQ expects next
    status: int = 0
    code: str = ""
    message: str = ""
    delay: float | None = None  # retry: what Retry-After asked for


class Forwarder:
    """Forward one store's journal to HQ until stopped."""

    def __init__(
        self,
        *,
        ledger_path: Path,
        store: str,
        settings: HqSettings,
        key: str,
        head: Callable[[], int],
        wall: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """Describe the link; `head()` gives the ledger's last committed seq."""
        self.ledger_path = ledger_path
        self.store = store
        self.settings = settings
        self.key = key
        self.head = head
        self.wall = wall
        self.rand = rand
        self.url = f"{settings.url.rstrip('/')}/v1/stores/{store}/batches"
        self.state_file = state_path(ledger_path)
        self.state: LinkState = load_state(self.state_file)
        self.limit = settings.batch_events
        self.max_bytes = min(settings.batch_bytes, MAX_COMPRESSED_BYTES)
        self.wake = asyncio.Event()  # new events were committed
        self.resume = asyncio.Event()  # an operator asked to retry a stopped link
        self.phase = "starting"
        self.oldest_unsent_ts: str | None = None
        self.next_attempt: float | None = None  # loop time of the next retry
        self.attempts = 0
        self.outcomes: dict[str, int] = {}
        self._ahead: tuple[int, asyncio.Future[Prepared | None]] | None = None
        # batches are read on one thread of their own: the connection is never shared, and
        # their memory comes back to one allocator arena instead of one per pool thread
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="hq-reader")

    # -- what others call -------------------------------------------------------------------

    def nudge(self, _events: object = None) -> None:
        """Wake the forwarder: new events were committed (a ledger listener)."""
        self.wake.set()

    def retry(self) -> bool:
        """Resume a stopped link (the operator's `edge hq retry`); False if it was not stopped."""
        if self.state.stopped is None:
            return False
        self.resume.set()
        return True

    def status(self) -> dict[str, Any]:
        """Return the link's state for `edge hq status`, the API and the metrics."""
        loop = asyncio.get_running_loop()
        wait = None if self.next_attempt is None else max(0.0, self.next_attempt - loop.time())
        doc = status_doc(
            self.settings.url, self.phase, self.state,
            head=self.head(), oldest_ts=self.oldest_unsent_ts, now=self.wall(),
        )  # fmt: skip
        return doc | {
            "next_attempt_in_s": None if wait is None else round(wait, 3),
            "batches": dict(self.outcomes),
        }

    # -- the loop ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Forward until `stop` is set; never raises for anything HQ or the network does."""
        conn = await asyncio.to_thread(connect, self.ledger_path, read_only=True)
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        session = aiohttp.ClientSession(timeout=timeout)
        log.info("HQ link to %s from seq %d", self.settings.url, self.state.acked_seq + 1)
        try:
            while not stop.is_set():
                try:
                    await self._turn(conn, session, stop)
                except (sqlite3.Error, OSError, RuntimeError) as err:
                    # the ledger or the state file failed us: say so, wait, try again
                    log.exception("HQ link: the store side failed")
                    self._remember_error(0, "store_error", str(err))
                    await self._pause(stop, self._backoff())
        finally:
            self.phase = "stopped_by_shutdown"
            if self._ahead is not None:  # let a read ahead finish before the connection closes
                await asyncio.wait([self._ahead[1]])
            await session.close()
            await asyncio.to_thread(conn.close)
            self._reader.shutdown(wait=False)

    async def _turn(
        self, conn: sqlite3.Connection, session: aiohttp.ClientSession, stop: asyncio.Event
    ) -> None:
        """Do one step: wait while stopped, send the next batch, or idle."""
        if self.state.stopped is not None:
            await self._wait_for_operator(conn, stop)
            return
        head = self.head()
        if self.state.acked_seq > head:
            self._stop(
                self.state.acked_seq + 1, 0, "cursor_ahead",
                f"HQ acknowledged up to seq {self.state.acked_seq} but the ledger ends at "
                f"{head}: was the ledger restored from an older backup?",
            )  # fmt: skip
            await asyncio.to_thread(save_state, self.state_file, self.state)
            return
        self.wake.clear()
        batch = await self._next_batch(conn, self.state.acked_seq + 1)
        if batch is None:
            self.phase = "idle"
            self.oldest_unsent_ts = None
            await self._pause(stop, self.settings.idle_s, self.wake)
            return
        self.oldest_unsent_ts = batch.oldest_ts
        self.phase = "sending"
        # read and compress the next range while this one is in flight (HQ most often acks it)
        self._ahead = (batch.last + 1, self._read(conn, batch.last + 1))
        outcome = await self._send(session, batch)
        self.outcomes[outcome.kind] = self.outcomes.get(outcome.kind, 0) + 1
        await self._follow(outcome, batch, stop)

    async def _follow(self, outcome: Outcome, batch: Prepared, stop: asyncio.Event) -> None:
        """Move the cursor, back off or stop as the outcome says."""
        if outcome.kind == "acked" and outcome.seq is not None:
            self.state.acked_seq = outcome.seq
            self.state.acked_at = datetime.fromtimestamp(self.wall(), UTC).isoformat()
            self.attempts = 0
            if self.limit < self.settings.batch_events:
                self.limit = min(self.settings.batch_events, self.limit * 2)
            await asyncio.to_thread(save_state, self.state_file, self.state)
        elif outcome.kind == "resend" and outcome.seq is not None:
            log.warning("HQ expects seq %d (we sent %d..%d)", outcome.seq, batch.first, batch.last)
            self.state.acked_seq = outcome.seq - 1
            await asyncio.to_thread(save_state, self.state_file, self.state)
            self.attempts += 1
            if self.attempts > 2:  # HQ keeps moving the target: do not spin
                await self._pause(stop, self._backoff())
        elif outcome.kind == "shrink":
            self.limit = max(1, batch.count // 2)
            self.max_bytes = max(64 * 1024, self.max_bytes // 2)
        elif outcome.kind == "retry":
            self._remember_error(outcome.status, outcome.code, outcome.message)
            delay = self._backoff()
            if outcome.delay is not None:
                delay = min(RETRY_AFTER_MAX_S, outcome.delay)  # HQ's word, within reason
            self.phase = "retrying"
            log.warning(
                "HQ batch %d..%d: %s (%s); next try in %.1f s",
                batch.first, batch.last, outcome.code, outcome.message, delay,
            )  # fmt: skip
            await self._pause(stop, delay)
        else:
            self._stop(batch.first, outcome.status, outcome.code, outcome.message)
            await asyncio.to_thread(save_state, self.state_file, self.state)

    async def _next_batch(self, conn: sqlite3.Connection, first: int) -> Prepared | None:
        """Return the batch from `first`: the one read ahead if it fits, else read it now."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            start, task = ahead
            batch = await task  # (never two reads on the connection at once)
            if start == first and batch is not None and batch.count <= self.limit:
                return batch
        return await self._read(conn, first)

    def _read(self, conn: sqlite3.Connection, first: int) -> asyncio.Future[Prepared | None]:
        """Start reading the batch from `first` on the reader thread."""
        return asyncio.get_running_loop().run_in_executor(
            self._reader, self._read_batch, conn, first
        )

    def _stop(self, seq: int, status: int, code: str, message: str) -> None:
        """Stop forwarding at `seq` with an alarm (selling goes on)."""
        now = datetime.fromtimestamp(self.wall(), UTC).isoformat()
        self.state.stopped = Stop(seq=seq, status=status, code=code, message=message, at=now)
        self._remember_error(status, code, message)
        self.phase = "stopped"
        log.error("HQ link stopped at seq %d: %s %s", seq, code, message)

    def _remember_error(self, status: int, code: str, message: str) -> None:
        """Keep the last error for `edge hq status`."""
        at = datetime.fromtimestamp(self.wall(), UTC).isoformat()
        self.state.last_error = {"status": status, "code": code, "message": message, "at": at}

    async def _wait_for_operator(self, conn: sqlite3.Connection, stop: asyncio.Event) -> None:
        """While stopped: keep the oldest unsent event's time fresh and wait for a retry."""
        self.phase = "stopped"
        if self.oldest_unsent_ts is None:
            self.oldest_unsent_ts = await asyncio.to_thread(
                _event_ts, conn, self.state.acked_seq + 1
            )
        if self.resume.is_set() or await asyncio.to_thread(take_retry, self.ledger_path):
            self.resume.clear()
            log.warning("HQ link: retrying from seq %d on request", self.state.acked_seq + 1)
            self.state.stopped = None
            self.attempts = 0
            await asyncio.to_thread(save_state, self.state_file, self.state)
            return
        await self._pause(stop, self.settings.idle_s, self.resume)

    def _backoff(self) -> float:
        """Return the next delay: full jitter over 1 s × 2^attempts, capped."""
        delay = full_jitter(self.rand, self.attempts, self.settings.backoff_max_s)
        self.attempts += 1
        return delay

    async def _pause(self, stop: asyncio.Event, seconds: float, *wake: asyncio.Event) -> None:
        """Sleep on the monotonic clock until `seconds` pass, `stop` or a `wake` event is set."""
        self.next_attempt = asyncio.get_running_loop().time() + seconds
        try:
            await pause(seconds, stop, *wake)
        finally:
            self.next_attempt = None

    # -- one batch --------------------------------------------------------------------------

    def _read_batch(
        self, conn: sqlite3.Connection, first: int, limit: int | None = None
    ) -> Prepared | None:
        """Read and compress the next batch (on the reader thread); None when nothing is unsent.

        Rows stream from the cursor into the compressor, so only the compressed batch is held;
        it ends at `limit` events or when the compressed size nears the byte cap (the
        compressor may still hold some output back: a batch that ends up over the cap anyway
        is read again with half as many events).
        """
        limit = self.limit if limit is None else limit
        slack = min(BATCH_SLACK, self.max_bytes // 4)
        cursor = conn.execute(WIRE_SELECT, (first, limit))
        writer: BatchWriter | None = None
        oldest = ""
        while rows := cursor.fetchmany(FETCH_ROWS):
            for seq, ts, prev_hash, event_json in rows:
                if writer is None:
                    writer, oldest = BatchWriter(self.store, seq, prev_hash), ts
                if seq != first + writer.count:
                    raise RuntimeError(f"the journal has a gap after seq {seq - 1}")
                writer.add(event_json)
                if writer.size + slack >= self.max_bytes:
                    break
            else:
                continue
            break
        cursor.close()
        if writer is None:
            return None
        count, body = writer.count, writer.finish()
        if len(body) > self.max_bytes and count > 1:
            return self._read_batch(conn, first, count // 2)
        return Prepared(first, first + count - 1, body, oldest)

    async def _send(self, session: aiohttp.ClientSession, batch: Prepared) -> Outcome:
        """Send one batch and judge HQ's answer (a clock correction earns one more try)."""
        for _ in range(2):
            skew_before = self.state.skew_s
            t = int(self.wall() + skew_before)
            headers = {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                IDEMPOTENCY_HEADER: idempotency_key(self.store, batch.first, batch.last),
                SIGNATURE_HEADER: sign(self.key, t, batch.body),
            }
            try:
                async with session.post(self.url, data=batch.body, headers=headers) as resp:
                    self.learn_skew(resp.headers.get("Date"))
                    raw = await read_body(resp, ANSWER_LIMIT) or b""
                    status, retry_after = resp.status, resp.headers.get("Retry-After")
            except TimeoutError:
                return Outcome("retry", code="timeout", message="no answer in time")
            except aiohttp.ClientError as err:
                return Outcome("retry", code="unreachable", message=f"{type(err).__name__}: {err}")
            if status == 401 and abs(self.state.skew_s - skew_before) >= SKEW_NOISE_S:
                continue  # signed with a clock HQ just told us is wrong
            return self._judge(status, raw, retry_after)
        return self._judge(status, raw, retry_after)

    def learn_skew(self, date: str | None) -> None:
        """Correct the signing clock by HQ's Date header (a Pi may boot with a wrong clock)."""
        if not date:
            return
        try:
            hq_time = parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError, IndexError):
            return
        skew = hq_time - self.wall()
        if abs(skew - self.state.skew_s) >= SKEW_NOISE_S:
            log.warning("HQ's clock is %.0f s from ours: signing with its time", skew)
            self.state.skew_s = round(skew, 1)

    def _judge(self, status: int, raw: bytes, retry_after: str | None) -> Outcome:
        """Turn HQ's answer into an outcome."""
        doc = _json_object(raw)
        code, message = error_of(doc, raw, status)
        head = self.head()
        if status == 200:
            acked = doc.get("acked_seq")
            if not _is_seq(acked, allow_zero=True):
                return Outcome("retry", status=status, code="bad_answer", message="no acked_seq")
            if acked > head:
                return Outcome(
                    "stop", status=status, code="hq_ahead",
                    message=f"HQ holds up to seq {acked} but the ledger ends at {head}",
                )  # fmt: skip
            return Outcome("acked", seq=acked, status=status)
        if status == 409:
            expected = doc.get("expected_seq")
            if not _is_seq(expected, allow_zero=False):
                return Outcome("retry", status=status, code="bad_answer", message="no expected_seq")
            if expected - 1 > head:
                return Outcome(
                    "stop", status=status, code="hq_ahead",
                    message=f"HQ expects seq {expected} but the ledger ends at {head}",
                )  # fmt: skip
            return Outcome("resend", seq=expected, status=status)
        if status == 413:
            return Outcome("shrink", status=status, code=code, message=message)
        if status in STOP_STATUSES:
            return Outcome("stop", status=status, code=code, message=message)
        if status in RETRY_STATUSES or status >= 500 or status < 200:
            delay = retry_after_seconds(retry_after)
            return Outcome("retry", status=status, code=code, message=message, delay=delay)
        return Outcome("stop", status=status, code=code, message=message)


def full_jitter(rand: Callable[[], float], attempts: int, cap_s: float) -> float:
    """Return a retry delay: uniform over [0, min(cap, 1 s × 2^attempts)] (full jitter)."""
    return float(rand() * min(float(cap_s), BACKOFF_BASE_S * 2.0 ** min(attempts, 30)))


async def pause(seconds: float, *until: asyncio.Event) -> None:
    """Sleep on the monotonic clock for `seconds`, or until one of the events is set."""
    waiters = [asyncio.ensure_future(event.wait()) for event in until]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def error_of(doc: object, raw: bytes, status: int) -> tuple[str, str]:
    """Return (code, message) of an answer: the contract's error body, else the raw text."""
    error = doc.get("error") if isinstance(doc, dict) else None
    if not isinstance(error, dict):
        error = {}
    code = str(error.get("code", f"http_{status}"))
    return code, str(error.get("message", raw[:200].decode("utf-8", "replace")))


async def read_body(resp: aiohttp.ClientResponse, limit: int) -> bytes | None:
    """Read a whole answer body, or None once it grows beyond `limit` (never held further)."""
    parts: list[bytes] = []
    size = 0
    while chunk := await resp.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        parts.append(chunk)
    return b"".join(parts)


def _json_object(raw: bytes) -> dict[str, Any]:
    """Return the JSON object of an answer, or {} for anything else."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _is_seq(value: object, *, allow_zero: bool) -> TypeGuard[int]:
    """Tell whether an answer's number is a usable seq."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and value >= (0 if allow_zero else 1)
    )


def _event_ts(conn: sqlite3.Connection, seq: int) -> str | None:
    """Return the time of event `seq`, or None if it does not exist yet."""
    row = conn.execute("SELECT ts FROM journal WHERE seq = ?", (seq,)).fetchone()
    return None if row is None else str(row[0])


def age_seconds(ts: str | None, now: float) -> float:
    """Return how old an event time is (0 for none)."""
    if ts is None:
        return 0.0
    with contextlib.suppress(ValueError):
        return max(0.0, round(now - datetime.fromisoformat(ts).timestamp(), 3))
    return 0.0


def offline_status(ledger_path: Path, url: str, wall: float | None = None) -> dict[str, Any]:
    """Return the link's status, catalog included, from the state file and the ledger.

    Works whether the server runs or not (`edge hq status`, worker processes).
    """
    state = load_state(state_path(ledger_path))
    conn = connect(ledger_path, read_only=True)
    try:
        head = journal_tail(conn)[0]
        oldest = _event_ts(conn, state.acked_seq + 1) if head > state.acked_seq else None
        catalog = sync_state_in(conn)
    finally:
        conn.close()
    now = time.time() if wall is None else wall
    phase = "idle" if head <= state.acked_seq else "behind"
    phase = "stopped" if state.stopped else phase
    doc = status_doc(url, phase, state, head=head, oldest_ts=oldest, now=now)
    return doc | {"retry_requested": retry_path(ledger_path).exists(), "downlink": catalog}


def status_doc(
    url: str, phase: str, state: LinkState, *, head: int, oldest_ts: str | None, now: float
) -> dict[str, Any]:
    """Return the status fields the running link and `edge hq status` share."""
    backlog = max(0, head - state.acked_seq)
    return {
        "url": url,
        "state": phase,
        "acked_seq": state.acked_seq,
        "acked_at": state.acked_at,
        "head_seq": head,
        "backlog_events": backlog,
        "oldest_unsent_ts": oldest_ts if backlog else None,
        "oldest_unsent_age_s": age_seconds(oldest_ts, now) if backlog else 0.0,
        "last_error": state.last_error,
        "stopped": None if state.stopped is None else vars(state.stopped),
        "clock_skew_s": state.skew_s,
    }
