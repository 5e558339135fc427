"""The catalog downlink: ask HQ for changes after the ledger's version, apply them all or none.

Every `catalog_interval_s` (and at start) the store signs `GET {hq}/v1/stores/{store}/catalog
?since={version}` like a batch (the path and query are what is signed), reads the pages up to
HQ's latest version (at most MAX_CHANGES at once) and hands them to the downlink service, which
applies them in one ledger command or records why it refused them. The version lives in the
ledger, so nothing here needs saving. HQ being down only delays the next catalog: selling and
the uplink go on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from edge.domain.errors import DomainError
from edge.hq.forwarder import (
    SKEW_NOISE_S,
    Forwarder,
    error_of,
    full_jitter,
    pause,
    read_body,
)
from edge.ledger.ledger import Ledger
from edge.protocol.hq import SIGNATURE_HEADER, retry_after_seconds, sign
from edge.services.downlink import Change, SyncResult, apply_changes, read_changes, sync_state

log = logging.getLogger(__name__)

MAX_CHANGES = 20_000  # changes applied in one command; more are applied in further rounds
PAGE_LIMIT = 32 * 1024 * 1024  # one page's answer is never held beyond this


class DownlinkError(Exception):
    """HQ's answer could not be used (the sync is tried again later)."""

    def __init__(self, status: int, code: str, message: str, delay: float | None = None) -> None:
        """Keep what went wrong and how long HQ asked us to wait."""
        super().__init__(message)
        self.status, self.code, self.message, self.delay = status, code, message, delay


