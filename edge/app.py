"""The application factory: one store server, resources opened in cleanup_ctx in start order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

from aiohttp import WSCloseCode, web

from edge.bus.broker import broker_files
from edge.bus.runtime import running_bus
from edge.domain.barcode import VariableMeasureRule
from edge.domain.days import parse_hours
from edge.domain.payments import PaymentProvider
from edge.domain.points import PointsRules
from edge.domain.tax import TaxPolicy
from edge.domain.tenders import currency_exponent
from edge.ledger.ledger import Ledger, utc_clock
from edge.metrics import METRICS, HqCollector, ServerMetrics
from edge.protocol.chain import Event
from edge.services.auth import Auth, store_pepper
from edge.services.basket import Pricing
from edge.services.checkout import Checkout
from edge.services.days import Days
from edge.services.device_center import DeviceCenter
from edge.services.device_health import DeviceHealth
from edge.services.devices import Devices
from edge.services.live import Hub
from edge.services.office import Office
from edge.services.orders import Orders
from edge.services.payments import SimulatedTerminal
from edge.services.printing import PrintJobs, ReceiptContext
from edge.services.readiness import Readiness
from edge.services.returns import Returns
from edge.services.uplink import NoUplink
from edge.settings import Settings
from edge.web import (
    auth,
    baskets,
    catalog,
    days,
    devices,
    health,
    hq,
    inventory,
    kiosk,
    members,
    office,
    openapi,
    orders,
    promotions,
    receipts,
    reports,
    returns,
    sales,
    ui,
)
from edge.web.errors import error_middleware
from edge.web.keys import (
    APIS,
    AUTH,
    BUS,
    CHECKOUT,
    DAYS,
    DEVICES,
    LEDGER,
    OFFICE,
    ORDERS,
    READINESS,
    RETURNS,
    SETTINGS,
    SOCKETS,
    UPLINK,
)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
HQ_STOP_GRACE_S = 3.0


def store_pricing(settings: Settings) -> Pricing:
    """Return the store's pricing rules from its settings."""
    tax = settings.tax
    return Pricing(
        policy=TaxPolicy(mode=tax.mode, rounding=tax.rounding, rates=dict(tax.rates)),  # type: ignore[arg-type]
        rules=tuple[VariableMeasureRule, ...](settings.barcodes.variable_measure),
        tz=settings.tz,
    )


@web.middleware
async def ledger_turn_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Shared ledger: run a group whose turn came before this request's own work."""
    ledger = request.app.get(LEDGER)
    if ledger is not None:
        ledger.pump()
    return await handler(request)


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
    middlewares = [error_middleware, auth.auth_middleware]
    if shared or worker:
        middlewares.insert(0, ledger_turn_middleware)
    app = web.Application(middlewares=middlewares, client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    readiness = Readiness()
    readiness.require("ledger")
    app[READINESS] = readiness
    app[METRICS] = ServerMetrics(settings.store.currency, worker=worker, shared=shared)

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

    async def devices_ctx(app: web.Application) -> AsyncIterator[None]:
        ledger = app[LEDGER]
        hub = Hub()
        center = DeviceCenter(
            Devices(ledger, settings.store.id, broker_files(settings)),
            DeviceHealth(hub, clock),
            PrintJobs(
                ledger, app[CHECKOUT], receipt_context(settings), settings.mqtt.print_timeout_s
            ),
            hub,
        )
        center.exponent = currency_exponent(settings.store.currency)
        app[DEVICES] = center
        app[SOCKETS] = set()
        if settings.mqtt.broker != "off" and not worker:
            readiness.require("broker")
        after_sale = _after_sale_hook(center)
        async with running_bus(settings, ledger, center, readiness, enabled=not worker) as bus:
            app[BUS] = bus
            if bus is not None:
                ledger.listen(after_sale)
            yield
            after_sale.stop()

    async def close_sockets(app: web.Application) -> None:
        sockets: set[web.WebSocketResponse] = app.get(SOCKETS, set())
        for socket in list(sockets):
            await socket.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

    app.cleanup_ctx.append(devices_ctx)
    app.cleanup_ctx.append(metrics_ctx)  # counts commits; what /metrics renders
    app.cleanup_ctx.append(_hq_ctx(settings, worker=worker))
    app.on_shutdown.append(close_sockets)
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
        devices.api,
        hq.api,
        kiosk.api,
        reports.api,
        ui.api,
    ]
    app[APIS] = apis
    for api in apis:
        app.add_routes(api.routes)
    return app


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the app's metrics once the ledger and devices run; stop them at the end."""
    metrics = app[METRICS]
    metrics.start(app[LEDGER], app[READINESS], app[DEVICES])
    yield
    await metrics.stop()


