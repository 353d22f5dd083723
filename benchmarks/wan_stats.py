"""Pure helpers of benchmarks/fetch_wan.py: summary math, /proc parsing and figure formatting."""

from __future__ import annotations

import itertools
import os
import statistics
from collections.abc import Sequence


def utilisation(nbytes: int, rate_bytes: float, wall: float) -> float:
    """Share of the link's capacity used: the time the bytes need at ``rate_bytes`` over ``wall``."""
    return (nbytes / rate_bytes) / wall if wall > 0 else 0.0


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def verdict(value: float, target: float, higher_is_better: bool) -> str:
    ok = value >= target if higher_is_better else value <= target
    return "meets" if ok else "MISSES"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"[load {one:.2f} {five:.2f} {fifteen:.2f}]"


def tcp_counters(snmp: str) -> dict[str, int]:
    """The ``Tcp:`` line pair of /proc/net/snmp as a dict (ActiveOpens, PassiveOpens, RetransSegs...)."""
    rows = [line.split() for line in snmp.splitlines() if line.startswith("Tcp:")]
    if len(rows) < 2:
        return {}
    return {k: int(v) for k, v in zip(rows[0][1:], rows[1][1:], strict=False)}


def dev_bytes(netdev: str, dev: str) -> tuple[int, int]:
    """(rx_bytes, tx_bytes) of ``dev`` in a /proc/net/dev text; (0, 0) when absent."""
    for line in netdev.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() == dev:
            f = rest.split()
            return int(f[0]), int(f[8])
    return 0, 0


def established(tcp: str, ports: set[int]) -> int:
    """ESTABLISHED connections in a /proc/net/tcp text whose local port is one of ``ports``."""
    n = 0
    for line in tcp.splitlines()[1:]:
        f = line.split()
        if len(f) > 3 and f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) in ports:
            n += 1
    return n


def busy_span(samples: Sequence[tuple[float, int]], threshold: int) -> tuple[float, float] | None:
    """(first, last) time at which a byte counter sampled as (t, bytes) moved by more than
    ``threshold`` since the previous sample: when the transfer really ran."""
    moving = [t for (t0, b0), (t, b) in itertools.pairwise(samples) if b - b0 > threshold]
    if not moving:
        return None
    first = next(t0 for (t0, b0), (t, b) in itertools.pairwise(samples) if b - b0 > threshold)
    return first, moving[-1]


def mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"
