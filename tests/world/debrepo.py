"""Build real Debian repositories for tests: dpkg-deb packages, dpkg-scanpackages indexes, a
dists-style layout with Packages.xz and a Release file listing their SHA256."""

from __future__ import annotations

import hashlib
import lzma
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.world.signing import ThrowawayKey

ARCHES = ("amd64", "arm64")


@dataclass(frozen=True)
class Deb:
    name: str
    version: str = "1.0"
    arch_all: bool = False
    depends: str = ""
    pre_depends: str = ""
    provides: str = ""
    recommends: str = ""
    breaks: str = ""
    conflicts: str = ""


STRUCTURE = (
    Deb("alpha", depends="beta (>= 2.0), gamma | nothing-provides-this", recommends="eta"),
    Deb("beta", version="1.0"),
    Deb("beta", version="2.0", depends="libdelta1"),
    Deb("gamma", arch_all=True),
    Deb("libdelta1"),
    Deb("provider", arch_all=True, provides="virtual-thing"),
    Deb("epsilon", arch_all=True, depends="virtual-thing"),
    Deb("zeta", pre_depends="libdelta1 (>= 1.0)"),
    Deb("eta", arch_all=True),
    Deb("theta", depends="nothing-provides-this | gamma (>= 1.0)"),
    Deb("broken", arch_all=True, depends="libmissing1"),
)


def _build(pool: Path, d: Deb, arch: str) -> None:
    work = pool.parent / "build" / f"{d.name}_{d.version}_{arch}"
    (work / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (work / "usr/share/fixture").mkdir(parents=True, exist_ok=True)
    (work / "usr/share/fixture" / d.name).write_text(d.name + "\n")
    control = [f"Package: {d.name}", f"Version: {d.version}", f"Architecture: {arch}",
               "Maintainer: airlock tests <tests@example.invalid>", f"Description: {d.name} fixture"]
    for key, value in (("Depends", d.depends), ("Pre-Depends", d.pre_depends), ("Provides", d.provides),
                       ("Recommends", d.recommends), ("Breaks", d.breaks), ("Conflicts", d.conflicts)):
        if value:
            control.insert(3, f"{key}: {value}")
    (work / "DEBIAN/control").write_text("\n".join(control) + "\n")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(work),
                    str(pool / f"{d.name}_{d.version}_{arch}.deb")], check=True, capture_output=True,
                   env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})


def build_repo(root: Path, debs: tuple[Deb, ...] | list[Deb], suite: str = "stable",
               signer: ThrowawayKey | None = None) -> Path:
    """A dists-style repo at root/repo: pool/*.deb, dists/<suite>/main/binary-<arch>/Packages.xz; with
    ``signer``, dists/<suite>/InRelease is the Release clearsigned and the public key is ``repo/archive-key.asc``."""
    repo = root / "repo"
    pool = repo / "pool" / "main"
    pool.mkdir(parents=True, exist_ok=True)
    for d in debs:
        for arch in (("all",) if d.arch_all else ARCHES):
            _build(pool, d, arch)
    sums = []
    for arch in ARCHES:
        out = subprocess.run(["dpkg-scanpackages", "--multiversion", "--arch", arch, "pool/main"],
                             cwd=repo, check=True, capture_output=True).stdout
        rel = f"main/binary-{arch}"
        d = repo / "dists" / suite / rel
        d.mkdir(parents=True, exist_ok=True)
        (d / "Packages").write_bytes(out)
        (d / "Packages.xz").write_bytes(lzma.compress(out))
        for name in ("Packages", "Packages.xz"):
            data = (d / name).read_bytes()
            sums.append(f" {hashlib.sha256(data).hexdigest()} {len(data)} {rel}/{name}")
    release = [f"Suite: {suite}", f"Codename: {suite}", "Components: main", f"Architectures: {' '.join(ARCHES)}",
               "SHA256:", *sums]
    (repo / "dists" / suite / "Release").write_text("\n".join(release) + "\n")
    if signer is not None:
        (repo / "dists" / suite / "InRelease").write_bytes(signer.clearsign((repo / "dists" / suite / "Release").read_bytes()))
        (repo / "archive-key.asc").write_bytes(signer.public_armored())
    return repo


def dummies(names: list[str]) -> list[Deb]:
    known = {d.name for d in STRUCTURE} | {"virtual-thing"}
    return [Deb(n, arch_all=True) for n in sorted(set(names) - known)]