def _hq_ctx(
    settings: Settings, *, worker: bool
) -> Callable[[web.Application], AsyncIterator[None]]:
    """Return the context that runs the HQ forwarder (in the primary, when HQ is configured)."""

    async def hq_ctx(app: web.Application) -> AsyncIterator[None]:
        if not settings.hq.url:
            app[UPLINK] = NoUplink("no HQ configured (hq.url)")
            yield
            return
        if worker:
            from edge.hq.link import WorkerLink  # noqa: PLC0415 - only when HQ is configured

            app[UPLINK] = WorkerLink(settings.ledger_path, settings.hq.url)
            yield
            return
        if not settings.secrets.hq_key:
            log.error("hq.url is set but the hq-key credential is missing: not forwarding")
            app[UPLINK] = NoUplink("the hq-key credential is missing")
            yield
            return
        from edge.hq.downlink import Downlink  # noqa: PLC0415 - only when HQ is configured
        from edge.hq.forwarder import Forwarder  # noqa: PLC0415
        from edge.hq.link import HqLink  # noqa: PLC0415

        ledger = app[LEDGER]
        forwarder = Forwarder(
            ledger_path=settings.ledger_path,
            store=settings.store.id,
            settings=settings.hq,
            key=settings.secrets.hq_key,
            head=lambda: ledger.head[0],
        )
        downlink = Downlink(ledger=ledger, forwarder=forwarder)
        link = HqLink(forwarder, downlink)
        app[UPLINK] = link
        app[METRICS].registry.register(HqCollector(link))
        ledger.listen(forwarder.nudge)
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(forwarder.run(stop), name="hq-forwarder"),
            asyncio.create_task(downlink.run(stop), name="hq-downlink"),
        ]
        yield
        stop.set()
        # a batch in flight is abandoned: HQ answers its resend as one it already has; a
        # catalog being applied finishes or rolls back whole inside the ledger
        _, late = await asyncio.wait(tasks, timeout=HQ_STOP_GRACE_S)
        for task in late:
            log.info("HQ link: %s abandoned its request at shutdown", task.get_name())
            task.cancel()
        if late:
            await asyncio.wait(late)

    return hq_ctx


def receipt_context(settings: Settings, base_url: str | None = None) -> ReceiptContext:
    """Return what printed receipts need to know about the store."""
    configured = settings.checkout.e_receipt_base_url.rstrip("/")
    host = "127.0.0.1" if settings.http.host in ("0.0.0.0", "::") else settings.http.host  # noqa: S104
    scheme = "https" if settings.tls.enabled else "http"
    return ReceiptContext(
        store_name=settings.store.name,
        store_id=settings.store.id,
        timezone=settings.store.timezone,
        locale=settings.store.locale,
        e_receipt_base=configured or base_url or f"{scheme}://{host}:{settings.http.port}",
    )


class _AfterSale:
    """After each commit: the new sales' receipts to their tills' printers, drawers opened."""

    def __init__(self, center: DeviceCenter) -> None:
        """Keep the device center."""
        self.center = center
        self.tasks: set[asyncio.Task[None]] = set()

    def __call__(self, events: list[Event]) -> None:
        """Start the device work of the sales in a commit (never holds up the writer)."""
        for event in events:
            if event.type == "sale.completed" and event.till is not None:
                task = asyncio.create_task(self.center.after_sale(event))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)

    def stop(self) -> None:
        """Cancel what is still running."""
        for task in self.tasks:
            task.cancel()


def _after_sale_hook(center: DeviceCenter) -> _AfterSale:
    """Return the listener that prints receipts after sales."""
    return _AfterSale(center)


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
