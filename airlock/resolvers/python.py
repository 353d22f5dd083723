"""The admin host's Kubespray venv: resolve its wheels once per (Python, arch), reuse when unchanged."""

from __future__ import annotations

from airlock.digest import canonical_sha256
from airlock.lockfile.model import WheelPin
from airlock.manifest.model import Manifest
from airlock.net.http import Net
from airlock.packages import rpm_arch
from airlock.resolvers.pypi import Index
from airlock.resolvers.wheels import Target, resolve_wheels
from airlock.targets import targets

PYPI = "https://pypi.org/simple/"


def glibc_for(manifest: Manifest) -> str:
    """The admin host is taken to run the first listed OS (as for its Python version)."""
    return str(targets().os[manifest.os[0]]["glibc"]) if manifest.os else targets().default_glibc


def python_targets(manifest: Manifest, python: str) -> list[Target]:
    return [Target(python, glibc_for(manifest), rpm_arch(a)) for a in manifest.arch]


def input_hash(manifest: Manifest, python: str, requirements: list[str]) -> str:
    doc = {"requirements": requirements, "python": python, "glibc": glibc_for(manifest),
           "arch": list(manifest.arch), "index": manifest.python.index_url or PYPI}
    return canonical_sha256(doc)


def resolve_python(manifest: Manifest, python: str, requirements: list[str], net: Net) -> list[WheelPin]:
    index = Index(net, manifest.python.index_url or PYPI, manifest.mirrors)
    return resolve_wheels(index, requirements, python_targets(manifest, python))
