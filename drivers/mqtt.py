"""One MQTT v5 session on paho's network thread, handing everything to asyncio.

Both the store server (edge/bus) and the device gateway use it. The session connects with
`clean_start=False` and a session expiry, so the broker keeps its subscriptions and queued
QoS 1 messages across a reconnect (and across a clean broker restart); subscriptions are sent
again on every connect anyway, because after a broker crash the broker remembers nothing.
paho calls back on its own thread: every callback is wrapped (an exception there would kill
the thread) and hands over to the event loop with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes, bool], None]  # topic, payload, retained
StateHandler = Callable[[bool], None]  # connected or not


class PublishError(Exception):
    """The broker refused a publish (e.g. 0x87 not authorized) or it timed out."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        """Keep the broker's reason and code."""
        super().__init__(reason)
        self.code = code


@dataclass
class SessionConfig:
    """Where and how to connect."""

    client_id: str
    host: str
    port: int
    username: str
    password: str
    subscriptions: Sequence[tuple[str, int]] = ()
    will: tuple[str, bytes] | None = None  # retained QoS 1 Last Will
    session_expiry_s: int = 86400
    keepalive_s: int = 15
    reconnect_max_s: int = 5
    extra: dict[str, Any] = field(default_factory=dict)


class MqttSession:
    """An MQTT v5 session with awaited QoS 1 publishes."""

    def __init__(
        self, config: SessionConfig, on_message: MessageHandler, on_state: StateHandler
    ) -> None:
        """Keep the configuration and the two handlers (they run on the event loop)."""
        self.config = config
        self.on_message = on_message
        self.on_state = on_state
        self.connected = False
        self.ever_connected = asyncio.Event()
        self._client: paho.Client | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._early: dict[int, ReasonCode | None] = {}

    async def start(self) -> None:
        """Create the client and start connecting in the background (retrying forever)."""
        self._loop = asyncio.get_running_loop()
        cfg = self.config
        client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=cfg.client_id, protocol=paho.MQTTv5
        )
        client.username_pw_set(cfg.username, cfg.password)
        client.reconnect_delay_set(min_delay=1, max_delay=cfg.reconnect_max_s)
        client.max_inflight_messages_set(100)
        if cfg.will is not None:
            client.will_set(cfg.will[0], cfg.will[1], qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = cfg.session_expiry_s
        client.connect_async(
            cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=False, properties=properties
        )
        self._client = client
        client.loop_start()

    async def stop(self, final: Sequence[tuple[str, bytes]] = (), within: float = 3.0) -> None:
        """Publish the last retained messages (e.g. offline status), then disconnect."""
        client = self._client
        if client is None:
            return
        if self.connected:
            for topic, payload in final:
                try:
                    await self.publish(topic, payload, retain=True, within=within)
                except PublishError as err:
                    log.warning("could not publish %s at shutdown: %s", topic, err)
        await asyncio.to_thread(client.disconnect)
        await asyncio.to_thread(client.loop_stop)
        self._client = None
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(PublishError("session stopped"))
        self._waiting.clear()

    async def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
        within: float = 10.0,
    ) -> None:  # fmt: skip
        """Publish and wait for the broker's PUBACK (QoS 1); raise PublishError on refusal."""
        info = self._send(topic, payload, qos, retain)
        if qos == 0:
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if info.mid in self._early:
                self._settle(future, self._early.pop(info.mid))
            else:
                self._waiting[info.mid] = future
        try:
            await asyncio.wait_for(future, within)
        except TimeoutError as err:
            raise PublishError(f"no PUBACK for {topic} within {within} s") from err
        finally:
            with self._lock:
                self._waiting.pop(info.mid, None)

    def publish_nowait(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Publish without waiting (paho queues it while disconnected and sends it later)."""
        self._send(topic, payload, qos, retain)

    def _send(self, topic: str, payload: bytes, qos: int, retain: bool) -> paho.MQTTMessageInfo:
        """Hand a message to paho."""
        if self._client is None:
            raise PublishError("session not started")
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN, paho.MQTT_ERR_QUEUE_SIZE):
            raise PublishError(paho.error_string(info.rc), info.rc)
        return info

    @staticmethod
    def _settle(future: asyncio.Future[None], reason: ReasonCode | None) -> None:
        """Resolve a publish future from the PUBACK reason."""
        if future.done():
            return
        if reason is not None and reason.is_failure:
            future.set_exception(PublishError(str(reason), reason.value))
        else:
            future.set_result(None)

    # --- paho's network thread ----------------------------------------------------------

    def _call(self, callback: Callable[..., None], *args: Any) -> None:
        """Run a callback on the event loop."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(callback, *args)

    def _on_connect(
        self, client: paho.Client, _userdata: Any, flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        """Subscribe again and report the connection."""
        try:
            if reason.is_failure:
                log.warning("broker refused the connection: %s", reason)
                return
            if self.config.subscriptions:
                client.subscribe(list(self.config.subscriptions))
            self._call(self._set_state, True)
        except Exception:
            log.exception("MQTT connect handler failed")

    def _on_disconnect(
        self, _client: paho.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        """Report the disconnection (paho reconnects by itself)."""
        try:
            self._call(self._set_state, False)
        except Exception:
            log.exception("MQTT disconnect handler failed")

    def _on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        """Hand a message to the event loop."""
        try:
            self._call(self.on_message, message.topic, bytes(message.payload), message.retain)
        except Exception:
            log.exception("MQTT message handler failed")

    def _on_publish(
        self, _client: paho.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        """Resolve the publish waiting for this PUBACK."""
        try:
            with self._lock:
                future = self._waiting.get(mid)
                if future is None:
                    self._early[mid] = reason
                    if len(self._early) > 10000:
                        self._early.pop(next(iter(self._early)))
                    return
            self._call(self._settle, future, reason)
        except Exception:
            log.exception("MQTT publish handler failed")

    def _set_state(self, connected: bool) -> None:
        """Record and report the connection state (on the event loop)."""
        if connected:
            self.ever_connected.set()
        if connected != self.connected:
            self.connected = connected
            self.on_state(connected)
