"""One HTTP port shared by the server's processes, with the connections spread evenly.

With `[http] workers = N` (N > 1) the primary opens the listening sockets and hands them to
its worker processes (inherited descriptors); every process accepts from the same queue. Each
process publishes how many connections it holds (and has accepted) in a small table in shared
memory and reads the length of the accept queue: it takes connections only up to its fair
share of those held and pending and leaves the rest to the others; between processes holding
as many, the one that accepted fewer takes the next. A burst (every till reconnecting after a
restart) is taken in a few turns of each process's loop, at most an even part of the queue at
a time, since another process's count may still include connections that closed a moment ago.

Tills and kiosks keep their connections open all day, so the spread of connections is the
spread of the work: with 64 tills on two processes a 36/28 split (what a hash of the tills'
addresses and ports, SO_REUSEPORT's way, gives as often as not) made the busier process the
slowest in the store, its 99th percentile a third longer than with 32/32.

A process that leaves a connection to the others does so for a moment only: if nobody took it
within `MAX_DEFER_S` (the other process is stuck, or its slot is stale) it takes it itself, so
a connection never waits on a process that cannot take it. The slot of a process that is not
serving holds `ABSENT` and is ignored.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import mmap
import os
import socket
import struct
import time
from ssl import SSLContext

from aiohttp import web

log = logging.getLogger(__name__)

LISTEN_FDS_ENV = "EDGE_LISTEN_FDS"  # a worker's inherited listening sockets: "fd,fd"
TABLE_ENV = "EDGE_CONNECTION_TABLE"  # a worker's table and slot: "fd:slots:slot"
ABSENT = -1
BACKLOG = 128
DEFER_S = 0.002  # how long a busier process waits before looking at a pending connection again
MAX_DEFER_S = 0.05  # after this, a pending connection is taken whoever holds more
REFRESH_S = 0.5  # how often a process republishes its count (connections also close)
_SLOT = struct.Struct("<q")
_FATAL_ACCEPT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_UNACKED = struct.Struct("I")  # struct tcp_info: eight u8 fields, then u32 rto, ato, snd_mss,
_UNACKED_OFFSET = 24  # rcv_mss, unacked, ...
_TCP_INFO_SIZE = 32


class ConnectionTable:
    """How many connections each server process holds and has accepted, in shared memory."""

    def __init__(self, fd: int, slots: int) -> None:
        """Map the table behind `fd` (made by `create`, or inherited from the primary)."""
        self.fd = fd
        self.slots = slots
        self._map = mmap.mmap(fd, 2 * _SLOT.size * slots)

    @classmethod
    def create(cls, slots: int) -> ConnectionTable:
        """Make a table of `slots` processes, every slot absent."""
        fd = os.memfd_create("edge-connections", os.MFD_CLOEXEC)
        os.ftruncate(fd, 2 * _SLOT.size * slots)
        table = cls(fd, slots)
        for slot in range(slots):
            table.set(slot, ABSENT)
        return table

    def set(self, slot: int, count: int) -> None:
        """Publish process `slot`'s connection count (ABSENT: it does not serve)."""
        _SLOT.pack_into(self._map, _SLOT.size * slot, count)

    def counts(self) -> list[int]:
        """Return every slot's count."""
        return [_SLOT.unpack_from(self._map, _SLOT.size * i)[0] for i in range(self.slots)]

    def set_accepted(self, slot: int, total: int) -> None:
        """Publish how many connections process `slot` has accepted since it started."""
        _SLOT.pack_into(self._map, _SLOT.size * (self.slots + slot), total)

    def accepted(self) -> list[int]:
        """Return every slot's accepted total."""
        base = self.slots
        return [_SLOT.unpack_from(self._map, _SLOT.size * (base + i))[0] for i in range(base)]

    def env(self, slot: int) -> str:
        """Return how a worker in `slot` finds this table (see `inherited`)."""
        return f"{self.fd}:{self.slots}:{slot}"

    @classmethod
    def inherited(cls, value: str) -> tuple[ConnectionTable, int]:
        """Map the table a worker was given; return it and the worker's slot."""
        fd, slots, slot = (int(part) for part in value.split(":"))
        return cls(fd, slots), slot

    def close(self) -> None:
        """Unmap the table and close its descriptor."""
        self._map.close()
        os.close(self.fd)


