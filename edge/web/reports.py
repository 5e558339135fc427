"""Back-office reports over HTTP (JSON and CSV)."""

from __future__ import annotations

from edge.web.api import Api

api = Api("reports")
