"""Receipts: the printable document of a sale and the shopper's HTML e-receipt.

The e-receipt lives at `/r/{token}` where the token holds 128 random bits made when the sale
was recorded (after its receipt number): a shopper holding one receipt cannot find another by
counting.
"""

from __future__ import annotations

import html
from typing import Any

import qrcode  # type: ignore[import-untyped]  # no stubs; used only in e_receipt_qr
import qrcode.image.svg  # type: ignore[import-untyped]
from aiohttp import web

from edge.domain.receipt_layout import layout_return, layout_sale
from edge.protocol.chain import Event
from edge.settings import LOCALES
from edge.web.api import Api, json_response, query_param
from edge.web.keys import CHECKOUT, RETURNS, SETTINGS
from edge.web.sales import base_url

api = Api("receipts")

RECEIPT_QUERY = {
    "reprint": {"type": "string", "enum": ["true", "false"], "default": "false"},
    "locale": {"type": "string", "enum": list(LOCALES)},
}
TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def sale_document(
    request: web.Request, event: Event, locale: str, *, reprint: bool
) -> dict[str, Any]:
    """Lay out a recorded sale as a receipt document in `locale`."""
    settings = request.app[SETTINGS]
    return layout_sale(
        event.data,
        store_name=settings.store.name,
        store_id=settings.store.id,
        ts=event.ts,
        till=event.till,
        staff=event.staff,
        timezone=settings.store.timezone,
        locale=locale,
        e_receipt_url=f"{base_url(request)}/r/{event.data['token']}",
        reprint=reprint,
    )


@api.route(
    "GET",
    "/api/v1/sales/{sale_id}/receipt",
    summary="The receipt document of a sale (SPEC 2.3), for printing or reprinting",
    permission="sale.read",
    response={"type": "object"},
    query=RECEIPT_QUERY,
    errors={404: "no such sale"},
)
async def get_receipt_document(request: web.Request) -> web.Response:
    """Return the printer-independent receipt document."""
    reprint = query_param(request, "reprint", RECEIPT_QUERY["reprint"]) == "true"
    locale = query_param(request, "locale", RECEIPT_QUERY["locale"])
    event = await request.app[CHECKOUT].sale_event(sale_id=request.match_info["sale_id"].lower())
    locale = locale or request.app[SETTINGS].store.locale
    return json_response(sale_document(request, event, locale, reprint=reprint))


@api.route(
    "GET",
    "/api/v1/returns/{return_id}/receipt",
    summary="The receipt document of a return or void, for printing or reprinting",
    permission="sale.read",
    response={"type": "object"},
    query=RECEIPT_QUERY,
    errors={404: "no such return"},
)
async def get_return_document(request: web.Request) -> web.Response:
    """Return the printer-independent document of a return (signature line, drawer kick)."""
    reprint = query_param(request, "reprint", RECEIPT_QUERY["reprint"]) == "true"
    settings = request.app[SETTINGS]
    locale = query_param(request, "locale", RECEIPT_QUERY["locale"]) or settings.store.locale
    event = await request.app[RETURNS].return_event(request.match_info["return_id"].lower())
    document = layout_return(
        event.data,
        store_name=settings.store.name,
        store_id=settings.store.id,
        ts=event.ts,
        till=event.till,
        staff=event.staff,
        timezone=settings.store.timezone,
        locale=locale,
        reprint=reprint,
    )
    return json_response(document)


@api.route(
    "GET",
    "/api/v1/sales/{sale_id}/qr.svg",
    summary="The QR code of a sale's e-receipt URL as SVG (shown on the till's screen)",
    permission="sale.read",
    errors={404: "no such sale"},
)
async def e_receipt_qr(request: web.Request) -> web.Response:
    """Draw the e-receipt URL of a sale as a QR code the shopper scans off the screen."""
    event = await request.app[CHECKOUT].sale_event(sale_id=request.match_info["sale_id"].lower())
    return _qr_response(f"{base_url(request)}/r/{event.data['token']}")


def _qr_response(url: str) -> web.Response:
    """Answer a URL drawn as a QR code (SVG, never cached by anyone but the caller)."""
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return web.Response(
        body=image.to_string(),
        content_type="image/svg+xml",
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )


def _token(request: web.Request) -> str:
    """Return the e-receipt token of the path, or answer 404 for one that cannot be a token."""
    token = request.match_info["token"]
    if not 16 <= len(token) <= 64 or not set(token) <= TOKEN_CHARS:
        raise web.HTTPNotFound(text="no such receipt")
    return token


@api.route(
    "GET",
    "/r/{token}/qr.svg",
    summary="The QR code of an e-receipt, by its unguessable token (shown on a kiosk's screen)",
    permission="public",
    errors={404: "no such receipt"},
)
async def e_receipt_token_qr(request: web.Request) -> web.Response:
    """Draw the e-receipt URL the token names: only who holds the token can ask for it."""
    event = await request.app[CHECKOUT].sale_event(token=_token(request))
    return _qr_response(f"{base_url(request)}/r/{event.data['token']}")


def document_html(document: dict[str, Any], title: str, lang: str) -> str:
    """Render a receipt document as a small, self-contained HTML page."""
    rows: list[str] = []
    for block in document["blocks"]:
        kind = block["kind"]
        if kind == "text":
            style = f"text-align:{block['align']}"
            style += ";font-weight:bold" if block["bold"] else ""
            style += ";font-size:1.4em" if block["size"] == 2 else ""
            rows.append(f'<p style="{style}">{html.escape(block["text"])}</p>')
        elif kind == "columns":
            weight = ' style="font-weight:bold"' if block["bold"] else ""
            rows.append(
                f'<div class="cols"{weight}><span>{html.escape(block["left"])}</span>'
                f"<span>{html.escape(block['right'])}</span></div>"
            )
        elif kind == "rule":
            rows.append("<hr>")
        elif kind == "barcode":
            rows.append(f'<p class="code">{html.escape(block["data"])}</p>')
        elif kind == "feed":
            rows.append("<br>" * block["lines"])
    body = "\n".join(rows)
    return f"""<!doctype html>
<html lang="{html.escape(lang)}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{html.escape(title)}</title>
<style>
body {{ font-family: ui-monospace, "Noto Sans Mono CJK SC", monospace; max-width: 28rem;
  margin: 1rem auto; padding: 0 1rem; color: #111; }}
p {{ margin: .2rem 0; }} hr {{ border: 0; border-top: 1px dashed #888; }}
.cols {{ display: flex; justify-content: space-between; gap: 1rem; }}
.code {{ text-align: center; letter-spacing: .1em; }}
</style></head><body>
{body}
</body></html>"""


@api.route(
    "GET",
    "/r/{token}",
    summary="A shopper's e-receipt (HTML) by its unguessable token",
    permission="public",
    query={"lang": {"type": "string", "enum": list(LOCALES)}},
    errors={404: "no such receipt"},
)
async def e_receipt(request: web.Request) -> web.Response:
    """Show the e-receipt of the sale whose QR code the shopper scanned."""
    token = _token(request)
    settings = request.app[SETTINGS]
    lang = request.query.get("lang")
    locale = lang if lang in LOCALES else settings.store.locale
    event = await request.app[CHECKOUT].sale_event(token=token)
    document = sale_document(request, event, locale, reprint=False)
    title = f"{settings.store.name} · {event.data['receipt_no']}"
    page = document_html(document, title, locale)
    return web.Response(
        text=page,
        content_type="text/html",
        headers={"Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"},
    )
