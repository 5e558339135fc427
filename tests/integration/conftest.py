"""Fixtures for HTTP tests: an initialized store and a client on a real server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from edge.app import create_app
from edge.services.catalog import Actor
from edge.services.payments import SimulatedTerminal
from edge.services.store import init_store_ledger
from edge.settings import AuthSettings, PathSettings, Settings
from edge.web.keys import AUTH
from tests.conftest import STORE


@pytest.fixture
async def settings(tmp_path: Path) -> Settings:
    settings = Settings(store=STORE, paths=PathSettings(data_dir=tmp_path / "data"))
    await init_store_ledger(settings)
    return settings


async def authorize(
    client: TestClient, role: str = "manager", till: str | None = "T01", name: str = "tests"
) -> str:
    """Give the client an API token with `role` (on `till`) for every later request."""
    token = await client.server.app[AUTH].create_token(name, role, till, Actor())
    client.session.headers["Authorization"] = f"Bearer {token}"
    return token


class FakeClock:
    """A store clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(aiohttp_client: Any, settings: Settings, clock: FakeClock) -> Callable[..., Any]:
    async def make(**auth: Any) -> TestClient:
        tuned = Settings(
            store=settings.store,
            paths=settings.paths,
            auth=AuthSettings(**auth) if auth else settings.auth,
        )
        client: TestClient = await aiohttp_client(create_app(tuned, clock=clock))
        return client

    return make


@pytest.fixture
def terminal() -> SimulatedTerminal:
    """The card and QR simulator a test's store pays with (it can approve, decline, time out)."""
    return SimulatedTerminal()
