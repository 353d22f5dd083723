"""airlock's evaluator against Kubespray's own evaluation by ansible-core (tests/golden/).

The goldens are produced by tests/oracle/regen.py, which runs the download loop and the
system_packages selection in real Ansible; tests/integration/test_oracle_live.py re-runs it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest

from airlock.kubespray.context import Target, make_evaluator
from airlock.kubespray.downloads import select_downloads
from airlock.kubespray.packages import select_packages
from airlock.kubespray.tree import DOWNLOAD_ROLES, PACKAGE_ROLES, KubesprayTree
from tests.conftest import REPO, VERSIONS, kubespray_dir

GOLDENS = sorted(p for p in (REPO / "tests" / "golden").glob("*/*.json") if p.parent.name != "diff")


@cache
def tree_of(version: str) -> KubesprayTree:
    """One tree per release for the whole module: its role layers are read once, not per case and arch
    (an evaluator only reads the layers, it never changes them)."""
    return KubesprayTree(kubespray_dir(version), version)


def evaluate(version: str, arch: str, os_name: str, user_vars: dict) -> dict:
    tree = tree_of(version)
    ev = make_evaluator(tree, DOWNLOAD_ROLES, user_vars, Target(arch, os_name))
    files, images = select_downloads(ev)
    pkg_ev = make_evaluator(tree, PACKAGE_ROLES, user_vars, Target(arch, os_name))
    return {
        "files": sorted([f.name, f.url, f.checksum] for f in files),
        "images": sorted([i.name, i.ref] for i in images),
        "packages": select_packages(pkg_ev),
    }


@pytest.mark.parametrize("golden", GOLDENS, ids=[f"{p.parent.name}-{p.stem}" for p in GOLDENS])
def test_matches_ansible(golden: Path) -> None:
    doc = json.loads(golden.read_text())
    for arch, expected in doc["by_arch"].items():
        got = evaluate(golden.parent.name, arch, doc["case"]["os"], doc["vars"])
        assert got == expected, f"{golden.name} {arch}"


def test_goldens_cover_every_release() -> None:
    by_release = {v: [p for p in GOLDENS if p.parent.name == v] for v in VERSIONS}
    assert {p.parent.name for p in GOLDENS} == set(VERSIONS)
    assert all(len(cases) >= 16 for cases in by_release.values()), {v: len(c) for v, c in by_release.items()}
