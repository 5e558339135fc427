"""Back-office report maths: date ranges in the store's time zone, sums over sales and returns.

Every report here is a pure function over the journal's `sale.completed` and `sale.returned`
events (already read by the service) and, where it needs them, the catalog's costs and the
stock on hand. Returns count against sales: a returned line takes its amount, tax and quantity
back in the bucket (day, hour) of the return, and in the category, product and tender of the
original sale, exactly as the Z report nets them. Money is integer minor units throughout;
ratios are basis points (1/100 of a percent). A report is a `Table`: named columns, rows and
totals, which the web layer answers as JSON or renders as CSV with `render_csv`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from edge.domain.errors import InvalidInput

MAX_RANGE_DAYS = 366
SALE = "sale.completed"
RETURN = "sale.returned"
NO_CATEGORY = "-"


# --- ranges and time ---------------------------------------------------------------------


def parse_day(text: str, what: str) -> date:
    """Return the date `text` (YYYY-MM-DD) names, or refuse it."""
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{what} must be a date as YYYY-MM-DD", code="bad_date") from None


def parse_range(
    start: str | None, end: str | None, today: date, max_days: int = MAX_RANGE_DAYS
) -> tuple[date, date]:
    """Return the inclusive (first, last) days asked for; both default to `today`."""
    first = parse_day(start, "from") if start else None
    last = parse_day(end, "to") if end else None
    if first is None and last is None:
        first = last = today
    elif first is None:
        first = last
    elif last is None:
        last = first
    assert first is not None and last is not None  # noqa: S101 - set just above
    if first > last:
        raise InvalidInput("from is after to", code="bad_range")
    if (last - first).days + 1 > max_days:
        raise InvalidInput(f"a report covers at most {max_days} days", code="range_too_large")
    return first, last


def day_bounds(first: date, last: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Return the instants [start, end) of local days first..last in the store's zone."""
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def days_of(first: date, last: date) -> list[date]:
    """Return every day from first to last."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def average(total: int, count: int) -> int:
    """Return total / count rounded half up (0 without a count)."""
    if count <= 0:
        return 0
    return (2 * total + count) // (2 * count)


def ratio_bp(part: int, whole: int) -> int:
    """Return part / whole in basis points, rounded half up (0 when whole is 0)."""
    return average(part * 10_000, whole) if whole else 0


# --- the facts the reports sum -----------------------------------------------------------


@dataclass(frozen=True)
class SaleFact:
    """One sale or return as the reports see it: when (local), what and who."""

    kind: str  # SALE or RETURN
    seq: int
    at: datetime  # local time in the store's zone
    till: str | None
    staff: str | None
    data: Mapping[str, Any]
    # for a return: the original sale's lines by index (category, discounts, tax class)
    sold_lines: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)


def fact(
    row: Sequence[Any],
    data: Mapping[str, Any],
    tz: tzinfo,
    sold_lines: Mapping[int, Mapping[str, Any]] | None = None,
) -> SaleFact:
    """Build a fact from a journal row (seq, type, ts, till, staff, …) and its decoded data."""
    seq, kind, ts, till, staff = row[:5]
    at = datetime.fromisoformat(ts).astimezone(tz)
    return SaleFact(kind, int(seq), at, till, staff, data, sold_lines or {})


def _line_net(fact_: SaleFact) -> Iterable[tuple[Mapping[str, Any], int, int, int, int]]:
    """Yield (sold line, quantity, grams, amount, tax) per line, negative for a return."""
    sign = 1 if fact_.kind == SALE else -1
    for line in fact_.data["lines"]:
        sold = line if fact_.kind == SALE else fact_.sold_lines.get(line["index"], line)
        yield (
            sold,
            sign * int(line["quantity"]),
            sign * int(line["grams"] or 0),
            sign * int(line["amount"]),
            sign * int(line["tax"]),
        )


def _returned(data: Mapping[str, Any]) -> int:
    """Return what a return gave back for goods (its rounding left out, as the Z report)."""
    return int(data["amount"]) - int(data["rounding"])


@dataclass
class Bucket:
    """Sums of one day or one hour."""

    sales: int = 0
    returns: int = 0
    items: int = 0
    gross: int = 0
    returned: int = 0
    discounts: int = 0
    tax: int = 0

    def add(self, fact_: SaleFact) -> None:
        """Add a sale or a return."""
        data = fact_.data
        if fact_.kind == SALE:
            self.sales += 1
            self.items += sum(int(line["quantity"]) for line in data["lines"])
            self.gross += int(data["total"])
            self.discounts += int(data["discount_total"])
            self.tax += int(data["tax_total"])
        else:
            self.returns += 1
            self.returned += _returned(data)
            self.tax -= int(data["tax"])

    def row(self) -> dict[str, int]:
        """Return the bucket's figures."""
        net = self.gross - self.returned
        return {
            "sales": self.sales,
            "returns": self.returns,
            "items": self.items,
            "gross": self.gross,
            "returned": self.returned,
            "net": net,
            "discounts": self.discounts,
            "tax": self.tax,
            "average_ticket": average(net, self.sales),
        }


