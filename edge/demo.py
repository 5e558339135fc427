"""`edge demo`: a complete demo store in the foreground, described in DIR/demo.json."""

from __future__ import annotations

import contextlib
import csv
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from edge.bus.broker import free_port
from edge.demo_devices import describe_devices, running_demo_devices, seed_demo_devices
from edge.domain.barcode import gtin_check_digit, measure_check_digit
from edge.domain.catalog import category_from_fields
from edge.domain.errors import Conflict
from edge.domain.members import member_from_fields
from edge.domain.promotions import promotion_from_fields
from edge.domain.tenders import TenderInput
from edge.ledger.ledger import Ledger, utc_clock
from edge.server import run_server
from edge.services.auth import Auth, StaffInput, store_pepper
from edge.services.basket import BasketRequest, LineRequest
from edge.services.catalog import Actor, import_products, read_product_csv, save_category
from edge.services.checkout import SaleRequest, fingerprint
from edge.services.inventory import move_stock
from edge.services.members import save_member
from edge.services.promotions import save_promotion
from edge.services.store import init_store_ledger
from edge.settings import (
    HttpSettings,
    MqttSettings,
    PathSettings,
    Settings,
    StoreSettings,
    load_settings,
    render_toml,
)
from edge.web.keys import BUS, CHECKOUT, DAYS

_DATA = resources.files("edge.demo_data")
DEMO_ACTOR = Actor(staff="demo")
DEMO_FLOAT = 20_000  # till T01 opens with 200.00 in the drawer
DEMO_DELIVERY = "00000000-0000-4000-8000-0000000000d1"  # the opening delivery's movement id
# (id, name, role, PIN): the demo's people; a real store sets PINs with `edge staff add`
DEMO_STAFF = (
    ("M01", "王经理 Manager Wang", "manager", "1357"),
    ("S01", "李主管 Supervisor Li", "supervisor", "2468"),
    ("C01", "张收银 Cashier Zhang", "cashier", "1470"),
)
DEMO_PROMOTIONS = (
    {
        "id": "SPEND50",
        "name_zh": "满50减5",
        "name_en": "Spend 50 save 5",
        "kind": "spend_save",
        "threshold": 5000,
        "amount": 500,
    },
    {
        "id": "DRINKS3FOR8",
        "name_zh": "饮料任选3件8元",
        "name_en": "Any 3 drinks for 8.00",
        "kind": "multi_buy",
        "scope": {"categories": ["drinks"]},
        "quantity": 3,
        "price": 800,
    },
    {
        "id": "CHIPS2GET1",
        "name_zh": "薯片买二送一",
        "name_en": "Chips: buy 2 get 1 free",
        "kind": "buy_n_get_m",
        "scope": {"products": ["CHIPS70"]},
        "buy": 2,
        "get": 1,
    },
    {
        "id": "WELCOME10",
        "name_zh": "新客券 满30减10",
        "name_en": "Welcome coupon: 10 off 30",
        "kind": "spend_save",
        "threshold": 3000,
        "amount": 1000,
        "coupon_code": "WELCOME10",
    },
)
# the screens a demo visitor pairs: two tills, the self-checkout, the back office
DEMO_SCREENS = ("T01", "T02", "kiosk-01", "OFFICE")
DEMO_MEMBER = {"id": "M0001", "name": "王小明", "phone": "13812348000", "card_no": "VIP-0001"}
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
        mqtt=MqttSettings(broker="embedded", host="127.0.0.1", port=free_port()),
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
            "till": f"{base_url}/till",
            "kiosk": f"{base_url}/kiosk",
            "attendant": f"{base_url}/attendant",
            "admin": f"{base_url}/admin",
            "healthz": f"{base_url}/healthz",
            "readyz": f"{base_url}/readyz",
            "store": f"{base_url}/api/v1/store",
            "products": f"{base_url}/api/v1/products",
            "openapi": f"{base_url}/api/v1/openapi.json",
        },
        "broker": None,
        "staff": [
            {"id": sid, "name": name, "role": role, "pin": pin}
            for sid, name, role, pin in DEMO_STAFF
        ],
        "devices": [],
    }


def weight_label(plu: str, grams: int) -> str:
    """Return the EAN-13 a scale prints for `grams` of PLU `plu` (the demo's 28 layout)."""
    value = f"{grams:04d}"
    body = "28" + plu.zfill(5) + str(measure_check_digit(value)) + value
    return body + str(gtin_check_digit(body))


async def seed_demo_catalog(settings: Settings) -> dict[str, Any]:
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
        for promotion in DEMO_PROMOTIONS:
            await save_promotion(ledger, promotion_from_fields(promotion), DEMO_ACTOR)
        await save_member(ledger, member_from_fields(DEMO_MEMBER), DEMO_ACTOR)
        # the opening delivery: pieces, or grams for weighed goods (once per demo ledger)
        delivery = {
            "supplier": "演示供应商 Demo supplier",
            "document": "DEMO-DN-0001",
            "items": [
                {"product": pid, "quantity": 20_000 if row.get("sold_by_weight") == "yes" else 48}
                for pid, row in ((r["id"], r) for _, r in rows)
            ],
        }
        with contextlib.suppress(Conflict):  # an older demo ledger got another delivery
            await move_stock(ledger, DEMO_DELIVERY, "receiving", delivery, DEMO_ACTOR)
        auth = Auth(ledger, settings.auth, store_pepper(settings), utc_clock)
        for sid, name, role, pin in DEMO_STAFF:
            known = ledger.reader.quick("SELECT 1 FROM staff WHERE id = ?", (sid,))
            await auth.save_staff(StaffInput(sid, name, role), None if known else pin, DEMO_ACTOR)
        token = await auth.create_token("demo", "manager", None, DEMO_ACTOR)
        pairings = {
            till: (await auth.create_pairing(till, f"Till {till[1:]}", DEMO_ACTOR))[0]
            for till in DEMO_SCREENS
        }
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
        "promotions": [p["id"] for p in DEMO_PROMOTIONS],
        "coupon_codes": ["WELCOME10"],
        "member": {"id": DEMO_MEMBER["id"], "phone": DEMO_MEMBER["phone"]},
        "api_token": token,
        "pairing_codes": pairings,
    }


