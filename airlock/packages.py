"""OS package defaults (``manifests/packages.yaml``): site packages and repositories per OS."""

from __future__ import annotations

import functools
from typing import Any

import yaml

from airlock.errors import ManifestError
from airlock.manifest.model import Manifest, RepoSpec
from airlock.targets import LOADER, data_dir, targets


@functools.cache
def package_data() -> dict[str, Any]:
    return yaml.load((data_dir() / "packages.yaml").read_text(), Loader=LOADER)  # libyaml: see targets.LOADER


def family(os_name: str) -> str:
    return str(targets().os[os_name]["family"])


def site_packages(os_name: str) -> list[str]:
    return list(package_data()["os"][os_name]["site"])


def rpm_arch(arch: str) -> str:
    return str(package_data()["rpm_arch"][arch])


def repos_for(manifest: Manifest, os_name: str, arch: str) -> list[RepoSpec]:
    """The repositories of ``os_name`` for ``arch``, ``{arch}`` expanded (rpm or deb naming)."""
    specs = manifest.repos.get(os_name)
    if specs is None:
        specs = [RepoSpec(**r) for r in package_data()["os"][os_name]["repos"]]
    return _expand(specs, os_name, arch)


def base_repos_for(manifest: Manifest, os_name: str, arch: str) -> list[RepoSpec]:
    """The repositories of the nodes' base system (``base:`` in airlock.yaml; for a bare release, the
    distribution's vault of it), ``{arch}`` and ``{release}`` expanded."""
    base = manifest.base.get(os_name)
    if base is None:
        return []
    specs = base.repos
    if not specs:
        vault = package_data()["os"][os_name].get("vault")
        if not vault:
            raise ManifestError(f"base: airlock knows no archive of {os_name}'s point releases",
                                hint=f"give base.{os_name}.repos (the release's repositories) and packages")
        specs = [RepoSpec(**r) for r in vault]
    release = base.release or ""
    return [s.model_copy(update={"url": s.url.replace("{release}", release)}) for s in _expand(specs, os_name, arch)]


def _expand(specs: list[RepoSpec], os_name: str, arch: str) -> list[RepoSpec]:
    name = rpm_arch(arch) if family(os_name) == "rpm" else arch
    return [s.model_copy(update={"url": s.url.replace("{arch}", name)}) for s in specs]
