"""Re-run Kubespray's evaluation in real ansible-core (the release's pin) and compare with airlock, live.

Needs PyPI (to install ansible-core into a throwaway venv), hence the `network` marker.
Regenerate the committed goldens with `python tests/oracle/regen.py` after changing cases.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import REPO, VERSIONS, kubespray_dir
from tests.unit.kubespray.test_against_ansible_goldens import evaluate

sys.path.insert(0, str(REPO / "tests" / "oracle"))
from cases import CASES  # noqa: E402
from oracle import run  # noqa: E402
from regen import case_vars  # noqa: E402

pytestmark = pytest.mark.network


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_live_ansible_agrees(ansible_for: Callable[[Path], str], version: str, case: str) -> None:
    ks = kubespray_dir(version)
    spec = CASES[case]
    for arch in spec["arch"]:
        want = run(Path(ks), arch, spec["os"], case_vars(ks, spec), ansible_for(Path(ks)))
        assert evaluate(version, arch, spec["os"], case_vars(ks, spec)) == want
