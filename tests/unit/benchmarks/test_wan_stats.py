"""The pure helpers of benchmarks/fetch_wan.py: summary math and /proc parsing (no timing here)."""

from __future__ import annotations

import pytest

from benchmarks import wan_stats as st
from benchmarks.fetch_wan import parse_args
from benchmarks.wan_link import LinkParams, shaping_problems, steady_rate
from benchmarks.wan_world import count_requests

SNMP = """Ip: Forwarding DefaultTTL
Ip: 1 64
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 3 17 0 0 2 9000 12000 41 0 5 0
Udp: InDatagrams NoPorts
Udp: 0 0
"""

NETDEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
awl123b: 5000      40    0    0    0     0          0         0  9876543    7000    0    0    0     0       0          0
"""

# sl local rem st ...: 0x1388 = 5000 (registry), 0x1F90 = 8080 (nginx), 0x0016 = 22
TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0200CB0A:1388 0100CB0A:D431 01 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0200CB0A:1F90 0100CB0A:D432 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0200CB0A:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0200CB0A:0016 0100CB0A:D433 01 00000000:00000000 00:00000000 00000000     0        0 4 1
   4: 0200CB0A:1F90 0100CB0A:D434 06 00000000:00000000 00:00000000 00000000     0        0 5 1
"""


def test_utilisation_is_time_at_rate_over_wall() -> None:
    assert st.utilisation(250_000_000, 25_000_000, 12.5) == pytest.approx(0.8)
    assert st.utilisation(1, 1, 0) == 0.0


def test_median_and_verdict() -> None:
    assert st.median([3.0, 1.0, 2.0]) == 2.0
    assert st.verdict(0.93, 0.92, True) == "meets"
    assert st.verdict(0.91, 0.92, True) == "MISSES"
    assert st.verdict(0.04, 0.03, False) == "MISSES"
    assert st.verdict(0, 0, False) == "meets"


def test_tcp_counters() -> None:
    c = st.tcp_counters(SNMP)
    assert (c["PassiveOpens"], c["RetransSegs"], c["ActiveOpens"]) == (17, 41, 3)
    assert st.tcp_counters("Ip: a\nIp: 1\n") == {}


def test_dev_bytes() -> None:
    assert st.dev_bytes(NETDEV, "awl123b") == (5000, 9876543)
    assert st.dev_bytes(NETDEV, "lo") == (100, 100)
    assert st.dev_bytes(NETDEV, "eth9") == (0, 0)


def test_established_counts_only_listed_ports_in_state_01() -> None:
    assert st.established(TCP, {5000, 8080}) == 2
    assert st.established(TCP, {22}) == 1
    assert st.established(TCP, {9}) == 0


def test_busy_span_ignores_trickles_before_and_after() -> None:
    samples = [(0.0, 0), (0.1, 10), (0.2, 20), (0.3, 5000), (0.4, 10000), (0.5, 15000), (0.6, 15010), (0.7, 15020)]
    assert st.busy_span(samples, 100) == (0.2, 0.5)
    assert st.busy_span(samples[:3], 100) is None


def test_steady_rate_uses_the_second_half() -> None:
    # slow start: the first half takes 3 s, the second half 1 s
    marks = [(0.0, 0), (3.0, 500), (3.5, 750), (4.0, 1000)]
    assert steady_rate(marks, 1000) == pytest.approx(500.0)
    assert steady_rate([(0.0, 0)], 1000) == 0.0


def test_count_requests_counts_access_log_lines() -> None:
    log = ('10.203.0.1 - - [30/Nov/2026:21:55:34 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "airlock/0.1.0"\n'
           'time="2026-11-30T21:55:34Z" level=error msg="something"\n'
           '10.203.0.1 - - [30/Nov/2026:21:55:35 +0000] "HEAD /files/a.bin HTTP/1.1" 200 0 "-" "curl/8"\n')
    assert count_requests(log) == {"GET": 1, "HEAD": 1}
    assert count_requests("") == {}


def test_link_params() -> None:
    p = LinkParams(rtt_ms=50, rate_mbit=200, loss=0.005)
    assert p.rate_bytes == 25_000_000
    assert "50 ms RTT" in p.describe() and "0.5% loss" in p.describe()


def test_parse_args() -> None:
    a = parse_args(["--world", "latency", "--quick", "--sweep", "4, 16"])
    assert (a.world, a.runs, a.sweep) == ("latency", 1, [4, 16])
    assert parse_args([]).runs == 3 and parse_args([]).world == "all"
    with pytest.raises(SystemExit):
        parse_args(["--world", "moon"])


def test_shaping_problems() -> None:
    p = LinkParams(rtt_ms=50, rate_mbit=200)
    assert shaping_problems(0.051, 24e6, p) == ([], [])
    errors, _ = shaping_problems(0.0002, 24e6, p)
    assert errors and "no delay" in errors[0]
    errors, _ = shaping_problems(0.051, 100e6, p)
    assert errors and "no rate limit" in errors[0]
    errors, warnings = shaping_problems(0.09, 10e6, p)
    assert not errors and len(warnings) == 2
