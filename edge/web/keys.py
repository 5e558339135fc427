"""Typed keys for what the application shares with its handlers."""

from __future__ import annotations

from aiohttp import web

from edge.ledger.ledger import Ledger
from edge.services.auth import Auth, Principal
from edge.services.checkout import Checkout
from edge.services.days import Days
from edge.services.office import Office
from edge.services.orders import Orders
from edge.services.returns import Returns
from edge.settings import Settings
from edge.web.api import Api
from edge.web.readiness import Readiness

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
PRINCIPAL = web.RequestKey("principal", Principal)
