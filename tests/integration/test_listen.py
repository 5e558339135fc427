"""The shared listening socket: connections spread evenly over the server's processes.

Two aiohttp runners on one loop stand for two processes: each has its own site on the same
socket and its own slot in one connection table, exactly as the primary and a worker do.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from edge.listen import (
    ABSENT,
    MAX_DEFER_S,
    BalancedSite,
    ConnectionTable,
    fair_share,
    inherited_sockets,
    listen_sockets,
    not_my_turn,
    pending_connections,
    quota,
)


def test_the_fair_share_counts_serving_processes_and_the_queue() -> None:
    assert fair_share([5, 4], 0) == 5  # the one holding 5 takes nothing more
    assert fair_share([4, 4], 1) == 5  # a tie: either may take it
    assert fair_share([0, 0], 64) == 32  # a burst: half each
    assert fair_share([9, ABSENT], 1) == 10  # an absent process takes nothing
    assert fair_share([ABSENT, 0, 1], 2) == 2
    assert fair_share([ABSENT], 3) == 3


def test_a_process_takes_its_share_at_most_half_the_queue_at_a_time() -> None:
    assert quota(0, [0, 0], 64) == 32  # a burst: half now
    assert quota(0, [0, 32], 32) == 16  # the other's count may be stale: half of what is left
    assert quota(5, [5, 4], 1) == 0  # holds more: leaves it
    assert quota(4, [4, 4], 1) == 1  # a tie: may take it
    assert quota(9, [9, ABSENT], 3) == 3  # alone


def test_between_equals_the_one_that_accepted_fewer_takes_the_next() -> None:
    assert not_my_turn(0, [0, 0], [3, 2])
    assert not not_my_turn(1, [0, 0], [3, 2])
    assert not not_my_turn(0, [0, 1], [3, 2])  # the other holds more: no turn to wait for
    assert not not_my_turn(0, [0, ABSENT], [3, 0])


def test_the_accept_queue_length_is_read_from_the_kernel() -> None:
    (sock,) = listen_sockets("127.0.0.1", 0)
    clients = []
    try:
        assert pending_connections(sock) == 0
        port = sock.getsockname()[1]
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
        deadline = time.monotonic() + 5
        while pending_connections(sock) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert pending_connections(sock) == 5
        sock.setblocking(True)
        sock.accept()[0].close()
        assert pending_connections(sock) == 4
    finally:
        for client in clients:
            client.close()
        sock.close()


def test_the_table_is_shared_through_its_descriptor() -> None:
    table = ConnectionTable.create(3)
    try:
        assert table.counts() == [ABSENT] * 3
        table.set(1, 42)
        copy, slot = ConnectionTable.inherited(
            table.env(2).replace(str(table.fd), str(os.dup(table.fd)), 1)
        )  # a worker gets its own descriptor of the same memory
        try:
            assert slot == 2
            copy.set(2, 7)
            assert table.counts() == [ABSENT, 42, 7]
            assert copy.counts() == [ABSENT, 42, 7]
        finally:
            copy.close()
    finally:
        table.close()


def test_sockets_listen_and_pass_by_descriptor() -> None:
    (sock,) = listen_sockets("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        (again,) = inherited_sockets(str(os.dup(sock.fileno())))
        try:
            assert again.getsockname() == ("127.0.0.1", port)
            assert not again.getblocking()
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass  # the backlog takes it: the socket listens
        finally:
            again.close()
    finally:
        sock.close()


async def _runner() -> web.AppRunner:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    return runner


@pytest.fixture
async def shared() -> AsyncIterator[tuple[int, ConnectionTable, list[web.AppRunner]]]:
    """Two 'processes' on one socket; a third slot the tests can fill (a stuck process)."""
    (sock,) = listen_sockets("127.0.0.1", 0)
    table = ConnectionTable.create(3)
    runners = [await _runner(), await _runner()]
    for slot, runner in enumerate(runners):
        own = inherited_sockets(str(os.dup(sock.fileno())))[0]  # each its own descriptor
        await BalancedSite(runner, own, table, slot).start()
    try:
        yield sock.getsockname()[1], table, runners
    finally:
        for runner in runners:
            await runner.cleanup()
        sock.close()
        table.close()


def _held(runners: list[web.AppRunner]) -> list[int]:
    return [len(runner.server.connections) if runner.server else 0 for runner in runners]


async def test_kept_connections_spread_evenly(
    shared: tuple[int, ConnectionTable, list[web.AppRunner]],
) -> None:
    port, table, runners = shared
    sessions = []
    try:
        for _ in range(20):  # tills connecting one after the other, each keeping its connection
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1))
            sessions.append(session)
            async with session.get(f"http://127.0.0.1:{port}/") as response:
                assert await response.text() == "ok"
        assert _held(runners) == [10, 10]
        assert table.counts()[:2] == [10, 10]
    finally:
        for session in sessions:
            await session.close()


async def test_one_request_connections_go_round_the_processes(
    shared: tuple[int, ConnectionTable, list[web.AppRunner]],
) -> None:
    port, table, _runners = shared
    for _ in range(10):  # each request on its own connection, closed after it
        async with (
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
            session.get(f"http://127.0.0.1:{port}/") as response,
        ):
            assert response.status == 200
        await asyncio.sleep(0.05)  # closed on both ends: both processes hold none again
    assert table.accepted()[:2] == [5, 5]


async def test_a_burst_of_connections_is_split_at_once(
    shared: tuple[int, ConnectionTable, list[web.AppRunner]],
) -> None:
    port, _table, runners = shared
    loop = asyncio.get_running_loop()
    clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]
    try:  # all 40 wait in the queue before either 'process' looks at it
        deadline = loop.time() + 5
        while sum(_held(runners)) < 40 and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        assert _held(runners) == [20, 20]
    finally:
        for client in clients:
            client.close()


async def test_a_stuck_process_does_not_hold_up_a_connection(
    shared: tuple[int, ConnectionTable, list[web.AppRunner]],
) -> None:
    port, table, runners = shared
    table.set(2, 0)  # a process that says it holds nothing but never accepts
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        for _ in range(3):
            started = loop.time()
            async with session.get(f"http://127.0.0.1:{port}/", timeout=aiohttp.ClientTimeout(5)):
                pass
            assert loop.time() - started < MAX_DEFER_S + 0.5  # taken after the short wait
    assert sum(_held(runners)) >= 1


async def test_a_stopped_site_leaves_its_slot_absent(
    shared: tuple[int, ConnectionTable, list[web.AppRunner]],
) -> None:
    port, table, runners = shared
    await runners[1].cleanup()
    assert table.counts()[1] == ABSENT
    async with aiohttp.ClientSession() as session:
        for _ in range(4):  # everything goes to the one left, without waiting on the other
            async with session.get(f"http://127.0.0.1:{port}/") as response:
                assert response.status == 200
