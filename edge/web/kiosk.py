"""Self-checkout kiosks over HTTP: the shopper flow and its attendant calls."""

from __future__ import annotations

from edge.web.api import Api

api = Api("kiosk")
