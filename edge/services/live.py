"""Live updates: named channels that WebSocket clients follow (`till:T01`, `attendant`, …).

The device router publishes here (a scan for till T01, a weight, a kiosk calling for help);
each WebSocket subscribes to the channels its credentials allow. A slow client never holds up
the publisher: its queue is bounded and, when full, it is told it missed messages and must
reload its state.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

QUEUE_SIZE = 256


class Subscription:
    """One client's queue on a set of channels."""

    def __init__(self, hub: Hub, channels: frozenset[str]) -> None:
        """Keep the hub and the channels followed."""
        self.hub = hub
        self.channels = channels
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self.overflowed = False

    def offer(self, message: dict[str, Any]) -> None:
        """Queue a message; on overflow keep only a note that messages were lost."""
        if self.queue.full():
            self.overflowed = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait({"type": "overflow"})
            return
        self.queue.put_nowait(message)

    async def next(self) -> dict[str, Any]:
        """Wait for the next message."""
        return await self.queue.get()

    def close(self) -> None:
        """Stop following the channels."""
        self.hub.unsubscribe(self)


class Hub:
    """Channels and who follows them (all on the event loop)."""

    def __init__(self) -> None:
        """Start with nobody listening."""
        self._followers: dict[str, set[Subscription]] = defaultdict(set)
        self.published = 0

    def subscribe(self, channels: set[str] | frozenset[str]) -> Subscription:
        """Follow channels."""
        subscription = Subscription(self, frozenset(channels))
        for channel in subscription.channels:
            self._followers[channel].add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Stop following."""
        for channel in subscription.channels:
            followers = self._followers.get(channel)
            if followers is not None:
                followers.discard(subscription)
                if not followers:
                    del self._followers[channel]

    def publish(self, channel: str, message: dict[str, Any]) -> int:
        """Send a message to a channel's followers; return how many got it."""
        self.published += 1
        followers = self._followers.get(channel, ())
        for subscription in list(followers):
            subscription.offer({**message, "channel": channel})
        return len(followers)

    def followers(self, channel: str) -> int:
        """Return how many follow a channel."""
        return len(self._followers.get(channel, ()))
