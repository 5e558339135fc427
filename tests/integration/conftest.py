"""Fixtures for HTTP tests: an initialized store and a client on a real server."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from edge.services.catalog import Actor
from edge.services.store import init_store_ledger
from edge.settings import PathSettings, Settings
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
