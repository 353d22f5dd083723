"""Review outputs of a lock: the diff summary line and a deterministic CycloneDX SBOM."""

from __future__ import annotations

import json

from airlock.review import render
from airlock.review.diff import diff_locks
from airlock.review.sbom import build_sbom
from tests.unit.lockfile.test_hostile_lock import full
from tests.unit.review.test_diff import D1, D2, lock


def test_summary_counts_and_sizes() -> None:
    old = lock({"pause": ("registry.k8s.io/pause:3.9", D1)}, {"kubelet": "https://dl/kubelet"})
    new = lock({"pause": ("registry.k8s.io/pause:3.10", D2)}, {})
    d = diff_locks(old, new)
    assert render.summary(d) == "1 bumped, 0 added, 1 removed; bundle -0.0 MiB, a delta bundle carries 0.0 MiB"
    assert render.summary(diff_locks(old, old)) == "no changes"
    assert json.loads(render.as_json(d, "a.lock", "b.lock"))["summary"] == render.summary(d)


def test_sbom_is_deterministic() -> None:
    """(Schema validation, seconds of loading, is tests/integration/test_review.py's.)"""
    one, two = build_sbom(full()), build_sbom(full())
    assert one == two
    doc = json.loads(one)
    assert "serialNumber" not in doc and "timestamp" not in doc["metadata"]
    assert doc["metadata"]["component"]["name"] == "kubespray"
    names = {c["name"] for c in doc["components"]}
    assert {"libstdc++", "curl", "Jinja2", "netaddr"} <= names


def test_sbom_serial_and_timestamp_only_when_asked() -> None:
    doc = json.loads(build_sbom(full(), serial=True, timestamp=True))
    assert doc["serialNumber"].startswith("urn:uuid:") and doc["metadata"]["timestamp"]
