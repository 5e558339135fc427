"""`edge hq recover`: take back from HQ the events a restored (or lost) ledger no longer has.

After a disk failure the store restores last night's backup, or starts from nothing; HQ holds
every event it acknowledged. With the server stopped, this asks HQ for the events after the
ledger's head (`GET {hq}/v1/stores/{store}/events?after={seq}`, signed like the catalog) and
re-appends them exactly as they were — same seq, id, time, data and hash — after checking that
each batch continues this ledger's chain; the projections (stock, balances, receipts numbers…)
follow as for any append. A ledger that already went its own way after the restore (sales made
before recovering) does not continue HQ's chain: nothing is appended and the fork is named.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

from edge.hq.downlink import signed_get
from edge.hq.forwarder import Forwarder, error_of
from edge.hq.state import load_state, save_state, state_path
from edge.ledger.journal import Tx
from edge.ledger.ledger import Ledger
from edge.protocol.hq import MAX_INFLATED_BYTES, BatchError, decode_batch, verify_batch
from edge.settings import Settings

STOPS_CLEARED = frozenset({"cursor_ahead"})  # alarms a completed recovery answers


class RecoverError(Exception):
    """Recovery cannot go on (HQ unreachable or refusing, a fork, a bad answer)."""


@dataclass
class Recovered:
    """What a recovery did."""

    before: int  # the ledger's head before
    after: int  # and after
    batches: int = 0

    @property
    def events(self) -> int:
        """Return how many events came back."""
        return self.after - self.before


async def recover(
    settings: Settings, *, say: Callable[[str], None] = print, limit: int = 5000
) -> Recovered:
    """Re-append the events HQ holds after this ledger's head; return what was done."""
    key = settings.secrets.hq_key
    if not settings.hq.url or not key:
        raise RecoverError("recovery needs hq.url and the hq-key credential")
    ledger = Ledger(settings.ledger_path, store_id=settings.store.id, require_initialized=False)
    await ledger.start()  # the writer's lock: refused while `edge serve` runs
    try:
        checked = await ledger.verify()
        if not checked.ok:
            raise RecoverError(
                f"this ledger's own chain breaks at seq {checked.bad_seq}: {checked.reason}"
            )
        link = Forwarder(
            ledger_path=settings.ledger_path,
            store=settings.store.id,
            settings=settings.hq,
            key=key,
            head=lambda: ledger.head[0],
        )
        done = Recovered(ledger.head[0], ledger.head[0])
        base = f"{settings.hq.url.rstrip('/')}/v1/stores/{settings.store.id}/events"
        timeout = aiohttp.ClientTimeout(total=max(60, settings.hq.timeout_s))
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                seq, hash_ = ledger.head
                url = f"{base}?after={seq}&limit={limit}"
                try:
                    status, raw, _ = await signed_get(session, url, link, MAX_INFLATED_BYTES)
                except (TimeoutError, aiohttp.ClientError) as err:
                    raise RecoverError(f"HQ unreachable: {type(err).__name__}: {err}") from err
                if status == 204:
                    break
                if status != 200 or raw is None:
                    raise RecoverError(f"HQ answered {status}: {_message(raw, status)}")
                count = await _append(ledger, settings.store.id, raw, seq, hash_)
                done.batches += 1
                done.after = ledger.head[0]
                say(f"recovered seq {seq + 1}..{seq + count} from HQ")
        state = load_state(state_path(settings.ledger_path))
        state.acked_seq = done.after  # HQ holds nothing beyond it: it has all of this
        if state.stopped is not None and state.stopped.code in STOPS_CLEARED:
            state.stopped = None
        save_state(state_path(settings.ledger_path), state)
        return done
    finally:
        await ledger.stop()


async def _append(ledger: Ledger, store: str, raw: bytes, seq: int, hash_: str) -> int:
    """Check one batch from HQ against this ledger's head and re-append it; return its size."""
    try:
        batch = decode_batch(raw, store=store, idempotency=False)
    except BatchError as err:
        raise RecoverError(f"HQ's answer is not a batch: {err.message}") from err
    if batch.first_seq != seq + 1:
        raise RecoverError(f"HQ sent seq {batch.first_seq} when seq {seq + 1} was asked for")
    if batch.prev_hash != hash_:
        raise RecoverError(
            f"HQ's seq {seq + 1} does not follow this ledger's seq {seq}: the ledger went its own"
            " way after the restore (sales made before recovering). Nothing was changed; keep"
            " this ledger aside and ask HQ to reconcile the two histories"
        )
    try:
        texts = verify_batch(batch)
    except BatchError as err:
        raise RecoverError(f"HQ's events do not verify: {err.message}") from err

    def command(tx: Tx) -> int:
        for event, text in zip(batch.events, texts, strict=True):
            tx.restore(event, text)
        return len(texts)

    return await ledger.submit(command, offload=True)


def _message(raw: bytes | None, status: int) -> str:
    """Return HQ's error from its answer."""
    if raw is None:
        return "(answer too large)"
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    code, message = error_of(doc, raw, status)
    return f"{code}: {message}"
