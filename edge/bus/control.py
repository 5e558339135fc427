"""Commands to the broker's dynamic-security plugin over `$CONTROL`, with their responses.

The plugin answers only the client that asked, on `$CONTROL/dynamic-security/v1/response`;
each batch carries a correlation id so an answer finds its caller. One batch at a time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from drivers.mqtt import MqttSession, PublishError
from edge.domain.devices import CONTROL
from edge.protocol.mqtt import MessageError, decode, encode, new_id
from edge.services.device_center import BusOffline

log = logging.getLogger(__name__)

RESPONSES = f"{CONTROL}/response"


class BrokerController:
    """Sends dynamic-security commands on a session that subscribes to RESPONSES."""

    def __init__(self, session: MqttSession, within: float = 10.0) -> None:
        """Keep the session and how long to wait for an answer."""
        self.session = session
        self.within = within
        self._lock = asyncio.Lock()
        self._waiting: dict[str, asyncio.Future[list[dict[str, Any]]]] = {}

    async def run(self, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Run a batch of commands; return the broker's responses (raises BusOffline)."""
        if not self.session.connected:
            raise BusOffline("the broker is not connected")
        async with self._lock:
            correlation = new_id()
            tagged = [{**command, "correlationData": correlation} for command in commands]
            future: asyncio.Future[list[dict[str, Any]]] = (
                asyncio.get_running_loop().create_future()
            )
            self._waiting[correlation] = future
            try:
                await self.session.publish(CONTROL, encode({"commands": tagged}))
                return await asyncio.wait_for(future, self.within)
            except (TimeoutError, PublishError) as err:
                raise BusOffline(f"the broker did not take the change: {err!r}") from err
            finally:
                self._waiting.pop(correlation, None)

    def response(self, raw: bytes) -> None:
        """Hand a response message to the batch waiting for it."""
        try:
            responses = decode(raw).get("responses", [])
        except MessageError as err:
            log.warning("unreadable broker control response: %s", err)
            return
        if not isinstance(responses, list) or not responses:
            return
        first = responses[0] if isinstance(responses[0], dict) else {}
        future = self._waiting.get(str(first.get("correlationData")))
        if future is not None and not future.done():
            future.set_result([r for r in responses if isinstance(r, dict)])
