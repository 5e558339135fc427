"""A till-like writer process for the crash test: reports each command once it is durable.

Run as `python -m tests.reliability.crash_child LEDGER ROUND`; prints `ready`, then one line
`done NAME SEQ,SEQ,SEQ` per committed command and `failed NAME` per refused one, until killed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from edge.ledger.ledger import Ledger
from tests.conftest import TEST_PROJECTORS, add_counter, init_command

MAX_COMMANDS = 50_000
MAX_SECONDS = 30.0
CONCURRENCY = 32


async def main(path: Path, round_no: int) -> None:
    ledger = Ledger(path, projectors=TEST_PROJECTORS, require_initialized=False)
    await ledger.start()
    if ledger.head[0] == 0:
        await ledger.submit(init_command)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MAX_SECONDS
    counter = iter(range(MAX_COMMANDS))

    async def till(worker: int) -> None:
        for n in counter:
            if loop.time() > deadline:
                return
            name = f"r{round_no}-w{worker}-{n}"
            fail = n % 7 == 3
            try:
                seqs = await ledger.submit(add_counter(name, 1, events=3, fail=fail))
            except ValueError:
                out.write(f"failed {name}\n")
            else:
                out.write(f"done {name} {','.join(map(str, seqs))}\n")
            out.flush()

    await asyncio.gather(*(till(w) for w in range(CONCURRENCY)))
    await ledger.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
