"""The browser UIs: `/till`, `/kiosk`, `/attendant`, `/admin` and their files under `/ui/`.

Plain HTML, CSS and JavaScript modules from `edge/web/ui/` (no build step). Each UI is a folder
with `index.html`, its modules and its message catalogs (`i18n/zh-CN.json`, `i18n/en.json`);
`common/` holds what the three share (API client, i18n, live updates, sign-in). Files are served
read-only from that tree and nothing outside it; a strict Content-Security-Policy allows only
the server's own scripts, styles and WebSocket.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from edge.domain.errors import NotFound
from edge.web.api import Api

api = Api("ui")

UI_ROOT = Path(__file__).resolve().parent / "ui"
UIS = ("till", "kiosk", "attendant", "admin")
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def _headers(cache: str) -> dict[str, str]:
    """Return the headers every UI file carries."""
    return {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": cache,
    }


def ui_file(relative: str) -> Path | None:
    """Return the file under the UI tree that a request path names, None if there is none.

    Hidden names, `..`, absolute paths and unknown types are refused, and the resolved path
    must still lie inside the tree (a symlink cannot lead out of it).
    """
    parts = relative.split("/")
    if not relative or any(not p or p.startswith(".") for p in parts) or "\\" in relative:
        return None
    path = (UI_ROOT / relative).resolve()
    if not path.is_relative_to(UI_ROOT) or path.suffix not in TYPES or not path.is_file():
        return None
    return path


async def _page(name: str) -> web.Response:
    """Return a UI's index.html."""
    path = UI_ROOT / name / "index.html"
    return web.Response(
        body=path.read_bytes(),
        content_type="text/html",
        charset="utf-8",
        headers=_headers("no-cache"),
    )


@api.route("GET", "/till", summary="The web till (HTML)", permission="public")
async def till_page(request: web.Request) -> web.Response:
    """Serve the till."""
    return await _page("till")


@api.route("GET", "/kiosk", summary="The self-checkout kiosk (HTML)", permission="public")
async def kiosk_page(request: web.Request) -> web.Response:
    """Serve the kiosk."""
    return await _page("kiosk")


@api.route(
    "GET", "/attendant", summary="The self-checkout attendant screen (HTML)", permission="public"
)
async def attendant_page(request: web.Request) -> web.Response:
    """Serve the attendant screen."""
    return await _page("attendant")


@api.route("GET", "/admin", summary="The back office (HTML)", permission="public")
async def admin_page(request: web.Request) -> web.Response:
    """Serve the back office."""
    return await _page("admin")


@api.route(
    "GET",
    "/ui/{path:.+}",
    summary="A file of the browser UIs (scripts, styles, message catalogs, pictures)",
    permission="public",
    errors={404: "no such file"},
)
async def ui_asset(request: web.Request) -> web.Response:
    """Serve one UI file (revalidated by ETag, so a new release shows at the next load)."""
    path = ui_file(request.match_info["path"])
    if path is None:
        raise NotFound("no such file", code="no_file")
    stat = path.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    headers = _headers("no-cache") | {"ETag": etag}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    content_type = TYPES[path.suffix]
    charset = "utf-8" if content_type.startswith(("text/", "application/json")) else None
    return web.Response(
        body=path.read_bytes(), content_type=content_type, charset=charset, headers=headers
    )
