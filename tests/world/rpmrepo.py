"""Build real RPM repositories for tests: rpmbuild (noarch and two arches) + createrepo_c.

Packages are declared as data; each version becomes one spec with a subpackage per package, so a
whole repository is a few rpmbuild runs. The default fixture exercises a chain of Requires, a file
dependency, a virtual Provides, an Obsoletes, two versions of one package, a rich (boolean)
dependency, a weak dependency, noarch and per-arch packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.world.signing import ThrowawayKey

ARCHES = ("x86_64", "aarch64")


@dataclass(frozen=True)
class Pkg:
    name: str
    version: str = "1.0"
    noarch: bool = False
    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    obsoletes: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


STRUCTURE = (
    Pkg("alpha", requires=("beta >= 2.0", "/usr/bin/gamma-tool"), recommends=("eta",)),
    Pkg("beta", version="1.0"),
    Pkg("beta", version="2.0", requires=("libdelta",)),
    Pkg("gamma", noarch=True, files=("/usr/bin/gamma-tool",)),
    Pkg("delta", provides=("libdelta",)),
    Pkg("epsilon", noarch=True, requires=("virtual-thing",)),
    Pkg("provider", noarch=True, provides=("virtual-thing",)),
    Pkg("newpkg", version="2.0", provides=("oldpkg = 2.0",), obsoletes=("oldpkg < 2.0",)),
    Pkg("oldpkg", version="1.0"),
    Pkg("zeta", noarch=True, requires=("oldpkg",)),
    Pkg("theta", requires=("(gamma or nothing-provides-this)",)),
    Pkg("eta", noarch=True),
    Pkg("broken", noarch=True, requires=("libmissing.so.1",)),
)


def _spec(version: str, pkgs: list[Pkg]) -> str:
    lines = [f"Name: fixture-{version.replace('.', '_')}", f"Version: {version}", "Release: 1",
             "Summary: airlock test fixture", "License: MIT", "%description", "fixture", ""]
    install = ["%install"]
    for p in pkgs:
        lines += [f"%package -n {p.name}", f"Summary: {p.name}"]
        if p.noarch:
            lines.append("BuildArch: noarch")
        lines += [f"Requires: {r}" for r in p.requires] + [f"Provides: {r}" for r in p.provides]
        lines += [f"Obsoletes: {r}" for r in p.obsoletes] + [f"Recommends: {r}" for r in p.recommends]
        lines += [f"%description -n {p.name}", p.name, ""]
        paths = [f"/usr/share/fixture/{p.name}"] + list(p.files)
        for path in paths:
            install.append(f"mkdir -p %{{buildroot}}{Path(path).parent} && echo {p.name} > %{{buildroot}}{path}")
        lines += [f"%files -n {p.name}"] + paths + [""]
    return "\n".join(lines + install) + "\n"


def build_repo(root: Path, pkgs: tuple[Pkg, ...] | list[Pkg], signer: ThrowawayKey | None = None) -> Path:
    """Build every package for both arches (noarch once) and return the repo dir (with repodata); with
    ``signer``, every package is signed by rpmsign and the public key is ``repo/RPM-GPG-KEY-fixture``."""
    top, repo = root / "rpmbuild", root / "repo"
    root.mkdir(parents=True, exist_ok=True)
    by_version: dict[str, list[Pkg]] = defaultdict(list)
    for p in pkgs:
        by_version[p.version].append(p)
    for version, group in sorted(by_version.items()):
        spec = root / f"fixture-{version}.spec"
        spec.write_text(_spec(version, group))
        for arch in ARCHES:
            # Reproducible: the same fixture gives the same rpm bytes on every run (goldens depend on it).
            subprocess.run(["rpmbuild", "-bb", "--target", arch, "--define", f"_topdir {top}",
                            "--define", "_build_id_links none", "--define", "__os_install_post %{nil}",
                            "--define", "use_source_date_epoch_as_buildtime 1",
                            "--define", "clamp_mtime_to_source_date_epoch 1", "--define", "_buildhost fixture",
                            str(spec)], check=True, capture_output=True,
                           env={**os.environ, "SOURCE_DATE_EPOCH": "1700000000"})
    repo.mkdir(parents=True, exist_ok=True)
    for rpm in (top / "RPMS").rglob("*.rpm"):
        shutil.copy2(rpm, repo / rpm.name)
    if signer is not None:
        signer.rpmsign(sorted(repo.glob("*.rpm")))
        (repo / "RPM-GPG-KEY-fixture").write_bytes(signer.public_armored())
    createrepo = shutil.which("createrepo_c")
    assert createrepo, "createrepo_c is not installed"
    subprocess.run([createrepo, "--general-compress-type", "gz", str(repo)], check=True, capture_output=True)
    return repo


def dummies(names: list[str]) -> list[Pkg]:
    """Plain packages for names the fixture does not define (so a whole plan resolves)."""
    known = {p.name for p in STRUCTURE} | {pr.split()[0] for p in STRUCTURE for pr in p.provides}
    return [Pkg(n, noarch=True) for n in sorted(set(names) - known)]
