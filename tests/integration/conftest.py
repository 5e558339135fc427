"""Fixtures for HTTP tests: an initialized store and a client on a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.services.store import init_store_ledger
from edge.settings import PathSettings, Settings
from tests.conftest import STORE


@pytest.fixture
async def settings(tmp_path: Path) -> Settings:
    settings = Settings(store=STORE, paths=PathSettings(data_dir=tmp_path / "data"))
    await init_store_ledger(settings)
    return settings
