"""The projectors a store runs, in the order they are applied."""

from __future__ import annotations

from edge.ledger.projections import Projector
from edge.ledger.projections.catalog import CATALOG
from edge.ledger.projections.counts import COUNTS
from edge.ledger.projections.days import DAYS
from edge.ledger.projections.devices import DEVICES
from edge.ledger.projections.hq_sync import HQ_SYNC
from edge.ledger.projections.members import MEMBERS
from edge.ledger.projections.office import OFFICE
from edge.ledger.projections.orders import ORDERS
from edge.ledger.projections.purchasing import PURCHASING
from edge.ledger.projections.sales import SALES
from edge.ledger.projections.staff import STAFF
from edge.ledger.projections.stock import STOCK
from edge.ledger.projections.store import STORE
from edge.ledger.projections.transfers import TRANSFERS

DEFAULT_PROJECTORS: tuple[Projector, ...] = (
    STORE,
    CATALOG,
    MEMBERS,
    SALES,
    STOCK,
    STAFF,
    DAYS,
    OFFICE,
    COUNTS,
    ORDERS,
    PURCHASING,
    TRANSFERS,
    DEVICES,
    HQ_SYNC,
)
