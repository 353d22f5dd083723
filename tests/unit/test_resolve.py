"""resolve's reuse rules: an old pin is kept only while it still matches what is pinned upstream."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.lockfile import FilePin
from airlock.resolve import ResolveOptions, _reusable_file, _wanted, default_lock_path
from airlock.resolvers.files import FileRequest

S256, S512 = "a" * 64, "b" * 128


def pin(sha512: str | None = None) -> FilePin:
    return FilePin(name="kubelet", arch="amd64", url="https://dl/kubelet", sha256=S256, sha512=sha512, size=1,
                   path="dl/kubelet")


def req(checksum: str | None) -> FileRequest:
    return FileRequest("kubelet", "amd64", "https://dl/kubelet", checksum, "dl/kubelet", None)


@pytest.mark.parametrize(("old", "checksum", "reusable"), [
    (None, f"sha256:{S256}", False),
    (pin(), f"sha256:{S256}", True),
    (pin(), f"sha256:{'c' * 64}", False),        # Kubespray pins another file now
    (pin(S512), f"sha512:{S512}", True),
    (pin(), f"sha512:{S512}", False),             # the old pin has no sha512 to compare
    (pin(), None, True),                          # an unpinned extra file keeps its first hash
])
def test_reusable_file(old: FilePin | None, checksum: str | None, reusable: bool) -> None:
    assert _reusable_file(old, req(checksum)) is reusable


def test_upgrade_selects_by_any_name() -> None:
    assert not _wanted(ResolveOptions(), "kubelet")
    assert _wanted(ResolveOptions(upgrade=True), "kubelet")
    only = ResolveOptions(upgrade=True, upgrade_names=frozenset({"https://dl/kubelet"}))
    assert _wanted(only, "kubelet", "https://dl/kubelet") and not _wanted(only, "kubectl", "https://dl/kubectl")


def test_the_lock_sits_beside_the_manifest() -> None:
    assert default_lock_path(Path("/site/x/airlock.yaml")) == Path("/site/x/airlock.lock")