def fair_share(counts: list[int], pending: int) -> int:
    """Return how many connections each serving process should hold, pending ones taken."""
    serving = [count for count in counts if count != ABSENT]
    if not serving:
        return pending
    return -(-(sum(serving) + pending) // len(serving))  # rounded up: a tie lets both take


def quota(mine: int, counts: list[int], pending: int) -> int:
    """Return how many pending connections a process holding `mine` should take now.

    Up to its fair share, and at most an even part of the queue at a time: another process's
    count may still include connections that just closed (it republishes when it next looks).
    """
    serving = sum(1 for count in counts if count != ABSENT)
    return min(fair_share(counts, pending) - mine, -(-pending // max(serving, 1)))


def not_my_turn(slot: int, counts: list[int], accepted: list[int]) -> bool:
    """Tell whether another process holding as many connections has accepted fewer.

    It takes the next one: short connections (a request each) then go round the processes
    instead of all to whichever loop wakes first.
    """
    mine = counts[slot]
    return any(
        i != slot and count == mine and accepted[i] < accepted[slot]
        for i, count in enumerate(counts)
    )


def pending_connections(sock: socket.socket) -> int:
    """Return how many connections wait in a listening socket's queue (Linux TCP_INFO)."""
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except OSError:
        return 0
    # for a listening socket the kernel reports its accept queue's length as tcpi_unacked
    return _UNACKED.unpack_from(info, _UNACKED_OFFSET)[0] if len(info) >= _TCP_INFO_SIZE else 0


def listen_sockets(host: str | None, port: int, backlog: int = BACKLOG) -> list[socket.socket]:
    """Bind and listen on every address of `host` (all interfaces when empty), as asyncio does."""
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    seen: set[object] = set()
    try:
        for family, kind, proto, _, address in infos:
            if address in seen:
                continue
            seen.add(address)
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def inherited_sockets(value: str) -> list[socket.socket]:
    """Return the listening sockets a worker was given (LISTEN_FDS_ENV)."""
    sockets = [socket.socket(fileno=int(fd)) for fd in value.split(",") if fd]
    for sock in sockets:
        sock.setblocking(False)
    return sockets


class BalancedSite(web.BaseSite):
    """An aiohttp site on a shared listening socket that takes its share of connections."""

    __slots__ = (
        "_accepted",
        "_held",
        "_paused",
        "_refresh",
        "_slot",
        "_sock",
        "_table",
        "_waiting_since",
    )

    def __init__(
        self,
        runner: web.BaseRunner,
        sock: socket.socket,
        table: ConnectionTable,
        slot: int,
        *,
        ssl_context: SSLContext | None = None,
    ) -> None:
        """Serve `runner` on `sock`, publishing in `table[slot]`."""
        super().__init__(runner, ssl_context=ssl_context)
        self._sock = sock
        self._table = table
        self._slot = slot
        self._waiting_since: float | None = None
        self._held: set[socket.socket] = set()  # accepted here; closed ones are pruned
        self._accepted = 0  # accepted here since the start
        self._refresh: asyncio.TimerHandle | None = None
        self._paused: asyncio.TimerHandle | None = None

    @property
    def name(self) -> str:
        """Return the site's URL."""
        scheme = "https" if self._ssl_context else "http"
        host, port = self._sock.getsockname()[:2]
        host = f"[{host}]" if ":" in host else host
        return f"{scheme}://{host}:{port}"

    async def start(self) -> None:
        """Start taking connections from the shared socket."""
        await super().start()
        self._table.set_accepted(self._slot, 0)
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None  # noqa: S101 - BaseSite checked it
        # an asyncio server that never accepts itself: it gives the runner the addresses and
        # closes the socket (and the reader below) when the site stops
        self._server = await loop.create_server(server, sock=self._sock, start_serving=False)
        self._publish()
        loop.add_reader(self._sock.fileno(), self._ready)

    async def stop(self) -> None:
        """Stop taking connections; this process's slot becomes absent."""
        for handle in (self._refresh, self._paused):
            if handle is not None:
                handle.cancel()
        self._table.set(self._slot, ABSENT)
        await super().stop()

    def _count(self) -> int:
        """Return how many connections this process holds (accepted and not yet closed).

        The socket closes with its transport, so this counts from the accept on, handshakes
        included, with no gap before the server registers a connection.
        """
        self._held = {conn for conn in self._held if conn.fileno() != -1}
        return len(self._held)

    def _publish(self) -> None:
        """Republish this process's count now and every REFRESH_S."""
        self._table.set(self._slot, self._count())
        loop = asyncio.get_running_loop()
        self._refresh = loop.call_later(REFRESH_S, self._publish)

    def _ready(self) -> None:
        """Take this process's share of the pending connections, or leave them a moment."""
        loop = asyncio.get_running_loop()
        mine = self._count()
        self._table.set(self._slot, mine)
        counts = self._table.counts()
        take = quota(mine, counts, pending_connections(self._sock))
        if take <= 0 or not_my_turn(self._slot, counts, self._table.accepted()):
            # another takes it (it holds fewer, or as many and accepted fewer), unless it cannot
            now = time.monotonic()
            if self._waiting_since is None:
                self._waiting_since = now
            if now - self._waiting_since < MAX_DEFER_S:
                self._pause(DEFER_S)
                return
            take = 1
        self._waiting_since = None
        for _ in range(take):  # a burst (every till after a restart) is taken in one go
            try:
                conn, _ = self._sock.accept()
            except ConnectionAbortedError:
                continue
            except (BlockingIOError, InterruptedError):
                return  # the queue is empty: the others took the rest
            except OSError as err:
                if err.errno not in _FATAL_ACCEPT:
                    raise
                log.error("cannot accept a connection (%s); pausing for a second", err)  # noqa: TRY400
                self._pause(1.0)
                return
            mine += 1
            self._accepted += 1
            self._held.add(conn)
            self._table.set(self._slot, mine)
            self._table.set_accepted(self._slot, self._accepted)
            conn.setblocking(False)
            task = loop.create_task(self._connect(conn))
            task.add_done_callback(_consume)

    async def _connect(self, conn: socket.socket) -> None:
        """Hand an accepted connection to the aiohttp server (TLS handshake first if any)."""
        server = self._runner.server
        assert server is not None  # noqa: S101 - started
        try:
            await asyncio.get_running_loop().connect_accepted_socket(
                server, conn, ssl=self._ssl_context
            )
        except BaseException:
            conn.close()
            raise

    def _pause(self, seconds: float) -> None:
        """Stop watching the socket for `seconds`."""
        loop = asyncio.get_running_loop()
        fd = self._sock.fileno()
        loop.remove_reader(fd)

        def resume() -> None:
            self._paused = None
            if self._sock.fileno() != -1:
                loop.add_reader(fd, self._ready)

        self._paused = loop.call_later(seconds, resume)


def _consume(task: asyncio.Task[None]) -> None:
    """Log a connection that failed before it was served (a TLS handshake, a reset)."""
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.debug("connection failed before it was served: %s", error)
