"""The application factory: one store server, resources opened in cleanup_ctx in start order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from aiohttp import web

from edge.domain.barcode import VariableMeasureRule
from edge.domain.days import parse_hours
from edge.domain.payments import PaymentProvider
from edge.domain.points import PointsRules
from edge.domain.tax import TaxPolicy
from edge.domain.tenders import currency_exponent
from edge.ledger.ledger import Ledger, utc_clock
from edge.services.auth import Auth, store_pepper
from edge.services.basket import Pricing
from edge.services.checkout import Checkout
from edge.services.days import Days
from edge.services.office import Office
from edge.services.orders import Orders
from edge.services.payments import SimulatedTerminal
from edge.services.returns import Returns
from edge.settings import Settings
from edge.web import (
    auth,
    baskets,
    catalog,
    days,
    health,
    inventory,
    members,
    office,
    openapi,
    orders,
    promotions,
    receipts,
    returns,
    sales,
)
from edge.web.errors import error_middleware
from edge.web.keys import (
    APIS,
    AUTH,
    CHECKOUT,
    DAYS,
    LEDGER,
    OFFICE,
    ORDERS,
    READINESS,
    RETURNS,
    SETTINGS,
)
from edge.web.readiness import Readiness

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def store_pricing(settings: Settings) -> Pricing:
    """Return the store's pricing rules from its settings."""
    tax = settings.tax
    return Pricing(
        policy=TaxPolicy(mode=tax.mode, rounding=tax.rounding, rates=dict(tax.rates)),  # type: ignore[arg-type]
        rules=tuple[VariableMeasureRule, ...](settings.barcodes.variable_measure),
        tz=settings.tz,
    )


def create_app(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utc_clock,
    payments: PaymentProvider | None = None,
    shared: bool = False,
    worker: bool = False,
) -> web.Application:
    """Build the store server's web application (nothing is opened until it starts).

    `payments` is the card/QR provider; without one the built-in simulator answers.
    `shared`: other processes of this server write to the ledger too; `worker`: this is one
    of them (its primary holds the store's writer lock).
    """
    app = web.Application(
        middlewares=[error_middleware, auth.auth_middleware], client_max_size=MAX_BODY_BYTES
    )
    app[SETTINGS] = settings
    readiness = Readiness()
    readiness.require("ledger")
    app[READINESS] = readiness

    async def ledger_ctx(app: web.Application) -> AsyncIterator[None]:
        ledger = Ledger(
            settings.ledger_path,
            store_id=settings.store.id,
            clock=clock,
            max_group=settings.ledger.max_group,
            readers=settings.ledger.readers,
            shared=shared or worker,
            exclusive=not worker,
        )
        await ledger.start()
        app[LEDGER] = ledger
        checkout = Checkout(
            ledger,
            store_pricing(settings),
            payments or SimulatedTerminal(),
            currency=settings.store.currency,
            exponent=currency_exponent(settings.store.currency),
            cash_rounding=settings.checkout.cash_rounding,
            cash_rounding_mode=settings.checkout.cash_rounding_mode,  # type: ignore[arg-type]
            clock=clock,
            payment_timeout=settings.checkout.payment_timeout_ms / 1000,
            allow_negative=settings.inventory.allow_negative,
            points=PointsRules(
                earn_per=settings.points.earn_per,
                redeem_value=settings.points.redeem_value,
                categories=dict(settings.points.categories),
                tiers=dict(settings.points.tiers),
            ),
            tiers=settings.members.tiers,
            block_expired=settings.inventory.block_expired,
        )
        app[CHECKOUT] = checkout
        app[RETURNS] = Returns(checkout)
        app[ORDERS] = Orders(checkout)
        app[AUTH] = Auth(ledger, settings.auth, store_pepper(settings), clock)
        hours = parse_hours(settings.hours.week(), settings.hours.holiday_list())
        app[DAYS] = Days(ledger, hours, settings.tz, clock)
        app[OFFICE] = Office(ledger, settings.tz, clock)
        verifier = asyncio.create_task(_verify_at_start(ledger, readiness), name="verify")
        yield
        verifier.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await verifier
        await ledger.stop()

    app.cleanup_ctx.append(ledger_ctx)
    apis = [
        health.api,
        auth.api,
        days.api,
        office.api,
        inventory.api,
        orders.api,
        openapi.api,
        catalog.api,
        promotions.api,
        members.api,
        sales.api,
        returns.api,
        baskets.api,
        receipts.api,
    ]
    app[APIS] = apis
    for api in apis:
        app.add_routes(api.routes)
    return app


async def _verify_at_start(ledger: Ledger, readiness: Readiness) -> None:
    """Verify the whole chain once at start; readiness follows the result."""
    readiness.set("ledger", ok=False, detail="verifying the hash chain")
    result = await ledger.verify()
    if result.ok:
        readiness.set("ledger", ok=True, detail=f"verified up to seq {result.head_seq}")
    else:
        log.critical("ledger chain broken at seq %s: %s", result.bad_seq, result.reason)
        readiness.set(
            "ledger", ok=False, detail=f"chain broken at seq {result.bad_seq}: {result.reason}"
        )
