"""A fake serial scale on a pty that speaks one of six scale protocols byte for byte.

`ScaleSimulator("toledo8217").start()` opens a pseudo-terminal; a driver opens `.port` with the
profile's line settings (a pty carries no parity or data bits, so 7E1 and 8N1 both work) and the
simulator answers from a daemon thread like the real device per DEVICES.md: weight frames,
status frames for motion, overload and under zero, the protocol's answer to unknown commands,
zero and tare that change the net weight. Tests and the demo steer it: `set_weight`,
`set_motion`, `set_overload`, `set_under_zero`, `garbage` (noise, half frames and, for CAS, bad
block checks instead of replies) and `silent`; `respond(bytes)` gives the answer without a pty.
"""

from __future__ import annotations

import os
import random
import select
import termios
import threading
import tty
from collections.abc import Callable
from decimal import Decimal

PROTOCOLS = ("toledo8217", "mtsics", "sma", "nci_scp01", "cas_pd2", "adam")
STX, ETX, EOT, ENQ, ACK, DC1, SOH = "\x02", "\x03", "\x04", "\x05", "\x06", "\x11", "\x01"
ZERO_RANGE = Decimal("0.02")  # zero is accepted within ±2 % of capacity


class ScaleSimulator:
    """A scale on a pseudo-terminal, with state tests can set."""

    def __init__(self, protocol: str, capacity_grams: int = 30_000, seed: int = 8217) -> None:
        """Choose the protocol and the capacity; nothing opens until `start()`."""
        if protocol not in PROTOCOLS:
            raise ValueError(f"unknown scale protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
        self.protocol = protocol
        self.capacity = capacity_grams
        self.port = ""
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._load = 0  # grams on the platform
        self._zero = 0  # grams taken off by zeroing
        self._tare = 0
        self._motion = self._overload = self._under_zero = self._silent = False
        self._garbage: int | bool = 0
        self._noise_kind = 0
        self._jitter = 0
        self._buffer = b""
        self._echo = False  # 8217 echo test mode (after `E`, until `F`)
        self._armed = False  # CAS: ENQ seen, the next DC1 gets the weight
        self._last_sent = ""  # Adam answers only when the weight changed
        self._master = self._slave = -1
        self._wake = (-1, -1)  # a pipe that interrupts the serving thread's select
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- state -------------------------------------------------------------------------------
    def set_weight(self, grams: int) -> None:
        """Put `grams` on the platform."""
        with self._lock:
            self._load = grams

    def set_motion(self, moving: bool) -> None:
        """Make the weight unsteady (or steady again)."""
        with self._lock:
            self._motion = moving

    def set_overload(self, over: bool) -> None:
        """Force the over-capacity state (a load above capacity overloads anyway)."""
        with self._lock:
            self._overload = over

    def set_under_zero(self, under: bool) -> None:
        """Force the below-zero state (a negative net weight is below zero anyway)."""
        with self._lock:
            self._under_zero = under

    def garbage(self, replies: int | bool = True) -> None:
        """Answer the next `replies` requests (True: all, until `garbage(False)`) with noise."""
        with self._lock:
            self._garbage = replies

    def silent(self, quiet: bool = True) -> None:
        """Stop answering at all (or answer again)."""
        with self._lock:
            self._silent = quiet

    @property
    def tare_grams(self) -> int:
        """Return the tare the scale holds."""
        with self._lock:
            return self._tare

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> ScaleSimulator:
        """Open the pty and serve it from a daemon thread; `.port` is the path to open."""
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation before a driver opens it
        self.port = os.ttyname(self._slave)
        self._wake = os.pipe()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._serve, name=f"sim-{self.protocol}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, join the thread and close both ends of the pty."""
        self._stop.set()
        if self._thread is not None:
            os.write(self._wake[1], b"x")
            self._thread.join(timeout=2.0)
            self._thread = None
        for fd in (self._master, self._slave, *self._wake):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1
        self._wake = (-1, -1)

    def __enter__(self) -> ScaleSimulator:
        """Start as a context manager."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop at the end of the block."""
        self.stop()

    def _free_speed(self) -> None:
        """Put the pty's speed back to 1800 baud, which no profile uses, so every open changes it.

        Some kernels refuse 7-bit or parity settings on a pty unless the speed changes in the
        same call; pyserial's open always sets the speed, so a reopen at 7E1 then works too.
        """
        try:
            attrs = termios.tcgetattr(self._slave)
            if attrs[4] != termios.B1800:
                attrs[4] = attrs[5] = termios.B1800
                termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        except termios.error:
            return

    def _serve(self) -> None:
        """Read requests from the master end and answer them until stopped."""
        while not self._stop.is_set():
            self._free_speed()
            ready, _, _ = select.select([self._master, self._wake[0]], [], [], 0.05)
            if self._master not in ready:
                continue
            try:
                data = os.read(self._master, 1024)
            except OSError:
                return
            reply = self.respond(data)
            if reply:
                os.write(self._master, reply)

    def respond(self, data: bytes) -> bytes:
        """Return what the scale sends back for `data` arriving on its line (the pty's answer)."""
        with self._lock:
            return b"".join(self._feed(data))

    # -- the scale's arithmetic --------------------------------------------------------------
    def _gross(self) -> int:
        """Return the gross weight shown (load minus the zero offset)."""
        return self._load - self._zero

    def _net(self) -> int:
        """Return the net weight, jittering while in motion."""
        if self._motion:
            self._jitter += 1
            return self._gross() - self._tare + (2 if self._jitter % 2 else -2)
        return self._gross() - self._tare

    def _over(self) -> bool:
        """Tell whether the scale is over capacity."""
        return self._overload or self._gross() > self.capacity

    def _under(self) -> bool:
        """Tell whether the scale shows a value below zero."""
        return self._under_zero or self._gross() - self._tare < 0

    def _shown(self) -> int:
        """Return the net weight a scale that prints numbers shows (negative when under zero)."""
        net = self._net()
        return -(abs(net) or 100) if self._under_zero else net

    def _do_zero(self) -> str:
        """Zero the scale like the device: "" when done, else why not (motion, range)."""
        if self._motion:
            return "motion"
        if self._over() or abs(self._gross()) > self.capacity * ZERO_RANGE:
            return "range"
        self._zero += self._gross()
        self._under_zero = False
        return ""

    def _do_tare(self) -> str:
        """Tare the scale like the device: "" when done, else why not (motion, range)."""
        if self._motion:
            return "motion"
        if self._over() or self._gross() < 0:
            return "range"
        self._tare = self._gross()
        return ""

    # -- noise -------------------------------------------------------------------------------
    def _garble(self, reply: bytes) -> bytes:
        """Return the reply, or noise in its place while garbage is switched on."""
        if not self._garbage or not reply:
            return reply
        if self._garbage is not True:
            self._garbage = int(self._garbage) - 1
        self._noise_kind += 1
        kind = self._noise_kind % (3 if self.protocol == "cas_pd2" else 2)
        if kind == 1:  # a half frame: the line dropped out mid-reply
            return reply[: max(1, len(reply) // 2)]
        if kind == 2:  # CAS: a frame whose block check does not add up
            return reply[:-3] + bytes([reply[-3] ^ 0x21]) + reply[-2:]
        return bytes(
            self._random.randrange(0x20, 0x7F) for _ in range(self._random.randrange(3, 12))
        )

    # -- protocols ---------------------------------------------------------------------------
    def _feed(self, data: bytes) -> list[bytes]:
        """Take bytes from the line; return the replies they call for."""
        self._buffer += data
        handler: Callable[[], list[str]] = getattr(self, f"_{self.protocol}")
        replies = handler()
        if self._silent:
            return []
        return [self._garble(reply.encode("latin-1")) for reply in replies]

    def _lines(self, end: bytes, start: bytes = b"") -> list[str]:
        """Split complete commands ending in `end` (after `start`) off the input buffer."""
        commands = []
        while end in self._buffer:
            line, self._buffer = self._buffer.split(end, 1)
            if start and start in line:
                line = line[line.rindex(start) + len(start) :]
            commands.append(line.decode("latin-1"))
        return commands

    def _toledo8217(self) -> list[str]:
        """Mettler Toledo 8217: one-letter commands, status frames when no weight can be given."""
        replies = []
        data, self._buffer = self._buffer.decode("latin-1"), b""
        for char in data:
            if self._echo:
                if char == "F":
                    self._echo = False
                else:
                    replies.append(char)
                continue
            if char == "E":
                self._echo = True
                replies.append(f"{STX}E\r")
            elif char == "W" and not (self._motion or self._over() or self._under()):
                kg = Decimal(self._net()) / 1000
                replies.append(f"{STX}{kg:06.3f}{'N' if self._tare else ''}\r")
            else:
                problem = {"Z": self._do_zero, "T": self._do_tare}.get(char, lambda: "")()
                if char == "C":
                    self._tare = 0
                replies.append(self._toledo_status(problem))
        return replies

    def _toledo_status(self, problem: str = "") -> str:
        """Return STX ? <status byte> CR; bit 6 is always set."""
        bits = 0x40
        bits |= 0x01 if self._motion or problem == "motion" else 0
        bits |= 0x02 if self._over() else 0
        bits |= 0x04 if self._under() else 0
        bits |= 0x08 if problem == "range" else 0
        bits |= 0x10 if self._gross() == 0 else 0
        bits |= 0x20 if self._tare else 0
        return f"{STX}?{chr(bits)}\r"

    def _mtsics(self) -> list[str]:
        """MT-SICS: CR LF terminated commands, `ES` for unknown ones."""
        replies = []
        for line in self._lines(b"\r\n"):
            if line in ("S", "SI"):
                if self._over():
                    replies.append("S +\r\n")
                elif self._under_zero:
                    replies.append("S -\r\n")
                elif line == "S" and self._motion:
                    replies.append("S I\r\n")  # no stable weight before the time-out
                else:
                    kg = Decimal(self._net()) / 1000
                    replies.append(f"S {'D' if self._motion else 'S'} {kg:10.3f} kg\r\n")
            elif line in ("Z", "T"):
                problem = self._do_zero() if line == "Z" else self._do_tare()
                if problem == "motion":
                    replies.append(f"{line} I\r\n")
                elif problem:
                    replies.append(f"{line} {'-' if self._gross() < 0 else '+'}\r\n")
                elif line == "Z":
                    replies.append("Z A\r\n")
                else:
                    replies.append(f"T S {Decimal(self._tare) / 1000:10.3f} kg\r\n")
            elif line == "I3":
                replies.append('I3 A "1.10 18.6.4"\r\n')
            elif line == "@":
                self._tare = 0
                replies.append('I4 A "0123456789"\r\n')
            else:
                replies.append("ES\r\n")
        return replies

    def _sma(self) -> list[str]:
        """SMA SCP-0499: LF <command> CR; zero and tare answer with a weight frame."""
        replies = []
        for line in self._lines(b"\r", b"\n"):
            if line == "W":
                replies.append(self._sma_frame())
            elif line == "Z":
                replies.append(self._sma_frame("E" if self._do_zero() else ""))
            elif line == "T":
                replies.append(self._sma_frame("T" if self._do_tare() else ""))
            elif line == "A":
                replies.append("\nSMA:2/1.0\r")
            else:
                replies.append("\n?\r")
        return replies

    def _sma_frame(self, error: str = "") -> str:
        """Return LF s r n m f xxxxxx.xxx uuu CR."""
        net = self._net()
        status = error or ("O" if self._over() else "U" if self._under_zero else "")
        status = status or ("Z" if net == 0 else " ")
        mode = "N" if self._tare else "G"
        motion = "M" if self._motion else " "
        return f"\n{status}1{mode}{motion} {Decimal(net) / 1000:10.3f}kg \r"

    def _nci_scp01(self) -> list[str]:
        """NCI SCP-01: <command> CR; weight with two status bytes, `?` for unknown commands."""
        replies = []
        for line in self._lines(b"\r"):
            if line == "W":
                if self._over():
                    digits = "^" * 7
                elif self._under_zero:
                    digits = "_" * 7
                else:
                    digits = f"{Decimal(self._net()) / 1000:7.3f}"
                replies.append(f"\n{digits}kg\r\n{self._nci_status()}\r{ETX}")
            elif line == "S":
                replies.append(f"\n{self._nci_status()}\r{ETX}")
            elif line == "Z":
                self._do_zero()  # the status that follows tells whether it worked
                replies.append(f"\n{self._nci_status()}\r{ETX}")
            else:
                replies.append(f"\n?\r{ETX}")
        return replies

    def _nci_status(self) -> str:
        """Return the two status bytes."""
        first = 0x30 | (0x01 if self._motion else 0) | (0x02 if self._gross() == 0 else 0)
        second = 0x30 | (0x01 if self._under_zero else 0) | (0x02 if self._over() else 0)
        return chr(first) + chr(second)

    def _cas_pd2(self) -> list[str]:
        """CAS PD-II type 6: ENQ -> ACK, then DC1 -> the weight frame; a lone DC1 is ignored."""
        replies = []
        data, self._buffer = self._buffer.decode("latin-1"), b""
        for char in data:
            if char == ENQ:
                self._armed = True
                replies.append(ACK)
            elif char == DC1 and self._armed:
                self._armed = False
                replies.append(self._cas_frame())
        return replies

    def _cas_frame(self) -> str:
        """Return SOH STX STA SIGN W5..W0 UN1 UN0 BCC ETX EOT."""
        if self._over():
            sign, digits = "F", "FFFFFF"
        else:
            shown = self._shown()
            sign, digits = ("-" if shown < 0 else " "), f"{Decimal(abs(shown)) / 1000:06.3f}"
        body = f"{'U' if self._motion else 'S'}{sign}{digits}KG"
        bcc = 0
        for char in body:
            bcc ^= ord(char)
        return f"{SOH}{STX}{body}{chr(bcc)}{ETX}{EOT}"

    def _adam(self) -> list[str]:
        """Adam AZextra: P CR LF prints the weight, but only when it changed; no status at all."""
        replies = []
        for line in self._lines(b"\r\n"):
            if line == "P":
                shown = self._shown()
                if self._over():
                    shown = max(shown, self.capacity + 5_000)  # it prints what it weighs
                text = f"{Decimal(shown) / 1000:10.3f}kg\r\n"
                unchanged = text == self._last_sent and not self._garbage  # noise comes anyway
                replies.append("" if unchanged else text)
                self._last_sent = text
            elif line == "Z":
                self._do_zero()
            elif line == "T":
                self._do_tare()
        return replies
