"""One side of a two-host zeroconf test, run by test_discovery inside network namespaces.

`python mdns_peer.py squat STORE_ID IP READY_FILE` announces the server name of store STORE_ID
from another "host" (a service on IP) and writes READY_FILE once it is announced; it then waits
until killed. `python mdns_peer.py advertise STORE_ID IP` runs the server's Advertiser on IP
and prints what it announced and logged, as one JSON line.

Two hosts, not two programs on one: an mDNS responder answers a probe by unicast to the
prober's address and port 5353, which every responder on one machine has bound, so on one
machine the kernel may hand the answer back to the responder that sent it.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from pathlib import Path

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncZeroconf

from edge.discovery import Advertiser, service_infos
from edge.settings import Settings, StoreSettings, ZeroconfSettings

WAIT_S = 20.0
STEP_S = 0.05


def settings_for(store_id: str, address: str) -> Settings:
    """Return a store's settings announcing on `address` only."""
    return Settings(
        store=StoreSettings(id=store_id, name="重名"),
        zeroconf=ZeroconfSettings(interfaces=(address,)),
    )


async def squat(store_id: str, address: str, ready: Path) -> None:
    """Announce the store's server name from this host, as another machine would."""
    zeroconf = AsyncZeroconf(interfaces=[address], ip_version=IPVersion.V4Only)
    (taken,) = service_infos(
        settings_for(store_id, address),
        http_port=9,
        broker_port=None,
        addresses=[address],
        server="other.local.",
    )
    await (await zeroconf.async_register_service(taken))
    await asyncio.to_thread(ready.write_text, taken.name, encoding="utf-8")
    await asyncio.sleep(3600)  # until the test kills it


async def advertise(store_id: str, address: str) -> None:
    """Run the Advertiser and print the names it took and what it logged."""
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    logging.getLogger("edge.discovery").addHandler(handler)
    logging.getLogger("edge.discovery").setLevel(logging.INFO)
    advertiser = Advertiser(settings_for(store_id, address), http_port=8080, broker_port=None)
    advertiser.start()
    try:
        for _ in range(int(WAIT_S / STEP_S)):
            if advertiser.names:
                break
            await asyncio.sleep(STEP_S)
        names = list(advertiser.names)
    finally:
        await advertiser.stop()
    print(json.dumps({"names": names, "log": logged.getvalue()}))


def main(argv: list[str]) -> None:
    """Run one side."""
    role, store_id, address = argv[:3]
    if role == "squat":
        asyncio.run(squat(store_id, address, Path(argv[3])))
    elif role == "advertise":
        asyncio.run(advertise(store_id, address))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
