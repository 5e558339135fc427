"""zeroconf (mDNS/DNS-SD): the server announces itself, and `edge discover` finds servers.

The primary `edge serve` process announces `_store-edge._tcp` (instance "store-edge <store
id>", the HTTP port, TXT: store, name, api, scheme, broker_port, broker_tls_port, version) and,
when devices can reach its broker, `_mqtt._tcp` with the broker's port. It announces on the
addresses HTTP listens on (all of this machine's IPv4 addresses when it listens on 0.0.0.0),
or on `[zeroconf] interfaces`. Announcing runs in the background: a network without multicast
costs a warning in the log, never readiness. On shutdown the records are withdrawn (goodbye
packets), so browsers forget the server at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Sequence
from dataclasses import dataclass

import ifaddr
from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from edge import __version__
from edge.settings import Settings

log = logging.getLogger(__name__)

SERVICE_TYPE = "_store-edge._tcp.local."
MQTT_TYPE = "_mqtt._tcp.local."
API_PATH = "/api/v1"
STOP_TIMEOUT_S = 5.0
RESOLVE_TIMEOUT_MS = 1500
TXT_VALUE_BYTES = 200  # a TXT string holds at most 255 bytes, key included
ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - the wildcard addresses, compared


def instance_name(store_id: str) -> str:
    """Return the DNS-SD instance name of a store's server."""
    return f"store-edge {store_id}"


def lan_addresses() -> list[str]:
    """Return this machine's IPv4 addresses, loopback excepted."""
    found = [
        str(ip.ip)
        for adapter in ifaddr.get_adapters()
        for ip in adapter.ips
        if ip.is_IPv4 and not ipaddress.ip_address(str(ip.ip)).is_loopback
    ]
    return list(dict.fromkeys(found))


async def advertised_addresses(settings: Settings) -> list[str]:
    """Return the addresses to announce on: configured, else where HTTP listens."""
    if settings.zeroconf.interfaces:
        return list(settings.zeroconf.interfaces)
    host = settings.http.host
    if host in ANY_ADDRESS:
        return lan_addresses()
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, None, family=socket.AF_INET)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def ip_version(addresses: Sequence[str]) -> IPVersion:
    """Return the IP versions a list of addresses needs."""
    versions = {ipaddress.ip_address(a).version for a in addresses}
    if versions == {6}:
        return IPVersion.V6Only
    return IPVersion.All if versions == {4, 6} else IPVersion.V4Only


def broker_reachable(settings: Settings, addresses: Sequence[str]) -> bool:
    """Tell whether devices at the announced addresses can reach the store's broker.

    An external broker (Debian's service) listens on the LAN; an embedded one listens on
    `mqtt.host`, which on loopback serves this machine only.
    """
    mqtt = settings.mqtt
    if mqtt.broker == "off":
        return False
    if mqtt.broker == "external" or mqtt.host in ANY_ADDRESS:
        return True
    try:
        loopback = ipaddress.ip_address(mqtt.host).is_loopback
    except ValueError:
        loopback = mqtt.host == "localhost"
    return not loopback or all(ipaddress.ip_address(a).is_loopback for a in addresses)


def _txt(value: str) -> str:
    """Cut a TXT value to fit a TXT string (whole characters only)."""
    return value.encode()[:TXT_VALUE_BYTES].decode(errors="ignore")


def service_infos(
    settings: Settings,
    *,
    http_port: int,
    broker_port: int | None,
    addresses: Sequence[str],
    server: str,
) -> list[AsyncServiceInfo]:
    """Return the records the server announces: itself, and its broker when reachable."""
    store = settings.store
    reachable = broker_port is not None and broker_reachable(settings, addresses)
    tls_port = settings.mqtt.tls_port if reachable and settings.tls.enabled else 0
    name = instance_name(store.id)
    infos = [
        AsyncServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            port=http_port,
            properties={
                "store": store.id,
                "name": _txt(store.name),
                "api": API_PATH,
                "scheme": "https" if settings.tls.enabled else "http",
                "broker_port": str(broker_port) if reachable else "",
                "broker_tls_port": str(tls_port) if tls_port else "",
                "version": __version__,
            },
            server=server,
            parsed_addresses=list(addresses),
        )
    ]
    if reachable:
        infos.append(
            AsyncServiceInfo(
                MQTT_TYPE,
                f"{name}.{MQTT_TYPE}",
                port=broker_port,
                properties={"store": store.id, "tls_port": str(tls_port) if tls_port else ""},
                server=server,
                parsed_addresses=list(addresses),
            )
        )
    return infos


def server_name() -> str:
    """Return this machine's mDNS host name (`<hostname>.local.`)."""
    return socket.gethostname().split(".")[0].lower() + ".local."


