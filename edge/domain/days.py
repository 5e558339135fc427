"""Business days, till sessions and their reports, computed from the day's events.

A business day opens with the first till session after the previous day close (Z) and ends
with the next Z. Sales, returns and cash movements happen only inside an open till session of
an open day. X reports (any time) and Z reports (once per day) are the same sums over events:
sales and returns per tax rate and per tender, counts, cash in the drawer expected against cash
counted. Everything here is pure: the service feeds it the events, so a report can always be
recomputed from the journal and compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from edge.domain.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# the event types the reports read
REPORT_EVENTS = (
    "sale.completed",
    "sale.returned",
    "till.opened",
    "till.closed",
    "cash.moved",
    "drawer.opened",
    "stored_value.topped_up",
)


def _add(table: dict[str, int], key: str, amount: int) -> None:
    """Add `amount` to `table[key]`."""
    table[key] = table.get(key, 0) + amount


@dataclass
class Drawer:
    """Cash a till's drawer should hold: float, cash taken and given, moved in and out."""

    float: int = 0
    sales: int = 0  # cash kept from sales (handed over minus change)
    top_ups: int = 0  # cash taken for stored value
    refunds: int = 0  # cash paid back on returns
    cash_in: int = 0
    cash_out: int = 0
    no_sale_opens: int = 0
    counted: int | None = None

    @property
    def expected(self) -> int:
        """Return the cash the drawer should hold."""
        return self.float + self.sales + self.top_ups + self.cash_in - self.cash_out - self.refunds

    def to_data(self) -> dict[str, Any]:
        """Return the drawer as a report shows it."""
        over_short = None if self.counted is None else self.counted - self.expected
        return {
            "float": self.float,
            "sales": self.sales,
            "top_ups": self.top_ups,
            "refunds": self.refunds,
            "cash_in": self.cash_in,
            "cash_out": self.cash_out,
            "no_sale_opens": self.no_sale_opens,
            "expected": self.expected,
            "counted": self.counted,
            "over_short": over_short,
        }


@dataclass
class Totals:
    """The sums of a report (a till session, or a whole business day)."""

    sales: int = 0  # number of sales
    returns: int = 0  # number of returns (voids included)
    voids: int = 0
    items: int = 0  # pieces sold (weighed lines count one)
    gross_sales: int = 0  # sale totals, tax included
    discounts: int = 0
    returned: int = 0  # amounts given back for returned lines
    rounding: int = 0  # cash rounding kept (+) or given (-)
    top_ups: int = 0  # stored value sold (not revenue: a liability)

    def __post_init__(self) -> None:
        """Start the per-rate and per-tender tables and the drawers."""
        self.tax: dict[int, dict[str, int]] = {}
        self.tenders: dict[str, dict[str, int]] = {}
        self.drawers: dict[str, Drawer] = {}

    def drawer(self, till: str | None) -> Drawer:
        """Return the drawer of a till (created on first use)."""
        return self.drawers.setdefault(till or "-", Drawer())

    def _rate(self, rate_bp: int) -> dict[str, int]:
        return self.tax.setdefault(rate_bp, {"net": 0, "tax": 0, "gross": 0})

    def _tender(self, kind: str) -> dict[str, int]:
        return self.tenders.setdefault(kind, {"taken": 0, "refunded": 0})

    def add(self, event_type: str, data: Mapping[str, Any], till: str | None) -> None:
        """Add one event to the sums (other types are ignored)."""
        if event_type == "sale.completed":
            self._sale(data, till)
        elif event_type == "sale.returned":
            self._return(data, till)
        elif event_type == "till.opened":
            self.drawer(till).float += data["float"]
        elif event_type == "till.closed":
            self.drawer(till).counted = data["counted"]
        elif event_type == "cash.moved":
            drawer = self.drawer(till)
            if data["direction"] == "in":
                drawer.cash_in += data["amount"]
            else:
                drawer.cash_out += data["amount"]
        elif event_type == "drawer.opened":
            self.drawer(till).no_sale_opens += 1
        elif event_type == "stored_value.topped_up":
            self.top_ups += data["amount"]
            kind = data.get("tender", {}).get("kind", "cash")
            self._tender(kind)["taken"] += data["amount"]
            if kind == "cash":
                self.drawer(till).top_ups += data["amount"]

    def _sale(self, data: Mapping[str, Any], till: str | None) -> None:
        self.sales += 1
        self.items += sum(line["quantity"] for line in data["lines"])
        self.gross_sales += data["total"]
        self.discounts += data["discount_total"]
        self.rounding += data["rounding"]
        for row in data["tax"]:
            rate = self._rate(row["rate_bp"])
            rate["net"] += row["net"]
            rate["tax"] += row["tax"]
            rate["gross"] += row["gross"]
        for tender in data["tenders"]:
            self._tender(tender["kind"])["taken"] += tender["amount"]
            if tender["kind"] == "cash":
                self.drawer(till).sales += tender["amount"]

    def _return(self, data: Mapping[str, Any], till: str | None) -> None:
        self.returns += 1
        self.voids += 1 if data["void"] else 0
        self.returned += data["amount"] - data["rounding"]
        self.rounding -= data["rounding"]
        for line in data["lines"]:
            rate = self._rate(line["tax_rate_bp"])
            rate["net"] -= line["amount"] - line["tax"]
            rate["tax"] -= line["tax"]
            rate["gross"] -= line["amount"]
        for refund in data["refunds"]:
            self._tender(refund["kind"])["refunded"] += refund["amount"]
            if refund["kind"] == "cash" or refund.get("paid_as") == "cash":
                self.drawer(till).refunds += refund["amount"]

    def to_data(self) -> dict[str, Any]:
        """Return the report's figures (JSON-ready; keys are strings)."""
        counted = [d for d in self.drawers.values() if d.counted is not None]
        return {
            "sales": self.sales,
            "returns": self.returns,
            "voids": self.voids,
            "items": self.items,
            "gross_sales": self.gross_sales,
            "discounts": self.discounts,
            "returned": self.returned,
            "net_sales": self.gross_sales - self.returned,
            "rounding": self.rounding,
            "top_ups": self.top_ups,
            "tax": [{"rate_bp": rate} | row for rate, row in sorted(self.tax.items())],
            "tenders": [
                {"kind": kind, **row, "net": row["taken"] - row["refunded"]}
                for kind, row in sorted(self.tenders.items())
            ],
            "drawers": {till: d.to_data() for till, d in sorted(self.drawers.items())},
            "over_short": sum(d.counted - d.expected for d in counted if d.counted is not None),
        }


