"""dpkg's version ordering, checked against dpkg itself."""

from __future__ import annotations

import itertools
import shlex
import shutil
import subprocess

import pytest

from airlock.resolvers.debversion import compare, ranks

VERSIONS = ["1.0", "1.0-0", "1.00", "1.0~rc1", "1.0~~", "1.0~", "1.0+1", "1.0.1", "1.0a", "1.0-1", "1.0-1.1",
            "1:0.9", "0:1.0", "2.2.40-1.1+deb12u2", "2.2.40-1.1+deb12u2.1~", "2.2.40-1.1+deb12u1",
            "2.2.40-1.1", "1.2.13.dfsg-1", "1:1.2.13.dfsg-1", "3.0+1", "3.0.1", "37~deb12u1", "252.39-1~deb12u2",
            "1.0+dfsg", "1.0.dfsg", "10", "9", "1.0-a", "1.0-+"]


def test_orders_as_dpkg_where_rpm_does_not() -> None:
    assert compare("3.0+1", "3.0.1") < 0          # RPM: equal (separators ignored)
    assert compare("1.0a", "1.0+") < 0            # letters before symbols
    assert compare("1.0~rc1", "1.0") < 0 and compare("1.0~~", "1.0~") < 0
    assert compare("2.2.40-1.1+deb12u2", "2.2.40-1.1+deb12u2.1~") < 0
    assert compare("1.0", "1.00") == 0 and compare("1.0", "0:1.0-0") == 0 and compare("1:0.9", "9.9") > 0


def test_ranks_are_integers_in_dpkg_order() -> None:
    r = ranks(["1.0", "1.00", "1.0~rc1", "1:0.1"])
    assert r["1.0"] == r["1.00"] and int(r["1.0~rc1"]) < int(r["1.0"]) < int(r["1:0.1"])


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")
def test_agrees_with_dpkg_compare_versions() -> None:
    pairs = list(itertools.combinations(VERSIONS, 2))
    # one shell runs every `dpkg --compare-versions` (hundreds of them): a Python subprocess each costs 3x more
    script = "\n".join(f"if dpkg --compare-versions {shlex.quote(a)} lt {shlex.quote(b)}; then echo lt; "
                       f"elif dpkg --compare-versions {shlex.quote(a)} eq {shlex.quote(b)}; then echo eq; "
                       "else echo gt; fi" for a, b in pairs)
    verdicts = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert len(verdicts) == len(pairs)
    for (a, b), dpkg in zip(pairs, verdicts, strict=True):
        ours = compare(a, b)
        assert ("lt" if ours < 0 else "eq" if ours == 0 else "gt") == dpkg, (a, b)