class Advertiser:
    """The server's zeroconf announcements: made in the background, withdrawn on stop."""

    def __init__(self, settings: Settings, http_port: int, broker_port: int | None) -> None:
        """Remember what to announce."""
        self.settings = settings
        self.http_port = http_port
        self.broker_port = broker_port
        self.names: list[str] = []  # the instance names announced
        self._zeroconf: AsyncZeroconf | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start announcing in the background (nothing when zeroconf is disabled)."""
        if self.settings.zeroconf.enabled:
            self._task = asyncio.create_task(self._announce(), name="zeroconf")

    async def _announce(self) -> None:
        """Register the records; log a warning instead of failing."""
        try:
            addresses = await advertised_addresses(self.settings)
            if not addresses:
                log.warning("zeroconf: this machine has no address to announce the server on")
                return
            self._zeroconf = AsyncZeroconf(interfaces=addresses, ip_version=ip_version(addresses))
            infos = service_infos(
                self.settings,
                http_port=self.http_port,
                broker_port=self.broker_port,
                addresses=addresses,
                server=server_name(),
            )
            for info in infos:
                wanted = info.name
                await (await self._zeroconf.async_register_service(info, allow_name_change=True))
                self.names.append(info.name)
                if info.name != wanted:
                    log.warning("zeroconf: %s is taken on the LAN; announced as %s", wanted,
                                info.name)  # fmt: skip
            log.info("zeroconf: announced %s on %s", ", ".join(self.names), ", ".join(addresses))
        except Exception as err:  # noqa: BLE001 - without multicast the store still sells
            log.warning("zeroconf: cannot announce the server (%s: %s); tills need its address",
                        type(err).__name__, err)  # fmt: skip

    async def stop(self) -> None:
        """Withdraw the records (goodbye packets) and close, within STOP_TIMEOUT_S."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        zeroconf, self._zeroconf = self._zeroconf, None
        if zeroconf is None:
            return
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                try:
                    if self.names:
                        await zeroconf.async_unregister_all_services()
                finally:
                    await zeroconf.async_close()
        except Exception as err:  # noqa: BLE001 - stopping goes on regardless
            log.warning("zeroconf: withdrawing the announcement failed: %s", err)


@dataclass(frozen=True)
class FoundServer:
    """A store server found on the network."""

    store: str
    name: str
    instance: str
    host: str  # the server's mDNS host name
    addresses: tuple[str, ...]
    port: int
    scheme: str
    url: str
    api: str
    broker_port: int | None
    broker_tls_port: int | None
    version: str


def _port(text: str | None) -> int | None:
    """Read a port from a TXT value ('' = none)."""
    return int(text) if text and text.isdigit() else None


def found_server(info: AsyncServiceInfo) -> FoundServer:
    """Return what a resolved announcement says."""
    txt = {k: v or "" for k, v in info.decoded_properties.items()}
    scheme = "https" if txt.get("scheme") == "https" else "http"
    addresses = tuple(info.parsed_scoped_addresses())
    host = (info.server or "").rstrip(".")
    # a certificate names the host, not necessarily each address: https goes by name
    target = host if scheme == "https" and host else (addresses[0] if addresses else host)
    shown = f"[{target}]" if ":" in target else target
    return FoundServer(
        store=txt.get("store", ""),
        name=txt.get("name", ""),
        instance=info.name.removesuffix("." + SERVICE_TYPE),
        host=host,
        addresses=addresses,
        port=info.port or 0,
        scheme=scheme,
        url=f"{scheme}://{shown}:{info.port}",
        api=txt.get("api", API_PATH),
        broker_port=_port(txt.get("broker_port")),
        broker_tls_port=_port(txt.get("broker_tls_port")),
        version=txt.get("version", ""),
    )


async def discover(seconds: float, interfaces: Sequence[str] = ()) -> list[FoundServer]:
    """Browse for store servers for `seconds`; return those still announced then."""
    choice: list[str] | InterfaceChoice = list(interfaces) or InterfaceChoice.All
    zeroconf = AsyncZeroconf(
        interfaces=choice, ip_version=ip_version(interfaces) if interfaces else IPVersion.V4Only
    )
    names: dict[str, None] = {}

    def changed(
        zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        """Keep the names announced now, in the order they appeared."""
        if state_change is ServiceStateChange.Removed:
            names.pop(name, None)
        else:
            names[name] = None

    browser = AsyncServiceBrowser(zeroconf.zeroconf, SERVICE_TYPE, handlers=[changed])
    try:
        await asyncio.sleep(seconds)
        infos = [AsyncServiceInfo(SERVICE_TYPE, name) for name in names]
        resolved = await asyncio.gather(
            *(info.async_request(zeroconf.zeroconf, RESOLVE_TIMEOUT_MS) for info in infos)
        )
    finally:
        await browser.async_cancel()
        await zeroconf.async_close()
    return [found_server(info) for info, ok in zip(infos, resolved, strict=True) if ok]
