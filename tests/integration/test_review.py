"""Review and trust against the test world: lock diffs (goldens), SBOM, signatures."""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from airlock.review.sbom import validate
from tests.conftest import REPO
from tests.helpers import airlock
from tests.world.world import World

pytestmark = pytest.mark.integration
GOLDEN = REPO / "tests" / "golden" / "diff"


@pytest.fixture(scope="module")
def locks(world: World) -> tuple[Path, Path]:
    """Locks of Kubespray 2.29.1 and 2.30.0 defaults, made inside the world so they hold no temp paths."""
    out = []
    for version in ("2.29.1", "2.30.0"):
        manifest = world.manifest(world.root / "review" / version / "airlock.yaml", version, "os: [rocky-10]\n",
                                  relative_source=True)
        res = airlock("resolve", "-f", str(manifest), cache=world.root / "review-cache")
        assert res.returncode == 0, res.stderr
        out.append(manifest.parent / "airlock.lock")
    return out[0], out[1]


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
def test_diff_of_two_releases_matches_golden(locks: tuple[Path, Path], fmt: str) -> None:
    old, new = locks
    res = airlock("diff", "2.29.1/airlock.lock", "2.30.0/airlock.lock", "--format", fmt, cache=old.parent,
                  cwd=old.parent.parent)
    assert res.returncode == 1, res.stderr
    golden = GOLDEN / f"2.29.1-to-2.30.0.{ {'text': 'txt', 'markdown': 'md', 'json': 'json'}[fmt] }"
    if os.environ.get("AIRLOCK_REGEN_GOLDENS"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(res.stdout)
    assert res.stdout == golden.read_text()
    for needle in ("1.33.7", "1.34.3", "etcd", "containerd", "calico", "coredns"):
        assert needle in res.stdout, needle


def test_equal_locks_exit_0(locks: tuple[Path, Path]) -> None:
    res = airlock("diff", str(locks[1]), str(locks[1]), cache=locks[1].parent)
    assert res.returncode == 0 and "no changes" in res.stdout


def test_sbom_validates_and_is_deterministic(locks: tuple[Path, Path]) -> None:
    a = airlock("sbom", str(locks[1]), cache=locks[1].parent).stdout
    b = airlock("sbom", str(locks[1]), cache=locks[1].parent).stdout
    assert a == b
    validate(a)
    doc = json.loads(a)
    purls = [c["purl"] for c in doc["components"]]
    assert doc["metadata"]["component"]["name"] == "kubespray"
    assert any(p.startswith("pkg:oci/kube-apiserver@sha256:") and "repository_url=registry.k8s.io" in p for p in purls)
    assert any(p.startswith("pkg:rpm/rocky/") for p in purls) and any(p.startswith("pkg:pypi/") for p in purls)
    assert any(p.startswith("pkg:generic/kubelet") and "download_url=" in p for p in purls)
    assert "serialNumber" not in doc and "timestamp" not in doc["metadata"]


@pytest.fixture(scope="module")
def signed(locks: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sign")
    lock = locks[1]
    res = airlock("fetch", "--lock", str(lock), "-o", str(root / "b.tar"), "--sbom", cache=root / "c")
    assert res.returncode == 0, res.stderr
    for name in ("key", "other"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(root / name)], check=True)
    return {"root": root, "bundle": root / "b.tar", "key": root / "key", "pub": root / "key.pub",
            "other": root / "other.pub"}


def test_signature_valid_wrong_key_unsigned(signed: dict[str, Path]) -> None:
    root, bundle = signed["root"], signed["bundle"]
    unsigned = airlock("verify", str(bundle), "--key", str(signed["pub"]), cache=root / "c")
    assert unsigned.returncode == 2 and "not signed" in unsigned.stderr
    refused = airlock("apply", str(bundle), "--dest", str(root / "site"), "--url", "http://10.0.0.5:8080", "--key",
                      str(signed["pub"]), cache=root / "c")
    assert refused.returncode == 2 and not (root / "site").exists()
    assert airlock("sign", str(bundle), "--key", str(signed["key"]), cache=root / "c").returncode == 0
    ok = airlock("verify", str(bundle), "--key", str(signed["pub"]), cache=root / "c")
    assert ok.returncode == 0 and "signature OK" in ok.stdout
    wrong = airlock("verify", str(bundle), "--key", str(signed["other"]), cache=root / "c")
    assert wrong.returncode == 2 and "does not match" in wrong.stderr
    applied = airlock("apply", str(bundle), "--dest", str(root / "site"), "--url", "http://10.0.0.5:8080", "--key",
                      str(signed["pub"]), cache=root / "c")
    assert applied.returncode == 0, applied.stderr
    with tarfile.open(bundle) as tar:
        assert "sbom.cdx.json" in tar.getnames()


def test_tampered_index_breaks_the_signature(signed: dict[str, Path]) -> None:
    root, bundle = signed["root"], signed["bundle"]
    assert airlock("sign", str(bundle), "--key", str(signed["key"]), cache=root / "c").returncode == 0
    bad = root / "bad.tar"
    with tarfile.open(bundle) as tin, tarfile.open(bad, "w", format=tarfile.USTAR_FORMAT) as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isreg() else None  # type: ignore[union-attr]  # a regular member: extractfile gives a file
            if m.name == "bundle.json":
                data = data.replace(b'"format": 1', b'"format": 1 ')  # type: ignore[union-attr]  # bytes here: the member is a regular file
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
    (root / "bad.tar.sig").write_bytes((root / "b.tar.sig").read_bytes())
    res = airlock("verify", str(bad), "--key", str(signed["pub"]), cache=root / "c")
    assert res.returncode == 2 and "does not match" in res.stderr