BUCKET_COLUMNS = (
    "sales",
    "returns",
    "items",
    "gross",
    "returned",
    "net",
    "discounts",
    "tax",
    "average_ticket",
)


@dataclass
class Table:
    """A report: named columns, rows (dicts with those keys) and totals."""

    report: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]
    totals: dict[str, Any] = field(default_factory=dict)

    def to_data(self, first: date, last: date) -> dict[str, Any]:
        """Return the JSON answer."""
        return {
            "report": self.report,
            "from": first.isoformat(),
            "to": last.isoformat(),
            "columns": list(self.columns),
            "rows": self.rows,
            "totals": self.totals,
        }


def _sum_totals(rows: Sequence[Mapping[str, Any]], columns: Iterable[str]) -> dict[str, int]:
    """Add up numeric columns over rows."""
    return {c: sum(int(r[c]) for r in rows) for c in columns}


def _bucket_totals(facts: Sequence[SaleFact]) -> dict[str, int]:
    """Return the whole range's bucket figures."""
    total = Bucket()
    for f in facts:
        total.add(f)
    return total.row()


def daily(facts: Sequence[SaleFact], first: date, last: date) -> Table:
    """Sum sales and returns per local day (every day of the range, empty ones too)."""
    buckets = {day: Bucket() for day in days_of(first, last)}
    for f in facts:
        if f.at.date() in buckets:
            buckets[f.at.date()].add(f)
    rows = [{"date": day.isoformat()} | b.row() for day, b in buckets.items()]
    return Table("daily", ("date", *BUCKET_COLUMNS), rows, _bucket_totals(facts))


def hourly(facts: Sequence[SaleFact]) -> Table:
    """Sum sales and returns per local hour of the day (0-23), over every day of the range."""
    buckets = [Bucket() for _ in range(24)]
    for f in facts:
        buckets[f.at.hour].add(f)
    rows = [{"hour": hour} | b.row() for hour, b in enumerate(buckets)]
    return Table("hourly", ("hour", *BUCKET_COLUMNS), rows, _bucket_totals(facts))


def by_category(facts: Sequence[SaleFact]) -> Table:
    """Net quantity, amount and tax per category (returns in the original line's category)."""
    table: dict[str, dict[str, int]] = {}
    for f in facts:
        for sold, quantity, grams, amount, tax in _line_net(f):
            row = table.setdefault(
                sold.get("category") or NO_CATEGORY,
                {"quantity": 0, "grams": 0, "net": 0, "tax": 0},
            )
            row["quantity"] += quantity
            row["grams"] += grams
            row["net"] += amount
            row["tax"] += tax
    total = sum(r["net"] for r in table.values())
    rows = [
        {"category": cat} | r | {"share_bp": ratio_bp(r["net"], total)}
        for cat, r in sorted(table.items(), key=lambda kv: (-kv[1]["net"], kv[0]))
    ]
    columns = ("category", "quantity", "grams", "net", "tax", "share_bp")
    return Table("category", columns, rows, _sum_totals(rows, columns[1:5]))


def by_tender(facts: Sequence[SaleFact]) -> Table:
    """Taken, refunded and net per tender kind (cash, card, qr, stored value, …)."""
    table: dict[str, dict[str, int]] = {}
    for f in facts:
        if f.kind == SALE:
            for tender in f.data["tenders"]:
                row = table.setdefault(tender["kind"], {"count": 0, "taken": 0, "refunded": 0})
                row["count"] += 1
                row["taken"] += int(tender["amount"])
        else:
            for refund in f.data["refunds"]:
                row = table.setdefault(refund["kind"], {"count": 0, "taken": 0, "refunded": 0})
                row["refunded"] += int(refund["amount"])
    rows = [
        {"kind": kind} | r | {"net": r["taken"] - r["refunded"]}
        for kind, r in sorted(table.items())
    ]
    columns = ("kind", "count", "taken", "refunded", "net")
    return Table("payment", columns, rows, _sum_totals(rows, columns[1:]))


