"""Kubespray's venv on the admin host (DIR/venv), from the site's wheels, offline.

pip comes from the bundle's ``bootstrap/wheels/pip-*.whl`` (run from the wheel, so the OS needs no
pip, ensurepip or python3-venv's pip); without one, ``python -m venv`` must bring pip itself.
Rebuilt only when its requirements change; the old venv is kept until the new one works.
"""

from __future__ import annotations

import hashlib
import platform as host_platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from airlock.apply.pypi import requirements_txt
from airlock.errors import AirlockError
from airlock.lockfile.model import Lock

MARKER = ".airlock-requirements"


def pick_platform(lock: Lock) -> tuple[str, str] | None:
    """(platform label, interpreter) for this machine: cpXY-ARCH of the lock with python3.X found here."""
    have = sorted({p for w in lock.wheel for p in w.platforms})
    machine = host_platform.machine()
    mine = f"cp{sys.version_info.major}{sys.version_info.minor}-{machine}"
    if mine in have:  # the interpreter airlock runs on: the admin host's Python
        return mine, sys.executable
    for label in have:
        tag, _, arch = label.partition("-")
        exe = shutil.which(f"python{tag[2]}.{tag[3:]}")
        if arch == machine and exe:
            return label, exe
    return None


def build_venv(lock: Lock, dest: Path, pip_wheel: Path | None) -> str | None:
    """Create or refresh DIR/venv; returns what changed ("venv") or None when it was up to date."""
    if not lock.wheel:
        return None
    picked = pick_platform(lock)
    if picked is None:
        have = sorted({p for w in lock.wheel for p in w.platforms})
        raise AirlockError(f"no Python on this host matches the lock's Kubespray wheels ({', '.join(have)}) "
                           f"for {host_platform.machine()}",
                           hint="install that Python (bootstrap/install.sh does for the admin host), or set "
                                "admin.python in airlock.yaml and re-resolve; --no-venv skips the venv")
    label, python = picked
    reqs = requirements_txt(lock, label)
    digest = hashlib.sha256(f"{label}\n{reqs}".encode()).hexdigest()
    venv = dest / "venv"
    marker = venv / MARKER
    if marker.is_file() and marker.read_text().strip() == digest and (venv / "bin" / "ansible-playbook").exists():
        return None
    old = dest / ".venv.old"
    shutil.rmtree(old, ignore_errors=True)  # a stray one from an interrupted run
    if venv.exists():
        venv.rename(old)
    try:
        _create(python, venv, pip_wheel, dest / "pypi" / "files", reqs)
        marker.write_text(digest + "\n")
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        if old.exists():
            old.rename(venv)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return "venv"


def _run(cmd: list[str], what: str) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
                         env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null", "PIP_NO_INDEX": "1",
                              "LC_ALL": "C.UTF-8"})
    if res.returncode != 0:
        raise AirlockError(f"Kubespray's venv: {what} failed: {(res.stderr or res.stdout).strip()[-800:]}",
                           hint="see the message above; --no-venv skips the venv")


def _create(python: str, venv: Path, pip_wheel: Path | None, links: Path, reqs: str) -> None:
    if pip_wheel is not None:
        _run([python, "-m", "venv", "--without-pip", str(venv)], f"{python} -m venv --without-pip")
        pip = [str(venv / "bin" / "python"), str(pip_wheel / "pip")]
    else:
        _run([python, "-m", "venv", str(venv)], f"{python} -m venv (the bundle has no pip wheel: add admin: to "
                                                  "airlock.yaml so it carries one)")
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=venv, delete=False) as f:
        f.write(reqs)
    try:
        _run([*pip, "install", "--isolated", "--no-index", "--disable-pip-version-check", "--no-cache-dir",
              "--quiet", "--find-links", str(links), "--require-hashes", "-r", f.name],
             "pip install of the site's wheels")
    finally:
        Path(f.name).unlink(missing_ok=True)
