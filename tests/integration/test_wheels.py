"""Python wheels offline: generated wheels in a local index -> resolve -> fetch -> apply -> serve -> pip."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from airlock.lockfile import read_lock
from tests.helpers import airlock
from tests.world.pipeline import served_site
from tests.world.wheels import CONFLICT
from tests.world.world import World

pytestmark = pytest.mark.integration
REQS = ["top-a", "top-c>=1", "top-d", "top-e"]
PY = f"{sys.version_info.major}.{sys.version_info.minor}"
TAG = f"cp{sys.version_info.major}{sys.version_info.minor}-x86_64"


def body(reqs: list[str]) -> str:
    return ("arch: [amd64, arm64]\n"
            f'python: {{version: "{PY}", index_url: "https://pypi.fixture.example/simple/", '
            f"requirements: [{', '.join(json.dumps(r) for r in reqs)}]}}\n")


@pytest.fixture(scope="module")
def site(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, Path]]:
    root = tmp_path_factory.mktemp("wheelsite")
    with served_site(world.manifest(root / "airlock.yaml", "2.30.0", body(REQS)), root) as served:
        yield served


def locked(lock_path: Path, platform: str) -> dict[str, str]:
    return {w.name: w.version for w in read_lock(lock_path).wheel if platform in w.platforms}


def test_resolution_backtracks_and_evaluates_markers_for_the_target(site: tuple[Path, int, Path]) -> None:
    lock = read_lock(site[2])
    x86, arm = locked(site[2], TAG), locked(site[2], TAG.replace("x86_64", "aarch64"))
    assert x86["top-a"] == "1.0" and x86["top-b"] == "1.0" and x86["top-c"] == "1.5"   # backtracking
    assert x86["top-e"] == "1.0"                                                        # requires-python
    assert "only-old" not in x86 and "only-arm" not in x86 and "only-arm" in arm        # markers, per arch
    assert x86["fastlib"] == "1.0"                                                      # an extra
    f = {w.platforms[0]: w.filename for w in lock.wheel if w.name == "top-f"}
    assert "manylinux" in f[TAG] and f[TAG.replace("x86_64", "aarch64")].endswith("py3-none-any.whl")
    assert next(w for w in lock.wheel if w.name == "top-b").via == ["top-a"]
    assert "ansible" in x86 and not any(w.sdist for w in lock.wheel)


def test_pip_installs_exactly_the_locked_set_from_the_site(site: tuple[Path, int, Path], tmp_path: Path) -> None:
    site_dir, port, lock_path = site
    reqs_file = tmp_path / "reqs.txt"
    reqs_file.write_text("\n".join(REQS + ["ansible", "cryptography", "jmespath", "netaddr"]) + "\n")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    res = subprocess.run([str(venv / "bin/pip"), "--isolated", "install", "--index-url", f"http://127.0.0.1:{port}/pypi/simple/",
                          "--no-cache-dir", "-r", str(reqs_file)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    frozen = subprocess.run([str(venv / "bin/pip"), "list", "--format=json", "--exclude", "pip",
                             "--exclude", "setuptools"], capture_output=True, text=True, check=True).stdout
    got = {p["name"]: p["version"] for p in json.loads(frozen)}
    assert got == locked(lock_path, TAG)
    exported = tmp_path / "hashed.txt"
    assert airlock("requirements", "--lock", str(lock_path), "--platform", TAG, "-o", str(exported),
                   cache=tmp_path / "c").returncode == 0
    venv2 = tmp_path / "venv2"
    subprocess.run([sys.executable, "-m", "venv", str(venv2)], check=True)
    res = subprocess.run([str(venv2 / "bin/pip"), "--isolated", "install", "--require-hashes", "--no-deps", "--index-url",
                          f"http://127.0.0.1:{port}/pypi/simple/", "--no-cache-dir", "-r", str(exported)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


def test_pep691_json_and_pip_conf(site: tuple[Path, int, Path]) -> None:
    site_dir, port, _ = site
    req = urllib.request.Request(f"http://127.0.0.1:{port}/pypi/simple/top-a/",
                                 headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    resp = urllib.request.urlopen(req)
    assert resp.headers["Content-Type"] == "application/vnd.pypi.simple.v1+json"
    doc = json.loads(resp.read())
    assert doc["name"] == "top-a" and all("sha256" in f["hashes"] for f in doc["files"])
    page = urllib.request.urlopen(f"http://127.0.0.1:{port}/pypi/simple/top-a/").read().decode()
    assert "#sha256=" in page
    assert f"index-url = http://127.0.0.1:{port}/pypi/simple/" in (site_dir / "node/pip.conf").read_text()


def test_unsatisfiable_names_the_conflict_chain(world: World, tmp_path: Path) -> None:
    manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0", body(CONFLICT))
    res = airlock("resolve", "-f", str(manifest), cache=tmp_path / "c")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "top-c<1 (required by conflict-x 1.0)" in res.stderr and "top-c>=1 (requested)" in res.stderr