def by_tax_rate(facts: Sequence[SaleFact]) -> Table:
    """Net, tax and gross per tax rate, returns taken off (as the Z report)."""
    table: dict[int, dict[str, int]] = {}
    for f in facts:
        if f.kind == SALE:
            for row in f.data["tax"]:
                into = table.setdefault(int(row["rate_bp"]), {"net": 0, "tax": 0, "gross": 0})
                into["net"] += int(row["net"])
                into["tax"] += int(row["tax"])
                into["gross"] += int(row["gross"])
        else:
            for line in f.data["lines"]:
                into = table.setdefault(int(line["tax_rate_bp"]), {"net": 0, "tax": 0, "gross": 0})
                into["net"] -= int(line["amount"]) - int(line["tax"])
                into["tax"] -= int(line["tax"])
                into["gross"] -= int(line["amount"])
    rows = [{"rate_bp": rate} | r for rate, r in sorted(table.items())]
    columns = ("rate_bp", "net", "tax", "gross")
    return Table("tax", columns, rows, _sum_totals(rows, columns[1:]))


def by_promotion(facts: Sequence[SaleFact]) -> Table:
    """Discounts given per promotion (line and basket discounts, at the time of sale)."""
    table: dict[str, dict[str, Any]] = {}
    for f in facts:
        if f.kind != SALE:
            continue
        given = [d for line in f.data["lines"] for d in line["discounts"]]
        given += list(f.data.get("basket_discounts", []))
        seen: set[str] = set()
        for discount in given:
            key = discount.get("promotion") or discount["kind"]
            row = table.setdefault(
                key,
                {
                    "promotion": key,
                    "kind": discount["kind"],
                    "name_zh": discount.get("name_zh") or "",
                    "name_en": discount.get("name_en") or "",
                    "sales": 0,
                    "amount": 0,
                },
            )
            row["amount"] += int(discount["amount"])
            if key not in seen:
                row["sales"] += 1
                seen.add(key)
    rows = sorted(table.values(), key=lambda r: (-r["amount"], r["promotion"]))
    columns = ("promotion", "kind", "name_zh", "name_en", "sales", "amount")
    return Table("discounts", columns, rows, _sum_totals(rows, ("sales", "amount")))


def _product_rows(facts: Sequence[SaleFact]) -> dict[str, dict[str, Any]]:
    """Net quantity, grams, amount and tax per product."""
    table: dict[str, dict[str, Any]] = {}
    for f in facts:
        for sold, quantity, grams, amount, tax in _line_net(f):
            row = table.setdefault(
                sold["product"],
                {
                    "product": sold["product"],
                    "name_zh": sold.get("name_zh", ""),
                    "name_en": sold.get("name_en", ""),
                    "category": sold.get("category") or NO_CATEGORY,
                    "quantity": 0,
                    "grams": 0,
                    "net": 0,
                    "tax": 0,
                },
            )
            row["quantity"] += quantity
            row["grams"] += grams
            row["net"] += amount
            row["tax"] += tax
    return table


PRODUCT_COLUMNS = ("product", "name_zh", "name_en", "category", "quantity", "grams", "net", "tax")


def top_products(facts: Sequence[SaleFact], limit: int, *, bottom: bool = False) -> Table:
    """Rank products by net amount, best first (or worst first with `bottom`)."""
    rows = sorted(
        _product_rows(facts).values(),
        key=lambda r: (r["net"] if bottom else -r["net"], r["product"]),
    )
    return Table(
        "products",
        PRODUCT_COLUMNS,
        rows[:limit],
        _sum_totals(rows, ("quantity", "grams", "net", "tax")),
    )


def cost_of(cost: int, quantity: int, grams: int, *, weighed: bool) -> int:
    """Return the cost of goods: per piece, or per kg for weighed goods (rounded half up)."""
    if weighed:
        return (2 * cost * grams + 1000) // 2000
    return cost * quantity


