"""dpkg's version ordering (checked against dpkg itself in tests/integration/test_debversion_dpkg.py)."""

from __future__ import annotations

from airlock.resolvers.debversion import compare, ranks

# Shared with the check against dpkg: orderings where dpkg differs from RPM and from a plain string sort.
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