def totals_of(events: Iterable[tuple[str, Mapping[str, Any], str | None]]) -> Totals:
    """Sum (type, data, till) events into a report."""
    totals = Totals()
    for event_type, data, till in events:
        totals.add(event_type, data, till)
    return totals


# --- business hours ----------------------------------------------------------------------


@dataclass(frozen=True)
class Hours:
    """When the store trades: opening and closing time per weekday, and closed dates.

    A weekday without hours is closed; a closing time at or before the opening time runs past
    midnight (e.g. 20:00-02:00). No table at all means always open.
    """

    week: Mapping[str, tuple[time, time]]
    holidays: frozenset[date] = frozenset()
    always_open: bool = False

    def open_at(self, local: datetime) -> bool:
        """Tell whether the store trades at this local time."""
        if self.always_open:
            return True
        for day_offset in (0, -1):  # today's hours, or yesterday's running past midnight
            day = local.date() + timedelta(days=day_offset)
            if day in self.holidays:
                continue
            hours = self.week.get(WEEKDAYS[day.weekday()])
            if hours is None:
                continue
            start = datetime.combine(day, hours[0], local.tzinfo)
            end_day = day if hours[1] > hours[0] else day + timedelta(days=1)
            end = datetime.combine(end_day, hours[1], local.tzinfo)
            if start <= local < end:
                return True
        return False


def parse_hours(week: Mapping[str, str], holidays: Sequence[str]) -> Hours:
    """Read `{"mon": "08:00-22:00", …}` and ISO dates; an empty table is always open."""
    if not week:
        return Hours({}, always_open=True)
    table: dict[str, tuple[time, time]] = {}
    for day, text in week.items():
        if day not in WEEKDAYS:
            raise InvalidInput(f"{day}: not a weekday ({', '.join(WEEKDAYS)})", code="bad_hours")
        if text in ("", "closed"):
            continue
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError as err:
            raise InvalidInput(f"{day}: {text!r} is not HH:MM-HH:MM", code="bad_hours") from err
        if start == end:
            raise InvalidInput(f"{day}: opening and closing time are equal", code="bad_hours")
        table[day] = (start, end)
    try:
        closed = frozenset(date.fromisoformat(d) for d in holidays)
    except ValueError as err:
        raise InvalidInput(f"holidays: {err}", code="bad_hours") from err
    return Hours(table, closed)


# --- staff performance -------------------------------------------------------------------


def staff_performance(
    events: Iterable[tuple[str, Mapping[str, Any], str | None]],
    sellers: Mapping[str, str | None],
    commission_bp: Mapping[str, int],
) -> list[dict[str, Any]]:
    """Sum sales per staff member: tickets, items, gross, returns, net, average, commission.

    A return counts against whoever made the original sale (`sellers`: sale id -> staff);
    commission is the net times the staff member's rate in basis points, rounded down.
    """
    rows: dict[str, dict[str, int]] = {}

    def row(staff: str | None) -> dict[str, int]:
        return rows.setdefault(staff or "-", {"tickets": 0, "items": 0, "gross": 0, "returned": 0})

    for event_type, data, staff in events:
        if event_type == "sale.completed":
            r = row(staff)
            r["tickets"] += 1
            r["items"] += sum(line["quantity"] for line in data["lines"])
            r["gross"] += data["total"]
        elif event_type == "sale.returned":
            row(sellers.get(data["sale"], staff))["returned"] += data["amount"] - data["rounding"]
    report = []
    for staff, r in sorted(rows.items()):
        net = r["gross"] - r["returned"]
        report.append(
            {
                "staff": staff,
                **r,
                "net": net,
                "average_ticket": r["gross"] // r["tickets"] if r["tickets"] else 0,
                "commission": net * commission_bp.get(staff, 0) // 10_000,
            }
        )
    return report
