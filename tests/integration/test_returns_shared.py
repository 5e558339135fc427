"""Two server processes sharing one ledger never pay out one return's card refund twice."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from edge.app import store_pricing
from edge.domain.catalog import category_from_fields, product_from_fields
from edge.domain.days import Hours
from edge.domain.errors import Conflict
from edge.domain.tenders import TenderInput
from edge.ledger.ledger import Ledger, utc_clock
from edge.services.basket import BasketRequest, LineRequest
from edge.services.catalog import Actor, save_category, save_product
from edge.services.checkout import Checkout, SaleRequest
from edge.services.days import Days
from edge.services.payments import APPROVE_CARD, SimulatedTerminal
from edge.services.returns import ReturnLine, ReturnRequest, Returns
from edge.services.store import init_store_ledger
from edge.settings import PathSettings, Settings
from tests.conftest import STORE


def checkout_on(ledger: Ledger, settings: Settings, terminal: SimulatedTerminal) -> Checkout:
    return Checkout(
        ledger, store_pricing(settings), terminal, currency="CNY", exponent=2, cash_rounding=1,
        cash_rounding_mode="half_up", clock=utc_clock,
    )  # fmt: skip


async def test_concurrent_returns_of_one_sale_in_two_processes_refund_once(
    tmp_path: Path,
) -> None:
    settings = Settings(store=STORE, paths=PathSettings(data_dir=tmp_path / "data"))
    await init_store_ledger(settings)
    first = Ledger(settings.ledger_path, store_id=STORE.id, shared=True)
    await first.start()
    second = Ledger(settings.ledger_path, store_id=STORE.id, shared=True, exclusive=False)
    await second.start()
    terminal = SimulatedTerminal()  # the one card acquirer both processes talk to
    actor = Actor(staff="S01", till="T1")
    try:
        await save_category(first, category_from_fields({"id": "c", "name_zh": "c"}), actor)
        fields = {"id": "P1", "name_zh": "P1", "category": "c", "list_price": "10.00"}
        await save_product(first, product_from_fields(fields), actor)
        await Days(first, Hours({}, always_open=True), settings.tz, utc_clock).open_till(actor, 0)
        sale_id = str(uuid.uuid4())
        sale = SaleRequest(
            sale_id,
            BasketRequest((LineRequest(product="P1", quantity=1),)),
            (TenderInput("card", 1_000, presented=APPROVE_CARD),),
            sale_id,
            actor,
        )
        await checkout_on(first, settings, terminal).complete_sale(sale)
        refunders = [Returns(checkout_on(ledger, settings, terminal)) for ledger in (first, second)]

        def whole(n: int) -> ReturnRequest:
            rid = str(uuid.uuid4())
            return ReturnRequest(rid, sale_id, None, (ReturnLine(0),), f"r{n}", False, rid, actor)

        outcomes = await asyncio.gather(
            refunders[0].return_items(whole(0)),
            refunders[1].return_items(whole(1)),
            return_exceptions=True,
        )
    finally:
        await second.stop()
        await first.stop()
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(refused) == 1 and isinstance(refused[0], Conflict), outcomes
    assert len(terminal.refunds) == 1  # the card got its 10.00 back once
