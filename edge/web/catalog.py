"""Catalog HTTP API: products, categories, CSV import."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from edge.domain.catalog import Category, Product, category_from_fields, product_from_fields
from edge.domain.errors import InvalidInput
from edge.services import catalog
from edge.web.api import Api, json_response, query_param, read_json
from edge.web.auth import actor
from edge.web.keys import LEDGER, SETTINGS
from edge.web.schema import Schema

api = Api("catalog")

MAX_IMPORT_BYTES = 8 * 1024 * 1024

_TEXT: Schema = {"type": "string", "maxLength": 120}
_MONEY: Schema = {"type": "integer", "minimum": 0, "maximum": 100_000_000}
PRODUCT_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name_zh", "list_price"],
    "properties": {
        "id": {"type": "string", "maxLength": 40},
        "name_zh": _TEXT,
        "name_en": _TEXT,
        "category": {"type": ["string", "null"], "maxLength": 40},
        "brand": _TEXT,
        "unit": {"type": "string", "maxLength": 10},
        "tax_class": {"type": "string", "maxLength": 20},
        "cost": _MONEY,
        "list_price": _MONEY,
        "member_price": {"type": ["integer", "null"], "minimum": 0, "maximum": 100_000_000},
        "sold_by_weight": {"type": "boolean"},
        "age_restricted": {"type": "boolean"},
        "unit_grams": {"type": ["integer", "null"], "minimum": 1, "maximum": 100_000},
        "plu": {"type": ["string", "null"], "pattern": "^[0-9]{1,5}$"},
        "barcodes": {"type": "array", "maxItems": 16, "items": {"type": "string", "maxLength": 48}},
        "active": {"type": "boolean"},
        "reorder_point": {"type": ["integer", "null"], "minimum": 0, "maximum": 10_000_000},
        "pack_size": {"type": "integer", "minimum": 1, "maximum": 10_000_000},
        "batch_tracked": {"type": "boolean"},
    },
}
PRODUCT_LIST_SCHEMA: Schema = {
    "type": "object",
    "properties": {"products": {"type": "array", "items": PRODUCT_SCHEMA}},
}
CATEGORY_SCHEMA: Schema = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name_zh"],
    "properties": {
        "id": {"type": "string", "maxLength": 40},
        "name_zh": _TEXT,
        "name_en": _TEXT,
        "parent": {"type": ["string", "null"], "maxLength": 40},
    },
}
SAVED_SCHEMA: Schema = {
    "type": "object",
    "properties": {"outcome": {"enum": ["created", "updated", "unchanged"]}},
}
IMPORT_REPORT_SCHEMA: Schema = {
    "type": "object",
    "properties": {
        "created": {"type": "integer"},
        "updated": {"type": "integer"},
        "unchanged": {"type": "integer"},
        "rejected_rows": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}

SEARCH_QUERY: dict[str, Schema] = {
    "q": {"type": "string", "maxLength": 64},
    "category": {"type": "string", "maxLength": 40},
    "limit": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    "offset": {"type": "integer", "minimum": 0, "maximum": 1_000_000, "default": 0},
}


def product_json(product: Product) -> dict[str, Any]:
    """Return a product as API JSON."""
    return product.to_data()


def category_json(category: Category) -> dict[str, Any]:
    """Return a category as API JSON."""
    return category.to_data()


def _with_path_id(body: dict[str, Any], key: str, path_id: str) -> dict[str, Any]:
    """Take the id from the path; a different id in the body is an error."""
    if body.get("id", path_id) != path_id:
        raise InvalidInput(f"the body's id {body['id']!r} differs from the path's {path_id!r}")
    return {**body, "id": path_id} if key else body


@api.route(
    "GET",
    "/api/v1/products",
    summary="Search products by name, id, PLU or barcode",
    permission="catalog.read",
    response=PRODUCT_LIST_SCHEMA,
    query=SEARCH_QUERY,
)
async def list_products(request: web.Request) -> web.Response:
    """Return matching products."""
    args = {name: query_param(request, name, schema) for name, schema in SEARCH_QUERY.items()}
    products = await catalog.search_products(
        request.app[LEDGER],
        (args["q"] or "").strip(),
        args["category"],
        args["limit"],
        args["offset"],
    )
    return json_response({"products": [product_json(p) for p in products]})


@api.route(
    "GET",
    "/api/v1/products/{product_id}",
    summary="One product",
    permission="catalog.read",
    response=PRODUCT_SCHEMA,
    errors={404: "no such product"},
)
async def get_product(request: web.Request) -> web.Response:
    """Return one product."""
    product = await catalog.get_product(request.app[LEDGER], request.match_info["product_id"])
    return json_response(product_json(product))


@api.route(
    "PUT",
    "/api/v1/products/{product_id}",
    summary="Create or update a product (an unchanged product appends no event)",
    permission="catalog.write",
    request=PRODUCT_SCHEMA,
    response=SAVED_SCHEMA,
    errors={409: "barcode or PLU belongs to another product, or unknown category"},
)
async def put_product(request: web.Request) -> web.Response:
    """Save a product."""
    body = await read_json(request, PRODUCT_SCHEMA)
    product = product_from_fields(_with_path_id(body, "id", request.match_info["product_id"]))
    outcome = await catalog.save_product(request.app[LEDGER], product, actor(request))
    return json_response({"outcome": outcome}, status=201 if outcome == "created" else 200)


@api.route(
    "GET",
    "/api/v1/categories",
    summary="Every category",
    permission="catalog.read",
    response={"type": "object", "properties": {"categories": {"type": "array"}}},
)
async def list_categories(request: web.Request) -> web.Response:
    """Return the categories."""
    categories = await catalog.list_categories(request.app[LEDGER])
    return json_response({"categories": [category_json(c) for c in categories]})


@api.route(
    "PUT",
    "/api/v1/categories/{category_id}",
    summary="Create or update a category",
    permission="catalog.write",
    request=CATEGORY_SCHEMA,
    response=SAVED_SCHEMA,
    errors={404: "unknown parent"},
)
async def put_category(request: web.Request) -> web.Response:
    """Save a category."""
    body = await read_json(request, CATEGORY_SCHEMA)
    category = category_from_fields(_with_path_id(body, "id", request.match_info["category_id"]))
    outcome = await catalog.save_category(request.app[LEDGER], category, actor(request))
    return json_response({"outcome": outcome}, status=201 if outcome == "created" else 200)


@api.route(
    "POST",
    "/api/v1/catalog/import",
    summary="Import products from CSV (UTF-8, header row); each row saved whole or refused",
    permission="catalog.write",
    response=IMPORT_REPORT_SCHEMA,
    errors={413: "file too large", 415: "not CSV"},
)
async def import_csv(request: web.Request) -> web.Response:
    """Import a CSV body and report row by row."""
    if request.content_type not in {"text/csv", "text/plain"}:
        raise web.HTTPUnsupportedMediaType(text="send the CSV file as text/csv")
    if request.content_length is not None and request.content_length > MAX_IMPORT_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_IMPORT_BYTES, request.content_length)
    raw = await request.content.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_IMPORT_BYTES, len(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InvalidInput(f"the CSV must be UTF-8: {err}", code="bad_encoding") from err
    rows, problems = catalog.read_product_csv(text)
    if problems:
        raise InvalidInput("; ".join(problems), code="bad_csv_header")
    report = await catalog.import_products(request.app[LEDGER], rows, actor(request))
    return json_response(import_report_json(report))


def import_report_json(report: catalog.ImportReport) -> dict[str, Any]:
    """Return an import report as JSON."""
    return {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected_rows": report.rejected_rows,
        "errors": [{"row": r, "field": f, "problem": p} for r, f, p in report.errors],
    }


SCAN_SCHEMA: Schema = {
    "type": "object",
    "properties": {
        "kind": {"enum": ["gtin", "variable_measure", "plu", "other"]},
        "code": {"type": "string"},
        "product": PRODUCT_SCHEMA,
        "grams": {"type": ["integer", "null"]},
        "embedded_price": {"type": ["integer", "null"]},
    },
}


@api.route(
    "GET",
    "/api/v1/scan/{code}",
    summary="Resolve a scanned or keyed code (GTIN, GS1 variable-measure label, PLU, internal)",
    permission="sale.create",
    response=SCAN_SCHEMA,
    errors={404: "unknown barcode or product no longer sold", 409: "weight on a piece item"},
)
async def scan(request: web.Request) -> web.Response:
    """Return the product a code names, with any weight or price embedded in it."""
    result = await catalog.resolve_scan(
        request.app[LEDGER],
        request.match_info["code"],
        request.app[SETTINGS].barcodes.variable_measure,
    )
    return json_response(
        {
            "kind": result.kind,
            "code": result.code,
            "product": product_json(result.product),
            "grams": result.grams,
            "embedded_price": result.embedded_price,
        }
    )
