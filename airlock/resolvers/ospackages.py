"""Resolve every OS of the manifest: one closure per (OS, arch), reusing the lock's when unchanged."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from airlock.lockfile.model import DebIndexPin, DebPin, Lock, RpmPin
from airlock.manifest.model import Manifest
from airlock.net.http import Net
from airlock.packages import family, repos_for, rpm_arch
from airlock.resolvers.debs import DebRequest, resolve_debs
from airlock.resolvers.rpms import RpmRequest, compute_missing_sha256, resolve_rpms

# The selection rules a closure was solved with; a lock solved under older rules is re-solved (2: dnf's
# obsoletes of requested names, apt's alternatives, dpkg version ordering).
RULES = 2


def input_hash(manifest: Manifest, os_name: str, packages: list[str]) -> str:
    """What a closure depends on: the package set, the repositories per arch, weak deps, the rules."""
    doc = {"packages": sorted(packages), "weak_deps": manifest.weak_deps, "rules": RULES,
           "repos": {a: [r.model_dump(mode="json") for r in repos_for(manifest, os_name, a)] for a in manifest.arch}}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def resolve_packages(manifest: Manifest, plan_packages: dict[str, list[str]], old: Lock | None, net: Net,
                     *, upgrade: bool, progress: Callable[[str, str], None] | None = None
                     ) -> tuple[list[RpmPin], list[DebPin], list[DebIndexPin], dict[str, str]]:
    rpms: dict[tuple[Any, ...], RpmPin] = {}
    debs: dict[tuple[Any, ...], DebPin] = {}
    indexes: dict[tuple[Any, ...], DebIndexPin] = {}
    inputs: dict[str, str] = {}
    for os_name, packages in sorted(plan_packages.items()):
        digest = input_hash(manifest, os_name, packages)
        inputs[os_name] = digest
        if old is not None and not upgrade and old.packages_inputs.get(os_name) == digest:
            for r in old.rpm:
                if r.os == os_name:
                    rpms[(r.os, r.name, r.epoch, r.version, r.release, r.arch)] = r
            for d in old.deb:
                if d.os == os_name:
                    debs[(d.os, d.name, d.version, d.arch)] = d
            for i in old.deb_index:
                if i.os == os_name:
                    indexes[(i.os, i.arch, i.repo, i.url)] = i
            continue
        for arch in manifest.arch:
            repos = tuple(repos_for(manifest, os_name, arch))
            if family(os_name) == "rpm":
                found = resolve_rpms(net, manifest.mirrors, RpmRequest(os_name, rpm_arch(arch), tuple(packages),
                                                                       repos, manifest.weak_deps))
                for r in compute_missing_sha256(net, manifest.mirrors, found):
                    rpms[(r.os, r.name, r.epoch, r.version, r.release, r.arch)] = r
            else:
                found_debs, found_idx = resolve_debs(net, manifest.mirrors, DebRequest(
                    os_name, arch, tuple(packages), repos, manifest.weak_deps))
                for d in found_debs:
                    debs[(d.os, d.name, d.version, d.arch)] = d
                for i in found_idx:
                    indexes[(i.os, i.arch, i.repo, i.url)] = i
            if progress:
                progress("packages", f"{os_name} {arch}")
    return list(rpms.values()), list(debs.values()), list(indexes.values()), inputs
