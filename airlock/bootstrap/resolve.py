"""Pin airlock's own runtime for the admin host: its wheels (with pip's) and, where the OS's python3
is too old, the interpreter packages from the OS repositories. Reused while its inputs are unchanged
(:class:`airlock.resolvers.kinds.BootstrapRuntime`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from airlock.bootstrap.admin import AdminHost
from airlock.bootstrap.selfwheel import DIST_NAME, airlock_version, runtime_requirements
from airlock.digest import canonical_sha256
from airlock.errors import WheelResolutionError
from airlock.lockfile.model import BootstrapPin, DebIndexPin, DebPin, Lock, RpmPin, WheelPin
from airlock.manifest.model import Manifest
from airlock.net.http import Net
from airlock.packages import repos_for, rpm_arch
from airlock.resolvers.debs import DebRequest, resolve_debs
from airlock.resolvers.keys import fetch_key
from airlock.resolvers.pypi import Index
from airlock.resolvers.rpms import RpmRequest, compute_missing_sha256, resolve_rpms
from airlock.resolvers.wheels import Target, resolve_wheels

PYPI = "https://pypi.org/simple/"
INPUT_KEY = "bootstrap"


@dataclass
class BootstrapLock:
    pin: BootstrapPin
    wheel: list[WheelPin] = field(default_factory=list)
    rpm: list[RpmPin] = field(default_factory=list)
    deb: list[DebPin] = field(default_factory=list)
    deb_index: list[DebIndexPin] = field(default_factory=list)


def bootstrap_requirements() -> list[str]:
    """airlock's runtime requirements plus pip (install.sh and apply run pip from its wheel)."""
    return sorted(runtime_requirements() + ["pip"])


def input_hash(manifest: Manifest, host: AdminHost) -> str:
    doc = {"host": host.__dict__, "requirements": bootstrap_requirements(), "airlock": airlock_version(),
           "index": manifest.python.index_url or PYPI, "weak_deps": manifest.weak_deps,
           "repos": [r.model_dump(mode="json") for r in repos_for(manifest, host.os, host.arch)]
           if host.interpreter_packages else []}
    return canonical_sha256(doc)


def from_lock(lock: Lock) -> BootstrapLock | None:
    if lock.bootstrap is None:
        return None
    return BootstrapLock(lock.bootstrap, list(lock.bootstrap_wheel), list(lock.bootstrap_rpm),
                         list(lock.bootstrap_deb), list(lock.bootstrap_deb_index))


def resolve_bootstrap(manifest: Manifest, host: AdminHost, net: Net) -> BootstrapLock:
    index = Index(net, manifest.python.index_url or PYPI, manifest.mirrors)
    wheels = resolve_wheels(index, bootstrap_requirements(), [Target(host.python, host.glibc, rpm_arch(host.arch))])
    sdists = [w.filename for w in wheels if w.sdist]
    if sdists:
        # The admin host has no compiler and no network: a source distribution cannot be installed there.
        raise WheelResolutionError(f"airlock's runtime for {host.platform} has no wheel for: {', '.join(sdists)}",
                                   hint="choose an admin python (admin: {python: ...}) these projects publish "
                                        "wheels for")
    out = BootstrapLock(BootstrapPin(os=host.os, arch=host.arch, python=host.python, glibc=host.glibc,
                                     platform=host.platform, airlock=airlock_version(),
                                     requirements=bootstrap_requirements(),
                                     interpreter=host.interpreter_packages), wheels)
    if host.interpreter_packages:
        _interpreter(manifest, host, net, out)
    return out


def _interpreter(manifest: Manifest, host: AdminHost, net: Net, out: BootstrapLock) -> None:
    repos = tuple(repos_for(manifest, host.os, host.arch))
    if host.family == "rpm":
        found = resolve_rpms(net, manifest.mirrors, RpmRequest(host.os, rpm_arch(host.arch),
                                                               tuple(host.interpreter_packages), repos,
                                                               manifest.weak_deps))
        out.rpm = list(compute_missing_sha256(net, manifest.mirrors, found))
    else:
        # The Release files are verified against the repositories' keys as for the nodes' packages.
        keys = {r.name: fetch_key(net, manifest.mirrors, host.os, r.name, r.gpgkey)[1] for r in repos
                if r.gpgkey is not None and r.gpgcheck}
        debs, indexes = resolve_debs(net, manifest.mirrors, DebRequest(host.os, host.arch,
                                                                       tuple(host.interpreter_packages), repos,
                                                                       manifest.weak_deps, keys=keys))
        out.deb, out.deb_index = list(debs), list(indexes)


__all__ = ["DIST_NAME", "BootstrapLock", "from_lock", "input_hash", "resolve_bootstrap"]
