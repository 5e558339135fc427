"""`edge demo`: a complete demo store in the foreground, described in DIR/demo.json."""

from __future__ import annotations

import csv
import json
import os
from importlib import resources
from pathlib import Path

from aiohttp import web

from edge.domain.barcode import gtin_check_digit, measure_check_digit
from edge.domain.catalog import category_from_fields
from edge.ledger.ledger import Ledger
from edge.server import run_server
from edge.services.catalog import Actor, import_products, read_product_csv, save_category
from edge.services.store import init_store_ledger
from edge.settings import (
    HttpSettings,
    PathSettings,
    Settings,
    StoreSettings,
    load_settings,
    render_toml,
)

_DATA = resources.files("edge.demo_data")
DEMO_ACTOR = Actor(staff="demo")
DEMO_STORE = StoreSettings(
    id="DEMO-001",
    name="演示便利店 Demo Store",
    currency="CNY",
    timezone="Asia/Shanghai",
    locale="zh-CN",
)


def write_demo_config(data_dir: Path, host: str, port: int) -> Path:
    """Write DIR/edge.toml for the demo store; return its path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(
        store=DEMO_STORE,
        paths=PathSettings(data_dir=data_dir.resolve()),
        http=HttpSettings(host=host, port=port),
    )
    config = data_dir / "edge.toml"
    config.write_text(render_toml(settings), encoding="utf-8")
    return config


def demo_description(settings: Settings, base_url: str) -> dict[str, object]:
    """Return what demo.json tells scripts and people: URLs, broker, logins, devices."""
    return {
        "store": {"id": settings.store.id, "name": settings.store.name},
        "pid": os.getpid(),
        "config": str(settings.source),
        "ledger": str(settings.ledger_path),
        "urls": {
            "base": base_url,
            "healthz": f"{base_url}/healthz",
            "readyz": f"{base_url}/readyz",
            "store": f"{base_url}/api/v1/store",
            "products": f"{base_url}/api/v1/products",
            "openapi": f"{base_url}/api/v1/openapi.json",
        },
        "broker": None,
        "staff": [],
        "devices": [],
    }


def weight_label(plu: str, grams: int) -> str:
    """Return the EAN-13 a scale prints for `grams` of PLU `plu` (the demo's 28 layout)."""
    value = f"{grams:04d}"
    body = "28" + plu.zfill(5) + str(measure_check_digit(value)) + value
    return body + str(gtin_check_digit(body))


async def seed_demo_catalog(settings: Settings) -> dict[str, object]:
    """Load the demo categories and products (unchanged ones append nothing)."""
    ledger = Ledger(settings.ledger_path, store_id=settings.store.id)
    await ledger.start()
    try:
        with _DATA.joinpath("categories.csv").open(encoding="utf-8") as file:
            for row in csv.DictReader(file):
                await save_category(ledger, category_from_fields(row), DEMO_ACTOR)
        text = _DATA.joinpath("products.csv").read_text(encoding="utf-8")
        rows, problems = read_product_csv(text)
        if problems:
            raise RuntimeError(f"demo catalog: {problems}")
        report = await import_products(ledger, rows, DEMO_ACTOR)
        if report.errors:
            raise RuntimeError(f"demo catalog: {report.errors}")
    finally:
        await ledger.stop()
    return {
        "products": len(rows),
        "scan_examples": {
            "Coca-Cola 330ml (EAN-13)": "6901234567892",
            "Whole milk 1L (EAN-13)": "6901234567816",
            "Fuji apples 1.250 kg (weight label)": weight_label("4011", 1250),
            "Bananas (PLU)": "4012",
        },
    }


async def run_demo(data_dir: Path, host: str, port: int) -> None:
    """Prepare the demo store and serve it until stopped; demo.json exists while it runs."""
    config = write_demo_config(data_dir, host, port)
    settings = load_settings(config, env={})
    await init_store_ledger(settings)
    catalog = await seed_demo_catalog(settings)
    description_file = data_dir / "demo.json"
    description_file.unlink(missing_ok=True)

    async def on_ready(app: web.Application, base_url: str) -> None:
        description = demo_description(settings, base_url) | {"catalog": catalog}
        temporary = description_file.with_suffix(".json.partial")
        temporary.write_text(json.dumps(description, ensure_ascii=False, indent=2), "utf-8")
        temporary.replace(description_file)
        print(f"store-edge demo store {settings.store.id} is ready:", flush=True)  # noqa: T201
        for name, url in description["urls"].items():  # type: ignore[attr-defined]
            print(f"  {name:<8} {url}", flush=True)  # noqa: T201
        print(f"  details  {description_file}   (Ctrl-C stops the demo)", flush=True)  # noqa: T201

    try:
        await run_server(settings, on_ready=on_ready)
    finally:
        description_file.unlink(missing_ok=True)
