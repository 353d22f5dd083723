"""apt-get on a throwaway root (``-o Dir=``) whose sources name ``signed-by=/etc/apt/keyrings/...``: apt reads
that path from the host even with Dir=, so a private mount namespace (unshare) puts the root's
``etc/apt/keyrings`` there; nothing on the host changes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def layout(root: Path) -> None:
    """The directories and empty dpkg status apt-get needs under ``-o Dir=root``."""
    for d in ("etc/apt/sources.list.d", "etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/keyrings",
              "var/lib/apt/lists/partial", "var/cache/apt/archives/partial", "var/lib/dpkg"):
        (root / d).mkdir(parents=True, exist_ok=True)
    if not (root / "var/lib/dpkg/status").exists():
        (root / "var/lib/dpkg/status").write_text("")


def apt_options(root: Path, arch: str = "amd64") -> list[str]:
    """apt-get options that keep it inside ``root``: its state, lists, cache and trusted keys, no locking."""
    return ["-o", f"Dir={root}", "-o", f"Dir::State::status={root}/var/lib/dpkg/status",
            "-o", f"APT::Architecture={arch}", "-o", "APT::Architectures::=", "-o", "Debug::NoLocking=1",
            "-o", "APT::Install-Recommends=false", "-o", f"Dir::Etc::trusted={root}/etc/apt/trusted.gpg",
            "-o", f"Dir::Etc::trustedparts={root}/etc/apt/trusted.gpg.d"]


def prepare(root: Path) -> None:
    if not Path("/etc/apt/keyrings").is_dir() or shutil.which("unshare") is None:
        pytest.skip("needs /etc/apt/keyrings and unshare (util-linux) on the test host")
    layout(root)


def apt_get(root: Path, *args: str, arch: str = "amd64") -> subprocess.CompletedProcess[str]:
    opts = apt_options(root, arch)
    script = 'mount --bind "$0/etc/apt/keyrings" /etc/apt/keyrings && exec apt-get "$@"'
    user = [] if os.geteuid() == 0 else ["--map-root-user"]  # a mount namespace needs (namespaced) root
    return subprocess.run(["unshare", *user, "--mount", "--propagation", "private", "sh", "-c", script, str(root),
                           *opts, *args], capture_output=True, text=True)
