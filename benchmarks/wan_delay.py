"""The delay line of the shaped link: two TUN devices, one in the host's network namespace and one in
the benchmark's, and this process copying packets between them after a fixed one-way delay,
dropping a seeded random fraction. This kernel has no netem, so the delay lives here; the rate is
shaped by HTB on the two TUN devices' egress (before the delay, as on a real bottleneck link).

    python3 benchmarks/wan_delay.py NETNS HOST_IF NS_IF DELAY_MS LOSS SEED

Prints "ready" once both devices exist. The devices are not persistent: they vanish with this
process, so killing it tears the link down.
"""

from __future__ import annotations

import collections
import ctypes
import fcntl
import os
import random
import select
import signal
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1


def open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def enter_netns(name: str) -> None:
    # Python 3.11 has no os.setns; libc's does the same. The TUN device opened next is created
    # in that namespace, the one opened before stays in the host's.
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


def main() -> None:
    netns, host_if, ns_if, delay_ms, loss, seed = sys.argv[1:7]
    delay, p_loss = float(delay_ms) / 1000, float(loss)
    rng = random.Random(int(seed))
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)  # the benchmark SIGKILLed: the link goes too
    a = open_tun(host_if)
    enter_netns(netns)
    b = open_tun(ns_if)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # The wire must not wait for a CPU on a loaded machine: a real-time (round-robin) priority, so
    # delays stay what they say. The loop sleeps in epoll, it never spins.
    try:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(10))
    except OSError:
        os.nice(-10)
    print("ready", flush=True)
    # One FIFO per direction: with a constant delay, packets leave in the order they came.
    queues: dict[int, collections.deque[tuple[float, bytes]]] = {a: collections.deque(), b: collections.deque()}
    other = {a: b, b: a}
    ep = select.epoll()
    ep.register(a, select.EPOLLIN)
    ep.register(b, select.EPOLLIN)
    read, write, now = os.read, os.write, time.monotonic
    while True:
        due = min((q[0][0] for q in queues.values() if q), default=None)
        timeout = -1.0 if due is None else max(0.0, due - now())
        for fd, _ in ep.poll(timeout):
            q = queues[fd]
            t = now() + delay
            while True:
                try:
                    pkt = read(fd, 65536)
                except BlockingIOError:
                    break
                if p_loss and rng.random() < p_loss:
                    continue
                q.append((t, pkt))
        t = now()
        for fd, q in queues.items():
            out = other[fd]
            while q and q[0][0] <= t:
                try:
                    write(out, q.popleft()[1])
                except OSError:
                    pass  # the stack refused it (queue full, device down): a lost packet, as on a wire


if __name__ == "__main__":
    main()
