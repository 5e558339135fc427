"""A network receipt printer on 127.0.0.1 that behaves like an Epson on port 9100.

It records every byte of every connection and answers the real-time status requests
`DLE EOT n` at once, even in the middle of a job, from a state the test sets: paper ok /
near end / out (`DLE EOT 4` → 0x12 / 0x1E / 0x7E), cover open, offline (error). Like the
real printer it keeps taking data while out of paper or with the cover open (it would
print it later). It can also hang (accept connections but never read, so nothing is
answered and the sender's buffers fill) and drop the next connection right after accepting.
Threads, not asyncio, so sync and async tests use it alike.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

from drivers.sim import escpos_reader

PAPER_BYTES = {"ok": 0x12, "near_end": 0x1E, "out": 0x7E}
FIXED = 0x12  # bits 1 and 4 are always set in a status byte
POLL = 0.05


class PrinterSimulator:
    """A TCP ESC/POS printer: start(), point a driver at `.port`, read `.jobs()`, stop()."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Choose where to listen (port 0: any free port); nothing runs until start()."""
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._paper = "ok"
        self._cover_open = False
        self._offline = False
        self._hang = False
        self._drops = 0
        self._records: list[bytearray] = []
        self._clients: set[socket.socket] = set()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self.answered: list[int] = []  # the n of every DLE EOT n answered

    # state the test sets -------------------------------------------------------------
    def set_paper(self, state: str) -> None:
        """Set the roll paper sensor: ok, near_end or out."""
        if state not in PAPER_BYTES:
            raise ValueError(f"paper state must be one of {', '.join(PAPER_BYTES)}")
        with self._lock:
            self._paper = state

    def set_cover_open(self, is_open: bool) -> None:
        """Open or close the cover."""
        with self._lock:
            self._cover_open = is_open

    def set_offline(self, offline: bool) -> None:
        """Put the printer in (or out of) an error state that stops printing."""
        with self._lock:
            self._offline = offline

    def hang(self, hung: bool = True) -> None:
        """Stop (or resume) reading from connections; accepting goes on."""
        with self._lock:
            self._hang = hung

    def drop_next_connection(self) -> None:
        """Close the next accepted connection at once, before reading anything."""
        with self._lock:
            self._drops += 1

    def close_connections(self) -> None:
        """Cut every open connection (the printer was switched off and on)."""
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue

    def status_byte(self, n: int) -> int:
        """Return the answer to DLE EOT n for the current state."""
        with self._lock:
            paper, cover, error = self._paper, self._cover_open, self._offline
        stopped = paper == "out" or cover or error
        if n == 4:
            return PAPER_BYTES[paper]
        if n == 2:
            return (
                FIXED
                | (0x04 if cover else 0)
                | (0x20 if paper == "out" else 0)
                | (0x40 if error else 0)
            )
        if n == 3:
            return FIXED | (0x08 if error else 0)
        return FIXED | (0x08 if stopped else 0)

    # what was received -------------------------------------------------------------
    def connections(self) -> list[bytes]:
        """Return the bytes received on each connection so far, oldest first."""
        with self._lock:
            return [bytes(record) for record in self._records]

    def data(self) -> bytes:
        """Return every byte received, all connections in order."""
        return b"".join(self.connections())

    def jobs(self) -> list[bytes]:
        """Return the received data split into jobs at each cut (status requests left out)."""
        return [job for record in self.connections() for job in escpos_reader.jobs(record)]

    def receipts(self) -> list[bytes]:
        """Return the finished jobs: those ending with a cut (a lone drawer kick is not one)."""
        return [
            job
            for job in self.jobs()
            if [op.kind for op in escpos_reader.read(job)][-1:] == ["cut"]
        ]

    def wait_jobs(self, count: int, timeout: float = 3.0) -> list[bytes]:
        """Wait until `count` jobs have arrived (or `timeout` passed); return the jobs."""
        deadline = time.monotonic() + timeout
        while len(found := self.jobs()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return found

    def wait_data(self, needle: bytes, timeout: float = 3.0) -> bytes:
        """Wait until `needle` has arrived (or `timeout` passed); return all data."""
        deadline = time.monotonic() + timeout
        while needle not in (found := self.data()) and time.monotonic() < deadline:
            time.sleep(0.01)
        return found

    # running -----------------------------------------------------------------------
    def start(self) -> PrinterSimulator:
        """Listen and serve on threads; `.port` is the port in use."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((self.host, self.port))
        server.listen(8)
        server.settimeout(POLL)
        self._server, self.port = server, server.getsockname()[1]
        self._spawn(self._accept_loop, server)
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        self._stopping.set()
        self.close_connections()
        for thread in self._threads:
            thread.join(timeout=2.0)
        if self._server is not None:
            self._server.close()
            self._server = None

    def __enter__(self) -> PrinterSimulator:
        """Start when used as a context manager."""
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop at the end of the block."""
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        """Run a loop on a daemon thread."""
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, server: socket.socket) -> None:
        """Accept connections until stopped."""
        while not self._stopping.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            record = bytearray()
            with self._lock:
                self._records.append(record)
                drop = self._drops > 0
                self._drops -= int(drop)
                if not drop:
                    self._clients.add(client)
            if drop:
                client.close()
            else:
                self._spawn(self._serve, client, record)

    def _serve(self, client: socket.socket, record: bytearray) -> None:
        """Record what a connection sends and answer DLE EOT n at once."""
        client.settimeout(POLL)
        tail = pending = b""
        try:
            while not self._stopping.is_set():
                if self._hung():
                    time.sleep(0.01)
                    continue
                if not pending:
                    try:
                        pending = client.recv(4096)
                    except TimeoutError:
                        continue
                    if not pending:
                        return
                    if self._hung():
                        continue  # hung while the bytes were on their way: not read yet
                chunk, pending = pending, b""
                with self._lock:
                    record += chunk
                reply = self._answers(tail, chunk)
                tail = (tail + chunk)[-2:]
                if reply:
                    client.sendall(reply)
        except OSError:
            return
        finally:
            with self._lock:
                self._clients.discard(client)
            client.close()

    def _hung(self) -> bool:
        """Tell whether the printer is hung."""
        with self._lock:
            return self._hang

    def _answers(self, tail: bytes, chunk: bytes) -> bytes:
        """Return the status bytes for every DLE EOT n that ends in `chunk`."""
        buffer = tail + chunk
        reply = bytearray()
        for index in range(len(buffer) - 2):
            if index + 2 < len(tail):
                continue  # answered with the previous chunk
            if buffer[index] == 0x10 and buffer[index + 1] == 0x04 and 1 <= buffer[index + 2] <= 4:
                reply.append(self.status_byte(buffer[index + 2]))
                with self._lock:
                    self.answered.append(buffer[index + 2])
        return bytes(reply)
