"""Resolve every OS of the manifest: one closure per (OS, arch), reusing the lock's when unchanged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airlock.digest import canonical_sha256
from airlock.errors import ManifestError, SignatureError
from airlock.lockfile.model import DebIndexPin, DebPin, Lock, RepoKeyPin, RpmPin
from airlock.manifest.model import Manifest, RepoSpec
from airlock.net.http import Net
from airlock.packages import base_repos_for, family, repos_for, rpm_arch
from airlock.resolvers.debs import DebRequest, resolve_debs
from airlock.resolvers.keys import fetch_key
from airlock.resolvers.rpms import RpmRequest, compute_missing_sha256, minimal_install, resolve_rpms

# The selection rules a closure was solved with; a lock solved under older rules is re-solved (2: dnf's
# obsoletes of requested names, apt's alternatives, dpkg version ordering).
RULES = 2


def input_hash(manifest: Manifest, os_name: str, packages: list[str]) -> str:
    """What a closure depends on: the package set, the repositories per arch, weak deps, the rules."""
    doc: dict[str, Any] = {
        "packages": sorted(packages), "weak_deps": manifest.weak_deps, "rules": RULES,
        "repos": {a: [r.model_dump(mode="json") for r in repos_for(manifest, os_name, a)] for a in manifest.arch}}
    if os_name in manifest.base:
        doc["base"] = manifest.base[os_name].model_dump(mode="json")
    return canonical_sha256(doc)


class Keys:
    """The signing keys of the repositories, fetched once per URL and pinned: a key that differs from the one
    the old lock pins is refused unless upgrading (a rotated key is a decision a reviewer sees in the diff)."""

    def __init__(self, net: Net, manifest: Manifest, old: Lock | None, upgrade: bool):
        self.net, self.mirrors, self.upgrade = net, manifest.mirrors, upgrade
        self.old = {(k.os, k.repo, k.url): k for k in (old.repo_key if old else [])}
        self.pins: dict[tuple[str, str, str], RepoKeyPin] = {}
        self.fetched: dict[str, tuple[RepoKeyPin, bytes]] = {}  # url -> (pin, key): once per run

    def of(self, os_name: str, specs: list[RepoSpec], *, pin: bool = True) -> dict[str, bytes]:
        out = {}
        for spec in specs:
            if spec.gpgkey is None or not spec.gpgcheck:
                continue
            if spec.gpgkey not in self.fetched:
                self.fetched[spec.gpgkey] = fetch_key(self.net, self.mirrors, os_name, spec.name, spec.gpgkey)
            first, data = self.fetched[spec.gpgkey]
            got = first.model_copy(update={"os": os_name, "repo": spec.name})
            before = self.old.get((os_name, spec.name, spec.gpgkey))
            if before is not None and before.sha256 != got.sha256 and not self.upgrade:
                raise SignatureError(f"signing key of repo {spec.name} ({os_name}): {spec.gpgkey} now has sha256 "
                                     f"{got.sha256}, the lock pins {before.sha256}",
                                     hint="if the distribution rotated its key, check the new key and run "
                                          "`airlock resolve --upgrade`; otherwise the server or a mirror is not "
                                          "faithful")
            if pin:
                self.pins[(os_name, spec.name, spec.gpgkey)] = got
            out[spec.name] = data
        return out


def _minimal_install(net: Net, manifest: Manifest, os_name: str, base_repos: tuple[RepoSpec, ...]) -> tuple[str, ...]:
    """``base:`` without packages: the release's minimal install (rpm: its comps core group)."""
    if family(os_name) != "rpm":
        raise ManifestError(f"base: {os_name}'s minimal install cannot be read from its repositories",
                            hint=f"list the nodes' packages in base.{os_name}.packages (dpkg-query -W -f '${{Package}}\\n')")
    return tuple(minimal_install(net, manifest.mirrors, base_repos, f"base system of {os_name}"))


def reused_os(old: Lock, os_name: str) -> dict[str, list[Any]]:
    """The old lock's pins for one OS: its packages, indexes and repository keys."""
    return {"rpm": [r for r in old.rpm if r.os == os_name], "deb": [d for d in old.deb if d.os == os_name],
            "deb_index": [i for i in old.deb_index if i.os == os_name],
            "repo_key": [k for k in old.repo_key if k.os == os_name]}


def resolve_os(manifest: Manifest, os_name: str, packages: list[str], keys: Keys, net: Net,
               progress: Callable[[str, str], None] | None = None) -> dict[str, list[Any]]:
    """One OS's closure, per arch of the manifest; a package found for several arches is pinned once."""
    rpms: dict[tuple[Any, ...], RpmPin] = {}
    debs: dict[tuple[Any, ...], DebPin] = {}
    indexes: dict[tuple[Any, ...], DebIndexPin] = {}
    base = manifest.base.get(os_name)
    base_names = tuple(base.packages) if base else ()
    for arch in manifest.arch:
        repos = tuple(repos_for(manifest, os_name, arch))
        base_repos = tuple(base_repos_for(manifest, os_name, arch))
        if base_repos and not base_names:
            base_names = _minimal_install(net, manifest, os_name, base_repos)
        repo_keys = keys.of(os_name, list(repos))
        if family(os_name) == "rpm":
            found = resolve_rpms(net, manifest.mirrors, RpmRequest(
                os_name, rpm_arch(arch), tuple(packages), repos, manifest.weak_deps, base_repos=base_repos,
                base_packages=base_names))
            for r in compute_missing_sha256(net, manifest.mirrors, found):
                rpms[(r.os, r.name, r.epoch, r.version, r.release, r.arch)] = r
        else:
            found_debs, found_idx = resolve_debs(net, manifest.mirrors, DebRequest(
                os_name, arch, tuple(packages), repos, manifest.weak_deps, base_repos=base_repos,
                base_packages=base_names, keys=repo_keys,
                base_keys=keys.of(os_name, list(base_repos), pin=False)))
            for d in found_debs:
                debs[(d.os, d.name, d.version, d.arch)] = d
            for i in found_idx:
                indexes[(i.os, i.arch, i.repo, i.url)] = i
        if progress:
            progress("packages", f"{os_name} {arch}")
    return {"rpm": list(rpms.values()), "deb": list(debs.values()), "deb_index": list(indexes.values()),
            "repo_key": [k for (o, _, _), k in keys.pins.items() if o == os_name]}
