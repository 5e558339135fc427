"""A plain paho subscriber in its own process: the baseline's receiving end.

`python -m edge.bench.mqtt_sink PORT TOPIC` (password on stdin's first line) subscribes as the
server's login and notes when each message id arrived (time.perf_counter, the system's
monotonic clock, comparable across processes). Each later stdin line `dump` prints the
arrivals since the last dump as one JSON object; end of input stops it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge.domain.devices import SERVER_USER


def main() -> int:
    """Subscribe, then answer `dump` requests until stdin closes."""
    port, topic = int(sys.argv[1]), sys.argv[2]
    password = sys.stdin.readline().strip()
    arrivals: dict[str, float] = {}
    lock = threading.Lock()
    ready = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=SERVER_USER, protocol=paho.MQTTv5)
    client.username_pw_set(SERVER_USER, password)

    def on_message(_c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        now = time.perf_counter()
        with lock:
            arrivals[json.loads(message.payload)["id"]] = now

    client.on_message = on_message
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_a: ready.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    if not ready.wait(10):
        return 1
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if line.strip() == "dump":
            with lock:
                batch = dict(arrivals)
                arrivals.clear()
            sys.stdout.write(json.dumps(batch) + "\n")
            sys.stdout.flush()
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
