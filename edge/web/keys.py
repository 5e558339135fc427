"""Typed keys for what the application shares with its handlers."""

from __future__ import annotations

from aiohttp import web

from edge.ledger.ledger import Ledger
from edge.services.auth import Auth, Principal
from edge.services.checkout import Checkout
from edge.services.days import Days
from edge.services.device_center import DeviceCenter
from edge.services.office import Office
from edge.services.orders import Orders
from edge.services.readiness import Readiness
from edge.services.returns import Returns
from edge.services.uplink import Uplink
from edge.settings import Settings
from edge.web.api import Api

SETTINGS = web.AppKey("settings", Settings)
LEDGER = web.AppKey("ledger", Ledger)
READINESS = web.AppKey("readiness", Readiness)
APIS = web.AppKey("apis", list[Api])
CHECKOUT = web.AppKey("checkout", Checkout)
RETURNS = web.AppKey("returns", Returns)
AUTH = web.AppKey("auth", Auth)
DAYS = web.AppKey("days", Days)
OFFICE = web.AppKey("office", Office)
ORDERS = web.AppKey("orders", Orders)
DEVICES = web.AppKey("devices", DeviceCenter)
SOCKETS = web.AppKey("live_sockets", set[web.WebSocketResponse])
BUS = web.AppKey("bus", object)  # the running Bus, or None without a broker
UPLINK = web.AppKey("uplink", Uplink)
PRINCIPAL = web.RequestKey("principal", Principal)
