"""A control panel for the demo's simulated devices: scan a code, put weight on the scale.

`edge demo` runs it on 127.0.0.1 beside the store. The page and its small JSON API act on the
simulators directly, so what follows goes the real way: simulator → pty/TCP → driver →
gateway → MQTT → server → till.

- `POST /scan` {"code": "6901234567892"} — the scanner reads a code (CR-terminated on its line)
- `POST /weight` {"grams": 1250, "motion": false} — goods on (or moving on) the scale
  (both take `"at": "kiosk"` for the self-checkout kiosk's scanner and bagging scale)
- `POST /paper` {"state": "ok" | "near_end" | "out"} — the printer's paper sensor
- `GET /receipts` — the latest receipts the printer received, as text lines
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from drivers.sim import escpos_reader
from drivers.sim.printer import PAPER_BYTES, PrinterSimulator
from drivers.sim.scale import ScaleSimulator
from drivers.sim.scanner import ScannerSimulator

MAX_BODY = 4096
RECEIPTS_SHOWN = 5


@dataclass
class Simulators:
    """The simulators the panel drives (any may be absent)."""

    scanner: ScannerSimulator | None = None
    scale: ScaleSimulator | None = None
    printer: PrinterSimulator | None = None
    kiosk_scanner: ScannerSimulator | None = None
    kiosk_scale: ScaleSimulator | None = None

    def at(self, body: dict[str, Any]) -> tuple[ScannerSimulator | None, ScaleSimulator | None]:
        """Return the scanner and scale a request names (`"at": "kiosk"`, else the till's)."""
        if body.get("at") == "kiosk":
            return self.kiosk_scanner, self.kiosk_scale
        return self.scanner, self.scale


def _error(status: int, code: str, message: str) -> web.Response:
    """Return a JSON error like the store's API."""
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    """Return the JSON object of a request, or the error response to send instead."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(413, "too_large", f"bodies are at most {MAX_BODY} bytes")
    try:
        body = json.loads(await request.content.read(MAX_BODY + 1) or b"null")
    except (ValueError, UnicodeDecodeError):
        return _error(400, "malformed_json", "the body is not JSON")
    if not isinstance(body, dict):
        return _error(400, "invalid_input", "the body must be a JSON object")
    return body


def build_panel(sims: Simulators) -> web.Application:
    """Return the panel's aiohttp application."""
    app = web.Application(client_max_size=MAX_BODY)
    routes = web.RouteTableDef()

    @routes.get("/")
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8")

    @routes.post("/scan")
    async def scan(request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        code = body.get("code")
        if not isinstance(code, str) or not 1 <= len(code) <= 64 or not code.isascii():
            return _error(400, "invalid_input", "code must be 1-64 ASCII characters")
        if not code.isprintable():
            return _error(400, "invalid_input", "code must be printable")
        if body.get("at", "till") not in ("till", "kiosk"):
            return _error(400, "invalid_input", "at must be till or kiosk")
        scanner = sims.at(body)[0]
        if scanner is None:
            return _error(404, "no_scanner", "the demo runs no simulated scanner there")
        try:
            await asyncio.to_thread(scanner.scan, code)
        except OSError as err:
            return _error(503, "unplugged", str(err))
        return web.json_response({"scanned": code})

    @routes.post("/weight")
    async def weight(request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        grams, motion = body.get("grams"), body.get("motion", False)
        if not isinstance(grams, int) or isinstance(grams, bool) or not 0 <= grams <= 100_000:
            return _error(400, "invalid_input", "grams must be an integer from 0 to 100000")
        if not isinstance(motion, bool):
            return _error(400, "invalid_input", "motion must be true or false")
        if body.get("at", "till") not in ("till", "kiosk"):
            return _error(400, "invalid_input", "at must be till or kiosk")
        scale = sims.at(body)[1]
        if scale is None:
            return _error(404, "no_scale", "the demo runs no simulated scale there")
        scale.set_weight(grams)
        scale.set_motion(motion)
        return web.json_response({"grams": grams, "motion": motion})

    @routes.post("/paper")
    async def paper(request: web.Request) -> web.Response:
        body = await _body(request)
        if isinstance(body, web.Response):
            return body
        state = body.get("state")
        if state not in PAPER_BYTES:
            return _error(400, "invalid_input", f"state must be one of {', '.join(PAPER_BYTES)}")
        if sims.printer is None:
            return _error(404, "no_printer", "the demo runs no simulated printer")
        sims.printer.set_paper(str(state))
        return web.json_response({"state": state})

    @routes.get("/receipts")
    async def receipts(request: web.Request) -> web.Response:
        if sims.printer is None:
            return _error(404, "no_printer", "the demo runs no simulated printer")
        finished = sims.printer.receipts()
        jobs = finished[-RECEIPTS_SHOWN:]
        shown = [escpos_reader.lines(escpos_reader.read(job)) for job in reversed(jobs)]
        return web.json_response({"printed": len(finished), "receipts": shown})

    app.add_routes(routes)
    return app


class Panel:
    """The panel served on 127.0.0.1 (port 0: any free port)."""

    def __init__(self, sims: Simulators, host: str = "127.0.0.1", port: int = 0) -> None:
        """Keep the simulators; nothing listens until `start()`."""
        self.runner = web.AppRunner(build_panel(sims), access_log=None)
        self.host, self.port = host, port

    async def start(self) -> str:
        """Listen and return the panel's URL."""
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.host, self.port)
        await site.start()
        self.port = int(self.runner.addresses[0][1])
        return f"http://{self.host}:{self.port}/"

    async def stop(self) -> None:
        """Stop listening."""
        await self.runner.cleanup()


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>模拟设备 Simulated devices</title>
<style>
body{font:16px system-ui,sans-serif;margin:1.5rem;max-width:46rem}
fieldset{margin:0 0 1rem;border:1px solid #bbb;border-radius:6px}
input,button,select{font:inherit;padding:.4rem .6rem;margin:.2rem}
pre{background:#f4f4f4;padding:.6rem;white-space:pre-wrap}
#out{color:#064}
</style></head><body>
<h1>模拟设备 Simulated devices</h1>
<p>操作会经过真实路径：模拟器 → 驱动 → 网关 → MQTT → 服务器 → 收银台/自助收银。
Actions go the real way: simulator → driver → gateway → MQTT → server → till T01 or kiosk-01.</p>
<fieldset><legend>扫码枪 Scanner</legend>
<form id="scan"><select name="at" aria-label="where"><option value="till">T01</option>
<option value="kiosk">kiosk-01</option></select>
<input name="code" value="6901234567892" size="20" aria-label="code">
<button>扫码 Scan</button></form></fieldset>
<fieldset><legend>秤 Scale</legend>
<form id="weight"><select name="at" aria-label="where"><option value="till">T01</option>
<option value="kiosk">kiosk-01</option></select>
<input name="grams" type="number" min="0" max="100000" value="1250"
 aria-label="grams"> g <label><input name="motion" type="checkbox"> 晃动 moving</label>
<button>称重 Weigh</button></form></fieldset>
<fieldset><legend>打印机 Printer</legend>
<form id="paper"><select name="state" aria-label="paper"><option>ok</option>
<option>near_end</option><option>out</option></select><button>纸 Paper</button></form>
<button id="show">最近小票 Latest receipts</button><pre id="receipts"></pre></fieldset>
<p id="out" role="status"></p>
<script type="module">
const out = document.getElementById("out");
async function call(path, body) {
  const response = await fetch(path, {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json"}});
  const data = await response.json();
  out.textContent = response.ok ? JSON.stringify(data) : data.error.message;
}
function on(id, body) {
  document.getElementById(id).addEventListener("submit", (event) => {
    event.preventDefault();
    call("/" + id, body(new FormData(event.target)));
  });
}
on("scan", (f) => ({code: f.get("code"), at: f.get("at")}));
on("weight", (f) => ({grams: Number(f.get("grams")), motion: f.get("motion") === "on",
  at: f.get("at")}));
on("paper", (f) => ({state: f.get("state")}));
document.getElementById("show").addEventListener("click", async () => {
  const data = await (await fetch("/receipts")).json();
  document.getElementById("receipts").textContent =
    data.receipts.map((lines) => lines.join("\\n")).join("\\n\\n----\\n\\n");
});
</script></body></html>
"""