class Downlink:
    """Keep one store's catalog in step with HQ's until stopped."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        forwarder: Forwarder,
        rand: Callable[[], float] = random.random,
    ) -> None:
        """Share the forwarder's store, key, settings and clock correction."""
        self.ledger = ledger
        self.forwarder = forwarder
        self.settings = forwarder.settings
        self.rand = rand
        base = self.settings.url.rstrip("/")
        self.url = f"{base}/v1/stores/{forwarder.store}/catalog"
        self.wake = asyncio.Event()
        self.phase = "starting" if self.settings.catalog_interval_s > 0 else "off"
        self.last_error: dict[str, Any] | None = None
        self.last_sync_at: float | None = None  # wall time of the last answer used
        self.last_result: SyncResult | None = None
        self.failures = 0
        self.next_sync: float | None = None  # loop time
        self.totals: dict[str, int] = {"syncs": 0, "rejected": 0, "changes": 0}
        self._ledger_state: dict[str, Any] = {"version": 0, "rejected": None}
        self._told: tuple[int, int] | None = None

    def sync_now(self) -> None:
        """Ask for a sync at once (an operator's request)."""
        self.wake.set()

    def status(self) -> dict[str, Any]:
        """Return the downlink's state for the API, `edge hq status` and the metrics."""
        wait = None
        if self.next_sync is not None:
            wait = round(max(0.0, self.next_sync - asyncio.get_running_loop().time()), 3)
        return {
            "state": self.phase,
            "interval_s": self.settings.catalog_interval_s,
            "version": self._ledger_state["version"],
            "synced_ts": self._ledger_state.get("synced_ts"),
            "last_sync_at": self.last_sync_at,
            "rejected": self._ledger_state["rejected"],
            "last_error": self.last_error,
            "next_sync_in_s": wait,
            "totals": dict(self.totals),
        }

    async def run(self, stop: asyncio.Event) -> None:
        """Sync now and every interval until `stop` is set; never raises for HQ's doings."""
        if self.settings.catalog_interval_s <= 0:  # off: show the ledger's version all the same
            self._ledger_state = await sync_state(self.ledger)
            return
        timeout = aiohttp.ClientTimeout(total=self.settings.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not stop.is_set():
                delay = float(self.settings.catalog_interval_s)
                try:
                    more = await self.sync_once(session)
                    self.failures = 0
                    if more:
                        delay = 0.0
                except DownlinkError as err:
                    delay = self._failed(err.status, err.code, err.message, err.delay)
                except DomainError as err:  # e.g. the version moved under us: read it again
                    delay = self._failed(0, err.code, err.message, None)
                except (TimeoutError, aiohttp.ClientError) as err:
                    delay = self._failed(0, "unreachable", f"{type(err).__name__}: {err}", None)
                await self._pause(stop, delay)
        self.phase = "stopped_by_shutdown"

    async def sync_once(self, session: aiohttp.ClientSession) -> bool:
        """Fetch and apply the changes after the ledger's version; True if more are waiting."""
        self._ledger_state = await sync_state(self.ledger)
        since = int(self._ledger_state["version"])
        self.phase = "syncing"
        changes: list[Change] = []
        version, more = since, True
        while more and len(changes) < MAX_CHANGES:
            doc = await self._page(session, version)
            page = read_changes(doc.get("changes"))
            if page and page[0].version <= version:
                raise DownlinkError(200, "bad_downlink", "HQ sent a version already held")
            new_version = doc.get("version")
            if not isinstance(new_version, int) or isinstance(new_version, bool):
                raise DownlinkError(200, "bad_downlink", "HQ's answer has no version")
            if new_version < version or (page and new_version < page[-1].version):
                raise DownlinkError(200, "bad_downlink", "HQ's version went backwards")
            changes.extend(page)
            version, more = new_version, doc.get("more") is True
        self.last_sync_at = time.time()
        self.last_error = None
        if version == since and not changes:
            self.phase = "rejected" if self._ledger_state["rejected"] else "idle"
            return False
        result = await apply_changes(self.ledger, changes, from_version=since, version=version)
        self.last_result = result
        self.totals["syncs"] += 1
        self._ledger_state = await sync_state(self.ledger)
        if result.rejected:
            self.totals["rejected"] += 1
            self.phase = "rejected"
            told = (version, len(result.problems))
            if told != self._told:  # said once per refusal, not at every interval
                self._told = told
                log.error(
                    "HQ catalog changes %d..%d refused whole (%d problems, first: %s)",
                    since + 1, version, len(result.problems), result.problems[0],
                )  # fmt: skip
            return False
        self.totals["changes"] += result.changes
        self.phase = "idle"
        log.info("HQ catalog applied up to version %d (%d changes)", version, result.changes)
        return more

    async def _page(self, session: aiohttp.ClientSession, since: int) -> dict[str, Any]:
        """GET one signed page of changes after `since`."""
        status, raw, retry_after = await signed_get(
            session, f"{self.url}?since={since}", self.forwarder, PAGE_LIMIT
        )
        if raw is None:
            raise DownlinkError(status, "too_large", "HQ's catalog page is too large")
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            doc = None
        if status != 200:
            code, message = error_of(doc, raw, status)
            raise DownlinkError(status, code, message, retry_after_seconds(retry_after))
        if not isinstance(doc, dict):
            raise DownlinkError(status, "bad_downlink", "HQ's answer is not a JSON object")
        return doc

    def _failed(self, status: int, code: str, message: str, asked: float | None) -> float:
        """Note a failed sync and return how long to wait: backoff, Retry-After, or interval."""
        self.failures += 1
        self.phase = "error"
        self.last_error = {"status": status, "code": code, "message": message, "at": time.time()}
        log.warning("HQ catalog sync failed: %s %s", code, message)
        cap = min(self.settings.backoff_max_s, self.settings.catalog_interval_s)
        delay = full_jitter(self.rand, self.failures, cap)
        return max(delay, float(asked)) if asked is not None else delay

    async def _pause(self, stop: asyncio.Event, delay: float) -> None:
        """Wait `delay` seconds, or less if stopped or asked to sync now."""
        self.next_sync = asyncio.get_running_loop().time() + delay
        try:
            await pause(delay, stop, self.wake)
        finally:
            self.wake.clear()
            self.next_sync = None


async def signed_get(
    session: aiohttp.ClientSession, url: str, link: Forwarder, limit: int
) -> tuple[int, bytes | None, str | None]:
    """GET `url` signed over its path and query with the link's key and corrected clock.

    Returns (status, body or None when larger than `limit`, Retry-After). A 401 right after
    HQ's Date corrected the clock is asked once more with the corrected time.
    """
    signed = URL(url).raw_path_qs.encode("utf-8")
    for attempt in range(2):
        skew_before = link.state.skew_s
        headers = {SIGNATURE_HEADER: sign(link.key, int(link.wall() + skew_before), signed)}
        async with session.get(url, headers=headers) as resp:
            link.learn_skew(resp.headers.get("Date"))
            raw = await read_body(resp, limit)
            status, retry_after = resp.status, resp.headers.get("Retry-After")
        corrected = abs(link.state.skew_s - skew_before) >= SKEW_NOISE_S
        if not (status == 401 and corrected and attempt == 0):
            break
    return status, raw, retry_after
