"""A shaped point-to-point link to a private network namespace, for benchmarks.

host 10.203.0.1 [tun awlNa] <-- delay line (benchmarks/wan_delay.py) --> [tun awlNb] 10.203.0.2 netns
Each direction: HTB at ``rate_mbit`` on the sending TUN device's egress, then ``rtt_ms / 2`` of
delay and ``loss`` random drops in the delay line. Only these two addresses are configured; nothing
is routed anywhere else. ``Link`` is a context manager that tears everything down on exit, and
``cleanup_stale()`` removes what a killed earlier run left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

HOST_ADDR, NS_ADDR = "10.203.0.1", "10.203.0.2"
PREFIX = "airlock-wan-"
DELAY = Path(__file__).with_name("wan_delay.py")


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_netns_pids(netns: str) -> None:
    """End the processes this benchmark started inside its own namespace (by pid)."""
    pids = [int(p) for p in ip("netns", "pids", netns, check=False).stdout.split()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)


def cleanup_stale() -> None:
    """Namespaces and temp dirs named after a benchmark process that no longer exists (a SIGKILLed run)."""
    for d in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        pid = d.name[len(PREFIX):].split("-", 1)[0]
        if d.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(PREFIX) and name[len(PREFIX):].isdigit() and not _alive(int(name[len(PREFIX):])):
            kill_netns_pids(name)
            ip("netns", "del", name, check=False)


def check_address_free() -> None:
    """Reached other than through a gateway, the address is held by another run's link (or a real network)."""
    route = ip("route", "get", NS_ADDR, check=False)
    if route.returncode == 0 and " via " not in route.stdout:
        raise RuntimeError(f"{NS_ADDR} is already reachable on this machine ({' '.join(route.stdout.split())}): "
                           "is another fetch_wan.py running?")


@dataclass
class LinkParams:
    rtt_ms: float = 50.0
    rate_mbit: float = 200.0
    loss: float = 0.0
    mtu: int = 1500

    @property
    def rate_bytes(self) -> float:
        return self.rate_mbit * 1e6 / 8

    def describe(self) -> str:
        return (f"{self.rtt_ms:g} ms RTT, {self.rate_mbit:g} Mbit/s each way (HTB), "
                f"{100 * self.loss:g}% loss each way, MTU {self.mtu}")


