"""Prometheus metrics: collected when scraped from what the server already keeps.

A collector per application (no global registry), so tests and worker processes never share
counters. Device metrics: up/down per device, paper state per printer, MQTT messages by
outcome, pending print jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from edge.services.device_center import DeviceCenter

PAPER_STATES = ("ok", "near_end", "out")
CONTENT_TYPE = CONTENT_TYPE_LATEST


class DeviceCollector(Collector):
    """Device health and bus traffic as metrics."""

    def __init__(self, center: DeviceCenter) -> None:
        """Keep the device center to read at each scrape."""
        self.center = center

    def collect(self) -> Iterator[Metric]:
        """Yield the device metrics."""
        up = GaugeMetricFamily(
            "edge_device_up", "1 when the device says it is online", labels=["device", "type"]
        )
        seen = GaugeMetricFamily(
            "edge_device_last_seen_timestamp_seconds",
            "When the device was last heard from",
            labels=["device", "type"],
        )
        paper = GaugeMetricFamily(
            "edge_printer_paper", "1 for the printer's current paper state",
            labels=["device", "state"],
        )  # fmt: skip
        error = GaugeMetricFamily(
            "edge_device_error", "1 while the device reports an error, by its code",
            labels=["device", "type", "code"],
        )  # fmt: skip
        for view in self.center.snapshot():
            labels = [view["id"], view["type"]]
            up.add_metric(labels, 1.0 if view["state"] == "online" else 0.0)
            if view["last_seen"]:
                seen.add_metric(labels, datetime.fromisoformat(view["last_seen"]).timestamp())
            if view["error"]:
                error.add_metric([*labels, view["error"]], 1.0)
            if view["type"] == "printer" and view["paper"] is not None:
                for state in PAPER_STATES:
                    paper.add_metric([view["id"], state], 1.0 if view["paper"] == state else 0.0)
        yield up
        yield seen
        yield paper
        yield error
        messages = CounterMetricFamily(
            "edge_mqtt_messages", "Device messages by outcome", labels=["outcome"]
        )
        for outcome, count in sorted(self.center.counts.items()):
            messages.add_metric([outcome], float(count))
        yield messages
        connected = GaugeMetricFamily("edge_mqtt_connected", "1 while the bus is connected")
        connected.add_metric([], 1.0 if self.center.sender is not None else 0.0)
        yield connected


def registry_for(center: DeviceCenter) -> CollectorRegistry:
    """Return a registry with the server's collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DeviceCollector(center))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """Return the Prometheus text exposition."""
    return generate_latest(registry)
