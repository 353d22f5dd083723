"""A real bundle whose lock is rewritten consistently (lock, its entry in bundle.json and lock_sha256 all
agree), so only the lock model's own checks can stop it: names that would make apply write outside DIR."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.conftest import run_airlock as airlock
from tests.integration.conftest import world_bundle
from tests.world.fingerprint import tree_fingerprint
from tests.world.world import World

pytestmark = pytest.mark.integration
BODY = "os: [rocky-10]\narch: [amd64]\n"



@pytest.fixture(scope="module")
def bundle(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_bundle(world, tmp_path_factory.mktemp("hostile"), BODY)


def rewrite(src: Path, dst: Path, edit: Callable[[str], str]) -> None:
    """Copy the bundle with its lock edited, and bundle.json made to agree with the new lock."""
    with tarfile.open(src) as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar]  # type: ignore[union-attr]  # a regular member: extractfile gives a file
    lock = next(data for m, data in members if m.name == "airlock.lock")
    assert lock is not None
    new_lock = edit(lock.decode()).encode()
    assert new_lock != lock
    digest = "sha256:" + hashlib.sha256(new_lock).hexdigest()
    index = json.loads(next(data for m, data in members if m.name == "bundle.json") or b"")
    index["lock_sha256"] = digest.split(":", 1)[1]
    for e in index["entries"]:
        if e["path"] == "airlock.lock":
            e["digest"], e["size"] = digest, len(new_lock)
    new_index = (json.dumps(index, indent=1, sort_keys=True) + "\n").encode()
    with tarfile.open(dst, "w", format=tarfile.PAX_FORMAT) as out:
        for m, data in members:
            data = {"bundle.json": new_index, "airlock.lock": new_lock}.get(m.name, data)
            if data is not None:
                m.size = len(data)
            out.addfile(m, io.BytesIO(data) if data is not None else None)


def _sub(pattern: str, repl: str) -> Callable[[str], str]:
    return lambda text: re.sub(pattern, repl, text, count=1, flags=re.MULTILINE)


EDITS = {
    "file-path": (_sub(r'^path = ".*"$', 'path = "../../../X"'), r"file\[0\]\.path"),
    "rpm-os": (_sub(r'^os = "rocky-10"$', 'os = "../../../../X"'), r"rpm\[0\]\.os"),
    "rpm-url-name": (_sub(r'^(url = "https://[^"]*/)[^/"]*\.rpm"$', r'\1.."'), r"rpm\[0\]\.url"),
    "kubespray-version": (_sub(r'^version = "2\.30\.0"$', 'version = "../../x"'), r"kubespray\.version"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_hostile_lock_names_are_refused_and_nothing_is_written(bundle: Path, tmp_path: Path, case: str) -> None:
    edit, entry = EDITS[case]
    bad = tmp_path / "bad.tar"
    rewrite(bundle, bad, edit)
    site = tmp_path / "deep" / "er" / "site"
    site.mkdir(parents=True)
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("untouched")
    before, around = tree_fingerprint(site), sorted(p.name for p in tmp_path.iterdir())
    for args in (["verify", str(bad)],
                 ["apply", str(bad), "--dest", str(site), "--url", "http://10.0.0.5:8080"]):
        res = airlock(*args, cache=tmp_path / "c")
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert re.search(entry, res.stderr) and "airlock.lock" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr and "internal error" not in res.stderr
    assert tree_fingerprint(site) == before and sentinel.read_text() == "untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == around
    assert not any(p.name == "X" for p in tmp_path.rglob("X"))


def test_the_untouched_bundle_still_applies(bundle: Path, tmp_path: Path) -> None:
    same = tmp_path / "same.tar"
    rewrite(bundle, same, lambda t: t + "\n")  # a consistent rewrite alone is not refused
    res = airlock("apply", str(same), "--dest", str(tmp_path / "site"), "--url", "http://10.0.0.5:8080",
                  cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
