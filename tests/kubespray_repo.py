"""Kubespray's own templates, from a git copy of the whole repository (not in ../shared, which holds the
data files only). ``AIRLOCK_KUBESPRAY_GIT`` names its git directory; by default the copy the search
tool's ``fetch github:kubernetes-sigs/kubespray`` leaves. Tests that need it skip with the reason when absent."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import kubespray_dir

DEFAULT_GIT = Path("/work/.mirror/kubernetes-sigs+kubespray/repo")


def git_dir() -> Path:
    path = Path(os.environ.get("AIRLOCK_KUBESPRAY_GIT") or DEFAULT_GIT)
    if not (path / "HEAD").is_file() and not (path / ".git").exists():
        pytest.skip(f"no git copy of the Kubespray repository at {path} (set AIRLOCK_KUBESPRAY_GIT to one; "
                    "its templates are not in ../shared)")
    return path


def revision(release: str) -> str:
    """The git revision of a release of the test matrix (master-<commit> for master)."""
    if release == "master":
        return kubespray_dir("master").name.split("-", 1)[1]
    return f"v{release}"


def template(release: str, path: str) -> str:
    res = subprocess.run(["git", "--git-dir", str(git_dir()), "show", f"{revision(release)}:{path}"],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"{path} not found at {revision(release)} in {git_dir()}: {res.stderr.strip()}")
    return res.stdout
