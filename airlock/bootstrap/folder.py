"""``bootstrap/`` at the front of bundle.tar: what install.sh needs to put airlock on a bare admin host.

Layout (every file listed in bundle.json with kind ``bootstrap`` and in ``bootstrap/SHA256SUMS``)::

    bootstrap/install.sh               POSIX sh, generated for the lock's admin host
    bootstrap/SHA256SUMS               sha256 of every other file below, checked by install.sh first
    bootstrap/wheels/*.whl             airlock's own wheel (built here), its closure and pip
    bootstrap/rpms/*.rpm, repodata/    interpreter packages (RPM admin OSes whose python3 is too old)
    bootstrap/debs/*.deb, Packages     the same for Debian/Ubuntu

Everything is made from the lock and the cache: same lock, same airlock, same bytes.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from airlock.bootstrap.admin import admin_data
from airlock.bootstrap.selfwheel import airlock_version, build_wheel
from airlock.digest import Digest
from airlock.errors import AirlockError
from airlock.lockfile.model import Lock
from airlock.names import url_basename
from airlock.packages import rpm_arch
from airlock.store import Store

ROOT = "bootstrap"


@dataclass(frozen=True)
class FrontFile:
    path: str  # bootstrap/...
    data: bytes | None = None  # made here
    source: Path | None = None  # a blob in the cache
    size: int = 0
    sha256: str = ""


def _from_bytes(path: str, data: bytes) -> FrontFile:
    return FrontFile(path, data=data, size=len(data), sha256=hashlib.sha256(data).hexdigest())


def _from_store(path: str, store: Store, sha256: str) -> FrontFile:
    p = store.path(Digest.from_hex(sha256))
    return FrontFile(path, source=p, size=p.stat().st_size, sha256=sha256)


def directories(files: list[FrontFile]) -> list[str]:
    """Every directory the files are in, parents first (the tar lists them before their files)."""
    dirs = {ROOT}
    for f in files:
        parts = f.path.split("/")[:-1]
        dirs |= {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return sorted(dirs)


def build(lock: Lock, store: Store, download: Callable[[str, int | None, str, str], None]) -> list[FrontFile]:
    """The files of ``bootstrap/`` (sorted by path), or [] when the lock pins no bootstrap.
    ``download(url, size, sha256, what)`` puts a pinned blob into ``store`` when it is missing."""
    boot = lock.bootstrap
    if boot is None:
        return []

    if boot.airlock != airlock_version():  # its wheels are that release's requirements, not this one's
        raise AirlockError(f"the lock pins the runtime of airlock {boot.airlock}; this is airlock {airlock_version()}",
                           hint="run `airlock resolve` with this airlock, or fetch with airlock " + boot.airlock)
    pins: list[tuple[str, Any, str]] = [(f"{ROOT}/wheels/{w.filename}", w, f"python package {w.filename}")
                                        for w in lock.bootstrap_wheel]
    pins += [(f"{ROOT}/rpms/{url_basename(r.url)}", r, f"rpm {r.name} (bootstrap)") for r in lock.bootstrap_rpm]
    pins += [(f"{ROOT}/debs/{url_basename(d.url)}", d, f"deb {d.name} (bootstrap)") for d in lock.bootstrap_deb]
    indexes = [(i, f"deb index {i.repo} (bootstrap)") for i in lock.bootstrap_deb_index]
    for _, pin, what in pins:
        download(pin.url, pin.size or None, pin.sha256, what)
    for idx, what in indexes:
        download(idx.url, idx.size or None, idx.sha256, what)
    files = [_from_store(path, store, pin.sha256) for path, pin, _ in pins]
    name, wheel = build_wheel()
    files.append(_from_bytes(f"{ROOT}/wheels/{name}", wheel))
    if lock.bootstrap_rpm:
        files += _rpm_repodata([f for f in files if f.path.startswith(f"{ROOT}/rpms/")])
    if lock.bootstrap_deb:
        files += _deb_packages(lock, store)
    pip = sorted(f.path.rsplit("/", 1)[1] for f in files if f.path.startswith(f"{ROOT}/wheels/pip-"))
    files.append(_from_bytes(f"{ROOT}/install.sh", install_script(lock, name, pip[-1] if pip else "")))
    files.sort(key=lambda f: f.path)
    sums = "".join(f"{f.sha256}  {f.path.removeprefix(ROOT + '/')}\n" for f in files)
    files.append(_from_bytes(f"{ROOT}/SHA256SUMS", sums.encode()))
    return sorted(files, key=lambda f: f.path)


def _rpm_repodata(rpms: list[FrontFile]) -> list[FrontFile]:
    from airlock.apply.repos import build_rpm_repodata  # lazy: apply.repos loads the Kubespray evaluator (~30 ms)

    with tempfile.TemporaryDirectory(prefix="airlock-bootstrap-") as tmp:
        repo = Path(tmp) / "rpms"
        repo.mkdir()
        for f in rpms:
            assert f.source is not None
            shutil.copyfile(f.source, repo / f.path.rsplit("/", 1)[1])
        (Path(tmp) / "staging").mkdir()
        build_rpm_repodata(repo, Path(tmp) / "staging")
        return [_from_bytes(f"{ROOT}/rpms/repodata/{p.name}", p.read_bytes())
                for p in sorted((repo / "repodata").iterdir())]


def _deb_packages(lock: Lock, store: Store) -> list[FrontFile]:
    from airlock.apply.repos import deb_indexes  # lazy: apply.repos loads the Kubespray evaluator (~30 ms)

    boot = lock.bootstrap
    assert boot is not None
    view = lock.model_copy(update={"deb": lock.bootstrap_deb, "deb_index": lock.bootstrap_deb_index})
    made = deb_indexes(view, [boot.arch], {i.sha256: (store.blobs / i.sha256).read_bytes() for i in view.deb_index})
    return [_from_bytes(f"{ROOT}/debs/{path.rsplit('/', 1)[1]}", data) for path, data in sorted(made.items())]


def install_script(lock: Lock, airlock_wheel: str, pip_wheel: str) -> bytes:
    boot = lock.bootstrap
    assert boot is not None
    host = admin_data()["hosts"][boot.os]
    text = resources.files("airlock.bootstrap").joinpath("install.sh").read_text(encoding="utf-8")
    values = {"@ADMIN_OS@": boot.os, "@OS_RELEASE@": str(host["os_release"]), "@FAMILY@": str(host["family"]),
              "@PYTHON@": boot.python, "@MACHINE@": rpm_arch(boot.arch), "@INTERPRETER@": " ".join(boot.interpreter),
              "@AIRLOCK_WHEEL@": airlock_wheel, "@PIP_WHEEL@": pip_wheel, "@AIRLOCK_VERSION@": boot.airlock}
    for key, value in values.items():
        text = text.replace(key, value)
    return text.encode()
