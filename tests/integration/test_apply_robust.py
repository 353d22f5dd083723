"""apply on a full disk, after kill -9, on a damaged or forged delta base, and against links out of DIR."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import airlock, wait_http
from tests.world.disks import fill, tmpfs
from tests.world.fingerprint import DIR_NAMING
from tests.world.fingerprint import tree_fingerprint as _fingerprint
from tests.world.servers import free_port
from tests.world.world import World

pytestmark = pytest.mark.integration
BODY = "os: [rocky-10]\narch: [amd64, arm64]\nimages: [ghcr.io/airlock-test/multi:2.0]\n"
URL = "http://10.11.12.13:8080"


def tree_fingerprint(site: Path) -> str:
    """The site's fingerprint, less the files naming DIR (systemd unit, nginx), which differs between these sites."""
    return _fingerprint(site, exclude=DIR_NAMING)


def apply(bundle: Path, dest: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return airlock("apply", str(bundle), "--dest", str(dest), "--url", URL, cache=dest.parent / "c", env=env)


@pytest.fixture(scope="module")
def bundles(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Bundle A, bundle B (A plus an addon), the delta of B against A, and the delta of B against B."""
    root = tmp_path_factory.mktemp("bundles")
    out: dict[str, Path] = {}
    for name, body in (("a", BODY), ("b", BODY + "addons: [argocd]\n")):
        m = world.manifest(root / name / "airlock.yaml", "2.30.0", body)
        assert airlock("resolve", "-f", str(m), cache=root / "c").returncode == 0
        out[name] = root / f"{name}.tar"
        res = airlock("fetch", "--lock", str(root / name / "airlock.lock"), "-o", str(out[name]), cache=root / "c")
        assert res.returncode == 0, res.stderr
    for name, base in (("delta", "a"), ("empty-delta", "b")):
        out[name] = root / f"{name}.tar"
        res = airlock("fetch", "--lock", str(root / "b" / "airlock.lock"), "-o", str(out[name]),
                      "--base", str(root / base / "airlock.lock"), cache=root / "c")
        assert res.returncode == 0, res.stderr
    return out


@pytest.fixture(scope="module")
def reference(bundles: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Fingerprints of a clean site with A applied, and with A then B applied."""
    root = tmp_path_factory.mktemp("reference")
    assert apply(bundles["a"], root / "site").returncode == 0
    a = tree_fingerprint(root / "site")
    assert apply(bundles["b"], root / "site").returncode == 0
    return {"a": a, "ab": tree_fingerprint(root / "site")}


def strays(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".airlock-" in p.name)


@pytest.mark.parametrize("free", [600_000, 100_000], ids=["0.6MB-checked", "0.1MB-mid-write"])
def test_full_disk_leaves_the_old_site(bundles: dict[str, Path], reference: dict[str, str], tmp_path: Path,
                                       free: int) -> None:
    size = bundles["a"].stat().st_size + bundles["b"].stat().st_size
    with tmpfs(tmp_path / "mnt", f"{3 * size // (1 << 20) + 64}m") as mnt:
        site = mnt / "site"
        assert apply(bundles["a"], site).returncode == 0
        fill(mnt, free)
        before = tree_fingerprint(site)
        # Without the up-front check the write itself runs out of space; both must end the same way.
        env = {"AIRLOCK_SPACE_CHECK": "0"} if free < 600_000 else None
        res = apply(bundles["b"], site, env=env)
        assert res.returncode == 2, res.stderr
        assert "Traceback" not in res.stderr and "internal error" not in res.stderr
        print(res.stderr)  # the message a user sees, in the test log
        assert f"not enough disk space in {mnt}" in res.stderr and "needs" in res.stderr, res.stderr
        assert tree_fingerprint(site) == before == reference["a"]
        assert strays(mnt) == []
        (mnt / "filler").unlink()
        ok = apply(bundles["b"], site)
        assert ok.returncode == 0, ok.stderr
        assert tree_fingerprint(site) == reference["ab"]


@pytest.mark.parametrize("point", ["apply-staged", "apply-built", "apply-swapped", "apply-half-swapped"])
def test_kill_9_leaves_old_or_new_site_and_rerun_completes(bundles: dict[str, Path], reference: dict[str, str],
                                                           tmp_path: Path, point: str) -> None:
    site = tmp_path / "site"
    assert apply(bundles["a"], site).returncode == 0
    legacy = site / "inventory/group_vars/all/.offline.yml.k3j4h5l6"  # a temp file of an older airlock
    legacy.write_text("half\n")
    env = {"AIRLOCK_TEST_KILL": point, **({"AIRLOCK_TEST_NO_EXCHANGE": "1"} if point == "apply-half-swapped" else {})}
    killed = apply(bundles["b"], site, env=env)
    assert killed.returncode == -9, killed.stderr
    assert strays(tmp_path)  # the killed run's staging directory is still there
    if point == "apply-half-swapped":
        assert not site.exists()  # killed between the two renames of the fallback
    else:
        legacy.unlink(missing_ok=True)
        assert tree_fingerprint(site) == (reference["ab"] if point == "apply-swapped" else reference["a"])
        legacy.write_text("half\n")
    again = apply(bundles["b"], site)
    assert again.returncode == 0, again.stderr
    assert tree_fingerprint(site) == reference["ab"]
    assert strays(tmp_path) == [] and not legacy.exists()


def test_dry_run_changes_nothing(bundles: dict[str, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert apply(bundles["a"], site).returncode == 0
    before = tree_fingerprint(site)
    res = airlock("apply", str(bundles["b"]), "--dest", str(site), "--url", URL, "--dry-run", cache=tmp_path / "c")
    assert res.returncode == 0 and "would change" in res.stdout, res.stderr
    # the repodata createrepo_c builds after the commit: the plan's `repodata`, listed in the text too
    assert "repodata: createrepo_c would index 2 RPM repositories" in res.stdout
    assert "\n  rpms/rocky-10/aarch64/repodata\n  rpms/rocky-10/x86_64/repodata\n" in res.stdout, res.stdout
    assert tree_fingerprint(site) == before and strays(tmp_path) == []


def test_dry_run_json_prints_the_plan_the_apply_then_carries_out(bundles: dict[str, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert apply(bundles["a"], site).returncode == 0
    before = tree_fingerprint(site)
    res = airlock("apply", str(bundles["b"]), "--dest", str(site), "--url", URL, "--dry-run", "--json",
                  cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert res.stdout == json.dumps(doc, indent=2, sort_keys=True) + "\n" and doc["dry_run"] is True
    plan = doc["plan"]
    assert plan["dest"] == str(site.resolve()) and plan["site"]["files_repo"] == URL + "/files"
    assert plan["repodata"] == ["rpms/rocky-10/aarch64", "rpms/rocky-10/x86_64"]
    assert doc["changed"] and tree_fingerprint(site) == before and strays(tmp_path) == []
    assert apply(bundles["b"], site).returncode == 0
    for rel, want in plan["outputs"].items():  # the plan is exactly what apply wrote
        assert hashlib.sha256((site / rel).read_bytes()).hexdigest() == want["sha256"], rel
    store = site / "oci" / "blobs" / "sha256"
    for rel, digest in plan["links"].items():
        assert (site / rel).samefile(store / digest.split(":", 1)[1]), rel


def _rewrite_index(src: Path, dst: Path, edit) -> None:
    import io

    with tarfile.open(src) as tin, tarfile.open(dst, "w", format=tarfile.USTAR_FORMAT) as tout:
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isreg() else None  # type: ignore[union-attr]  # a regular member: extractfile gives a file
            if m.name == "bundle.json":
                doc = json.loads(data)  # type: ignore[arg-type]  # bytes here: the member is a regular file
                edit(doc)
                data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data) if data is not None else None)


@pytest.mark.parametrize("damage", ["blob-deleted", "blob-corrupted", "forged-base"])
def test_delta_on_a_bad_base_changes_nothing(bundles: dict[str, Path], reference: dict[str, str], tmp_path: Path,
                                             damage: str) -> None:
    site = tmp_path / "site"
    assert apply(bundles["a"], site).returncode == 0
    delta = bundles["delta"]
    store = site / "oci" / "blobs" / "sha256"
    kubelet = next(p for p in (site / "files").rglob("kubelet"))
    blob = next(p for p in store.iterdir() if p.stat().st_ino == kubelet.stat().st_ino)
    if damage == "blob-deleted":
        blob.unlink()
    elif damage == "blob-corrupted":
        with blob.open("r+b") as f:
            first = f.read(1)
            f.seek(0)
            f.write(bytes([first[0] ^ 1]))
    else:
        # A bundle made against base B (it holds almost nothing) that claims base A, which is applied here.
        delta = tmp_path / "forged.tar"
        a_sha = json.loads((site / ".airlock/state.json").read_text())["current"]
        _rewrite_index(bundles["empty-delta"], delta, lambda doc: doc.update(base_lock_sha256=a_sha))
    before = tree_fingerprint(site)
    res = apply(delta, site)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert "neither in the bundle nor intact" in res.stderr and "nothing was changed" in res.stderr, res.stderr
    assert tree_fingerprint(site) == before and strays(tmp_path) == []
    if damage == "forged-base":
        return
    if damage == "blob-corrupted":
        assert f"delete {blob}" in res.stderr
        blob.unlink()
    assert apply(bundles["a"], site).returncode == 0  # repair the base, then the delta applies
    ok = apply(delta, site)
    assert ok.returncode == 0, ok.stderr
    assert tree_fingerprint(site) == reference["ab"]


def test_a_symlink_out_of_dir_is_refused(bundles: dict[str, Path], tmp_path: Path) -> None:
    site, outside = tmp_path / "site", tmp_path / "outside"
    assert apply(bundles["a"], site).returncode == 0
    outside.mkdir()
    (outside / "sentinel").write_text("keep\n")
    (site / "node").rename(tmp_path / "node-moved")
    (site / "node").symlink_to(outside)
    before = tree_fingerprint(site)
    res = apply(bundles["b"], site)
    assert res.returncode == 2 and "leads out of" in res.stderr, res.stderr
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel"]
    assert tree_fingerprint(site) == before


def test_serve_keeps_serving_across_the_swap(bundles: dict[str, Path], tmp_path: Path) -> None:
    site = tmp_path / "site"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    assert airlock("apply", str(bundles["a"]), "--dest", str(site), "--url", url, cache=tmp_path / "c").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(site), "--listen", f"127.0.0.1:{port}"],
                            stderr=subprocess.DEVNULL)
    try:
        wait_http(f"{url}/v2/", proc)
        res = airlock("apply", str(bundles["b"]), "--dest", str(site), "--url", url, cache=tmp_path / "c")
        assert res.returncode == 0, res.stderr
        argocd = next(p for p in (site / "files").rglob("install.yaml"))
        rel = argocd.relative_to(site).as_posix()
        with urllib.request.urlopen(f"{url}/{rel}", timeout=10) as resp:
            assert hashlib.sha256(resp.read()).digest() == hashlib.sha256(argocd.read_bytes()).digest()
    finally:
        proc.terminate()
        proc.wait(10)


def test_reapply_repairs_lost_repodata(bundles: dict[str, Path], reference: dict[str, str], tmp_path: Path) -> None:
    site = tmp_path / "site"
    assert apply(bundles["a"], site).returncode == 0
    repodata = next(site.glob("rpms/*/*/repodata"))
    for p in repodata.iterdir():
        p.unlink()
    res = apply(bundles["a"], site)
    assert res.returncode == 0 and "repodata" in res.stdout, res.stdout + res.stderr
    assert tree_fingerprint(site) == reference["a"] and strays(tmp_path) == []
    again = apply(bundles["a"], site)
    assert "up to date, nothing changed" in again.stdout