def gross_margin(facts: Sequence[SaleFact], costs: Mapping[str, tuple[int, bool]]) -> Table:
    """Revenue without tax against the cost of goods sold, per product (current costs)."""
    rows = []
    for row in _product_rows(facts).values():
        cost, weighed = costs.get(row["product"], (0, False))
        revenue = row["net"] - row["tax"]
        cogs = cost_of(cost, row["quantity"], row["grams"], weighed=weighed)
        rows.append(
            {
                "product": row["product"],
                "name_zh": row["name_zh"],
                "name_en": row["name_en"],
                "quantity": row["quantity"],
                "grams": row["grams"],
                "revenue": revenue,
                "cost": cogs,
                "margin": revenue - cogs,
                "margin_bp": ratio_bp(revenue - cogs, revenue),
            }
        )
    rows.sort(key=lambda r: (-r["margin"], r["product"]))
    columns = (
        "product",
        "name_zh",
        "name_en",
        "quantity",
        "grams",
        "revenue",
        "cost",
        "margin",
        "margin_bp",
    )
    totals = _sum_totals(rows, ("revenue", "cost", "margin"))
    totals["margin_bp"] = ratio_bp(totals["margin"], totals["revenue"])
    return Table("margin", columns, rows, totals)


@dataclass(frozen=True)
class StockItem:
    """A product's stock on hand with what the valuation needs."""

    product: str
    name_zh: str
    name_en: str
    cost: int
    weighed: bool
    on_hand: int  # pieces, or grams for weighed goods


def stock_value(
    facts: Sequence[SaleFact], stock: Sequence[StockItem], first: date, last: date
) -> Table:
    """Stock value at cost, cost of goods sold in the range, turnover and days of cover.

    Turnover (basis points) is the cost of goods sold over the range divided by today's stock
    value; days of cover is how long the stock lasts at the range's selling pace.
    """
    sold = _product_rows(facts)
    days = (last - first).days + 1
    rows = []
    for item in stock:
        moved = sold.get(item.product, {"quantity": 0, "grams": 0})
        units = moved["grams"] if item.weighed else moved["quantity"]
        value = cost_of(item.cost, max(item.on_hand, 0), max(item.on_hand, 0), weighed=item.weighed)
        cogs = cost_of(item.cost, units, units, weighed=item.weighed)
        rows.append(
            {
                "product": item.product,
                "name_zh": item.name_zh,
                "name_en": item.name_en,
                "on_hand": item.on_hand,
                "cost": item.cost,
                "value": value,
                "sold": units,
                "sold_cost": cogs,
                "turnover_bp": ratio_bp(cogs, value),
                "days_of_cover": None
                if units <= 0
                else average(max(item.on_hand, 0) * days, units),
            }
        )
    rows.sort(key=lambda r: (-r["value"], r["product"]))
    columns = (
        "product",
        "name_zh",
        "name_en",
        "on_hand",
        "cost",
        "value",
        "sold",
        "sold_cost",
        "turnover_bp",
        "days_of_cover",
    )
    totals = _sum_totals(rows, ("value", "sold_cost"))
    totals["turnover_bp"] = ratio_bp(totals["sold_cost"], totals["value"])
    return Table("stock-value", columns, rows, totals)


def slow_movers(
    facts: Sequence[SaleFact], stock: Sequence[StockItem], first: date, last: date, limit: int
) -> Table:
    """Products with stock on hand that sold least over the range (by days of cover)."""
    valued = stock_value(facts, stock, first, last).rows
    held = [r for r in valued if r["on_hand"] > 0]
    held.sort(key=lambda r: (r["sold"] > 0, -(r["days_of_cover"] or 0), -r["value"], r["product"]))
    columns = ("product", "name_zh", "name_en", "on_hand", "value", "sold", "days_of_cover")
    rows = [{c: r[c] for c in columns} for r in held[:limit]]
    return Table("slow-movers", columns, rows, _sum_totals(rows, ("value",)))


def dashboard(facts: Sequence[SaleFact], day: date, top: int = 10) -> dict[str, Any]:
    """One day at a glance: sums, the hourly curve and the top products."""
    return {
        "date": day.isoformat(),
        **_bucket_totals(facts),
        "hourly": hourly(facts).rows,
        "top": top_products(facts, top).rows,
    }


# --- CSV ---------------------------------------------------------------------------------


def render_csv(table: Table) -> str:
    """Render a report as CSV: a header of column names, one line per row, CRLF endings."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in table.columns])
    return out.getvalue()
