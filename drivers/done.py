"""The gateway's memory of commands: which ids it carried out and what it answered.

An append-only JSON-lines file: `started` before a command runs, `finished` with its result
after. A command found started but never finished (the gateway died in the middle) is not
run again: it is answered `interrupted`, so a half-printed receipt is reported as failed and
reprinted on purpose rather than printed twice by accident. The file is compacted at start to
the most recent ids.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

KEEP = 5000


class DoneLog:
    """Recent command ids and their results, kept on disk."""

    def __init__(self, path: Path, keep: int = KEEP) -> None:
        """Remember where the log lives."""
        self.path = path
        self.keep = keep
        self._results: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def load(self) -> None:
        """Read the log (ignoring a torn last line) and rewrite it compacted."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        results: OrderedDict[str, dict[str, Any]] = OrderedDict()
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                    command, result = str(record["id"]), record.get("result")
                except (ValueError, KeyError, TypeError):
                    continue
                results[command] = result or {"ok": False, "error": "interrupted"}
                results.move_to_end(command)
        while len(results) > self.keep:
            results.popitem(last=False)
        self._results = results
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            for command, result in results.items():
                handle.write(json.dumps({"id": command, "result": result}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)

    def get(self, command: str) -> dict[str, Any] | None:
        """Return the result of a command already carried out (or interrupted)."""
        return self._results.get(command)

    def _append(self, record: dict[str, Any]) -> None:
        """Append one durable record."""
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def started(self, command: str) -> None:
        """Note that a command is about to run."""
        self._append({"id": command})

    def finished(self, command: str, result: dict[str, Any]) -> None:
        """Note a command's result."""
        self._append({"id": command, "result": result})
        self._results[command] = result
        if len(self._results) > self.keep:
            self._results.popitem(last=False)