DEMO_SALES = (
    # (lines, member, tenders): a member's basket with a weighed label, a multi-buy, a card split
    (
        [
            LineRequest(code=weight_label("4011", 1250)),
            LineRequest(code="6901234567892", quantity=3),
            LineRequest(code="6901234567816", quantity=2),
        ],
        "M0001",
        [TenderInput("card", 2000, presented="4111111111111111"), TenderInput("cash", 5000)],
    ),
    ([LineRequest(code="6901234567823", quantity=3)], None, [TenderInput("qr", 1300)]),
    ([LineRequest(product="BANANA", grams=980)], None, [TenderInput("cash", 1000)]),
)


async def make_demo_sales(app: web.Application) -> int:
    """Ring up the demo sales through the real checkout, once per demo ledger."""
    checkout = app[CHECKOUT]
    cashier = Actor(staff="C01", till="T01")
    with contextlib.suppress(Conflict):  # open since an earlier run of the demo
        await app[DAYS].open_till(cashier, DEMO_FLOAT)
    with contextlib.suppress(Conflict):  # the self-checkout takes no cash: no float
        await app[DAYS].open_till(Actor(staff="C01", till="kiosk-01"), 0)
    made = 0
    for number, (lines, member, tenders) in enumerate(DEMO_SALES, start=1):
        sale_id = f"00000000-0000-4000-8000-{number:012d}"
        body = {"demo_sale": number}
        request = SaleRequest(
            id=sale_id,
            basket=BasketRequest(lines=tuple(lines), member=member),
            tenders=tuple(tenders),
            fingerprint=fingerprint(body),
            actor=cashier,
        )
        if (await checkout.complete_sale(request)).replayed is False:
            made += 1
    return made


@dataclass(frozen=True)
class DemoStore:
    """A prepared demo store: its settings, catalog facts and device logins."""

    settings: Settings
    catalog: dict[str, Any]
    passwords: dict[str, str]


async def prepare_demo(data_dir: Path, host: str, port: int) -> DemoStore:
    """Write the demo's config and fill its ledger (catalog, staff, devices); nothing runs."""
    config = write_demo_config(data_dir, host, port)
    settings = load_settings(config, env={})
    await init_store_ledger(settings)
    catalog = await seed_demo_catalog(settings)
    passwords = await seed_demo_devices(settings)
    return DemoStore(settings, catalog, passwords)


async def run_demo(data_dir: Path, host: str, port: int) -> None:
    """Prepare the demo store and serve it until stopped; demo.json exists while it runs."""
    demo = await prepare_demo(data_dir, host, port)
    settings, catalog, passwords = demo.settings, demo.catalog, demo.passwords
    description_file = data_dir / "demo.json"
    description_file.unlink(missing_ok=True)
    devices = contextlib.AsyncExitStack()

    async def on_ready(app: web.Application, base_url: str) -> None:
        port = app[BUS].broker_port  # type: ignore[attr-defined]
        running = await devices.enter_async_context(running_demo_devices(settings, port, passwords))
        await make_demo_sales(app)
        description = demo_description(settings, base_url) | {
            "catalog": catalog,
            "broker": {"host": "127.0.0.1", "port": port, "store": settings.store.id},
            "devices": describe_devices(passwords),
            "simulators": running["simulators"],
        }
        temporary = description_file.with_suffix(".json.partial")
        temporary.write_text(json.dumps(description, ensure_ascii=False, indent=2), "utf-8")
        temporary.replace(description_file)
        print(f"store-edge demo store {settings.store.id} is ready:", flush=True)  # noqa: T201
        for name, url in description["urls"].items():  # type: ignore[attr-defined]
            print(f"  {name:<8} {url}", flush=True)  # noqa: T201
        codes = ", ".join(f"{t} {c}" for t, c in catalog["pairing_codes"].items())
        print(f"  pair a browser (one code per screen): {codes}", flush=True)  # noqa: T201
        people = ", ".join(f"{s[0]} ({s[2]}) PIN {s[3]}" for s in DEMO_STAFF)
        print(f"  staff    {people}", flush=True)  # noqa: T201
        print(f"  broker   mqtt://127.0.0.1:{port} (device logins in demo.json)", flush=True)  # noqa: T201
        panel = running["simulators"]["panel"]
        print(f"  devices  {panel} (scan, weigh, paper on the simulators)", flush=True)  # noqa: T201
        print(f"  details  {description_file}   (Ctrl-C stops the demo)", flush=True)  # noqa: T201

    try:
        await run_server(settings, on_ready=on_ready)
    finally:
        await devices.aclose()
        description_file.unlink(missing_ok=True)
