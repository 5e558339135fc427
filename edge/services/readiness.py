"""What /readyz reports: named checks that background tasks turn green or red."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field


@dataclass
class Check:
    """One readiness condition and its latest explanation."""

    ok: bool = False
    detail: str = "starting"


@dataclass
class Readiness:
    """The set of checks that must all pass before the server takes traffic."""

    checks: dict[str, Check] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def require(self, name: str) -> None:
        """Add a check that starts out failing."""
        self.checks.setdefault(name, Check())

    def set(self, name: str, *, ok: bool, detail: str) -> None:
        """Record the state of a check."""
        self.checks[name] = Check(ok, detail)
        self.changed.set()

    async def wait_ready(self) -> None:
        """Return once every check passes."""
        while not self.ready:
            self.changed.clear()
            await self.changed.wait()

    @property
    def ready(self) -> bool:
        """Return True when every check passes."""
        return all(check.ok for check in self.checks.values())

    def report(self) -> dict[str, object]:
        """Return the JSON body of /readyz."""
        return {
            "ready": self.ready,
            "checks": {n: {"ok": c.ok, "detail": c.detail} for n, c in self.checks.items()},
        }