class Link:
    def __init__(self, params: LinkParams, seed: int = 1):
        self.params, self.seed = params, seed
        self.netns = f"{PREFIX}{os.getpid()}"
        self.host_if, self.ns_if = f"awl{os.getpid() % 100000}a", f"awl{os.getpid() % 100000}b"
        self.delay: subprocess.Popen[str] | None = None

    def ns(self, *cmd: str) -> list[str]:
        return ["ip", "netns", "exec", self.netns, *cmd]

    def __enter__(self) -> Self:
        cleanup_stale()
        check_address_free()
        try:
            self._up()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _up(self) -> None:
        p = self.params
        ip("netns", "add", self.netns)
        ip("-n", self.netns, "link", "set", "lo", "up")
        self.delay = subprocess.Popen([sys.executable, str(DELAY), self.netns, self.host_if, self.ns_if,
                                       str(p.rtt_ms / 2), str(p.loss), str(self.seed)],
                                      stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert self.delay.stdout
        if self.delay.stdout.readline().strip() != "ready":
            raise RuntimeError("the delay line did not start")
        # Router buffer of about one bandwidth-delay product, at least 100 packets.
        limit = max(100, int(p.rate_bytes * p.rtt_ms / 1000 / p.mtu))
        sides: list[tuple[tuple[str, ...], str, str, str]] = [((), self.host_if, HOST_ADDR, NS_ADDR),
                                                              (("-n", self.netns), self.ns_if, NS_ADDR, HOST_ADDR)]
        for pre, dev, addr, peer in sides:
            ip(*pre, "link", "set", dev, "mtu", str(p.mtu), "txqueuelen", "10000", "up")
            ip(*pre, "addr", "add", addr, "peer", f"{peer}/32", "dev", dev)
            tc = ["ip", "netns", "exec", self.netns, "tc"] if pre else ["tc"]
            for args in (["qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "1"],
                         ["class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb",
                          "rate", f"{p.rate_mbit}mbit", "ceil", f"{p.rate_mbit}mbit", "quantum", str(p.mtu)],
                         ["qdisc", "add", "dev", dev, "parent", "1:1", "handle", "10:", "pfifo", "limit", str(limit)]):
                subprocess.run(tc + args, check=True, capture_output=True, text=True)

    def __exit__(self, *exc: object) -> None:
        kill_netns_pids(self.netns)
        if self.delay and self.delay.poll() is None:
            self.delay.terminate()
            try:
                self.delay.wait(5)
            except subprocess.TimeoutExpired:
                self.delay.kill()
                self.delay.wait()
        ip("netns", "del", self.netns, check=False)

    # -- verification ---------------------------------------------------------------------

    def verify(self, size: int = 20 << 20) -> tuple[float, float]:
        """(median TCP connect time in s, steady rate in bytes/s of a ``size`` transfer from the namespace)."""
        port = 9
        server = subprocess.Popen(self.ns(sys.executable, "-c", _SINK, NS_ADDR, str(port), str(size)),
                                  stdout=subprocess.PIPE, text=True, start_new_session=True)
        try:
            assert server.stdout
            server.stdout.readline()
            connects = []
            for _ in range(5):
                t0 = time.perf_counter()
                with socket.create_connection((NS_ADDR, port), timeout=10) as s:
                    connects.append(time.perf_counter() - t0)
                    s.sendall(b"c")
            with socket.create_connection((NS_ADDR, port), timeout=30) as s:
                s.sendall(b"d")
                marks = transfer_marks(s, size)
            return statistics.median(connects), steady_rate(marks, size)
        finally:
            server.kill()
            server.wait()


def shaping_problems(connect: float, rate: float, params: LinkParams) -> tuple[list[str], list[str]]:
    """(errors, warnings) of a verification: a link faster than configured is not shaped (the
    figures would mean nothing); a slower one is an overloaded machine, worth saying next to them."""
    rtt, errors, warnings = params.rtt_ms / 1000, [], []
    if connect < 0.9 * rtt:
        errors.append(f"a connect took {1000 * connect:.1f} ms, less than the {params.rtt_ms:g} ms RTT: no delay")
    elif connect > 1.5 * rtt:
        warnings.append(f"a connect took {1000 * connect:.1f} ms for a {params.rtt_ms:g} ms RTT")
    if rate > 1.02 * params.rate_bytes:
        errors.append(f"{8 * rate / 1e6:.0f} Mbit/s is above the {params.rate_mbit:g} Mbit/s shaped: no rate limit")
    elif rate < 0.8 * params.rate_bytes:
        warnings.append(f"20 MB reached only {8 * rate / 1e6:.0f} Mbit/s of {params.rate_mbit:g} Mbit/s")
    return errors, warnings


def transfer_marks(s: socket.socket, size: int) -> list[tuple[float, int]]:
    got, marks = 0, [(time.perf_counter(), 0)]
    while got < size:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += len(chunk)
        marks.append((time.perf_counter(), got))
    return marks


def steady_rate(marks: list[tuple[float, int]], size: int) -> float:
    """Bytes/s over the second half of a transfer (after TCP's slow start)."""
    half = next((m for m in marks if m[1] >= size // 2), marks[0])
    end = marks[-1]
    return (end[1] - half[1]) / (end[0] - half[0]) if end[0] > half[0] else 0.0


# A server: "c" closes at once (connect timing), "d" gets SIZE bytes.
_SINK = """
import socket, sys
s = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("up", flush=True)
data = bytes(int(sys.argv[3]))
while True:
    c, _ = s.accept()
    if c.recv(1) == b"d":
        c.sendall(data)
    c.close()
"""
