"""airlock's dpkg version ordering against dpkg itself: `dpkg --compare-versions` for every pair of the
unit tests' versions. An integration test: it starts dpkg hundreds of times (moved from tests/unit/resolvers)."""

from __future__ import annotations

import itertools
import shlex
import shutil
import subprocess

import pytest

from airlock.resolvers.debversion import compare
from tests.unit.resolvers.test_debversion import VERSIONS

pytestmark = pytest.mark.integration


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
