"""The bus as part of `edge serve`: the broker (child or system), the session, the router."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from drivers.mqtt import SessionConfig
from edge.bus.broker import EmbeddedBroker, broker_tls, free_port, server_password
from edge.bus.bus import Bus
from edge.bus.router import DeviceRouter
from edge.domain.devices import SERVER_USER
from edge.ledger.ledger import Ledger
from edge.services.device_center import DeviceCenter
from edge.services.readiness import Readiness
from edge.settings import Settings

log = logging.getLogger(__name__)


@asynccontextmanager
async def running_bus(
    settings: Settings,
    ledger: Ledger,
    center: DeviceCenter,
    readiness: Readiness,
    *,
    enabled: bool = True,
) -> AsyncIterator[Bus | None]:
    """Run the broker (when embedded) and the server's session for the app's lifetime."""
    mqtt = settings.mqtt
    await center.refresh()
    if mqtt.broker == "off" or not enabled:
        yield None
        return
    password = server_password(settings.mqtt_dir, settings.secrets.broker_password)
    broker: EmbeddedBroker | None = None
    files = center.records.files
    await center.records.set_server_password(password)
    if mqtt.broker == "embedded":
        broker = EmbeddedBroker(
            mqtt, settings.mqtt_dir, files.dynsec_file, before_start=center.records.prepare_broker,
            tls=broker_tls(settings),
        )  # fmt: skip
        broker.port = mqtt.port or free_port(mqtt.host)
        await broker.start()
    port = broker.port if broker is not None else mqtt.port
    config = SessionConfig(
        client_id=mqtt.username,
        host=mqtt.host,
        port=port,
        username=mqtt.username,
        password=password,
        session_expiry_s=mqtt.session_expiry_s,
        keepalive_s=mqtt.keepalive_s,
    )
    if mqtt.username != SERVER_USER:
        log.warning("mqtt.username %s is not %s: the ACL names %s", mqtt.username,
                    SERVER_USER, SERVER_USER)  # fmt: skip
    bus = Bus(config, settings.store.id, center, DeviceRouter(
        ledger, center, settings.barcodes.variable_measure), readiness)  # fmt: skip
    bus.broker_port = port
    bus.broker = broker
    await bus.start()
    if broker is None:
        bus.on_connect(center.records.reconcile)  # an external broker may lag behind the records
    else:
        await asyncio.wait_for(bus.session.ever_connected.wait(), 10)
    try:
        yield bus
    finally:
        files.control = None
        await bus.stop()
        if broker is not None:
            await broker.stop()
