"""Two resolves unpacking the same Kubespray tarball into one cache at once both succeed."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from airlock.kubespray import source


def test_a_tree_unpacked_meanwhile_by_another_resolve_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRLOCK_CACHE", str(tmp_path / "cache"))
    tarball = tmp_path / "k.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        info = tarfile.TarInfo("kubespray-2.30.0/roles/x.yml")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"a: 1"[:3]))
    real_fresh_dir = source.fresh_dir

    def racing_fresh_dir(parent: Path, prefix: str) -> Any:
        other = parent / source.sha256_file(tarball)  # the other resolve finishes first
        (other / "roles").mkdir(parents=True)
        (other / "roles" / "x.yml").write_bytes(b"a: ")
        return real_fresh_dir(parent, prefix)

    monkeypatch.setattr(source, "fresh_dir", racing_fresh_dir)
    tree = source._unpack(tarball)
    assert (tree / "roles" / "x.yml").read_bytes() == b"a: "
    assert [p.name for p in tree.parent.iterdir()] == [tree.name]  # the loser's temp tree is gone
