"""Reading the locks a review compares: from a path, or from git history (a real repository in tmp_path)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from airlock.errors import LockError, UsageError
from airlock.lockfile import dumps
from airlock.review.locks import load_lock_spec
from tests.unit.review.test_diff import D1, D2, lock


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false",
                    *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository whose first commit pins pause at D1 and whose second (HEAD) at D2."""
    git(tmp_path, "init", "-q")
    for digest in (D1, D2):
        (tmp_path / "airlock.lock").write_text(dumps(lock({"pause": ("registry.k8s.io/pause:3.10", digest)}, {})))
        git(tmp_path, "add", "airlock.lock")
        git(tmp_path, "commit", "-q", "-m", digest)
    monkeypatch.chdir(tmp_path)  # git:REV:path reads the repository of the current directory
    return tmp_path


def test_a_path_and_git_history(repo: Path) -> None:
    assert load_lock_spec(str(repo / "airlock.lock")).image[0].digest == D2
    assert load_lock_spec("git:HEAD:airlock.lock").image[0].digest == D2
    assert load_lock_spec("git:HEAD~1:airlock.lock").image[0].digest == D1


@pytest.mark.parametrize("spec", ["git:HEAD", "git::airlock.lock", "git:"])
def test_a_spec_without_rev_or_path_is_a_usage_error(repo: Path, spec: str) -> None:
    with pytest.raises(UsageError, match="is not git:REV:path") as err:
        load_lock_spec(spec)
    assert err.value.exit_code == 2 and err.value.hint == "e.g. git:HEAD~1:airlock.lock"


def test_a_missing_revision_names_the_git_command(repo: Path) -> None:
    with pytest.raises(UsageError, match=r"^git show HEAD~5:airlock.lock failed: fatal: "):
        load_lock_spec("git:HEAD~5:airlock.lock")


def test_a_bad_lock_in_history_names_the_spec(repo: Path) -> None:
    (repo / "airlock.lock").write_text("version = 999\n")
    git(repo, "commit", "-q", "-am", "bad")
    with pytest.raises(LockError) as err:
        load_lock_spec("git:HEAD:airlock.lock")
    assert err.value.where == "git:HEAD:airlock.lock" and "version 999" in str(err.value)
