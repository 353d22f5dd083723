"""``airlock diff``: what changed between two locks, for a reviewer.

Changes are grouped by kind (Kubespray, files, images, RPM/DEB packages, wheels) as bumps (same
name, another version or tag), added, removed, and content changes (same name and version or tag,
another digest: a moved tag), which are listed first and loudly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from airlock.lockfile import Lock
from airlock.lockfile.model import DebPin, RepoKeyPin, RpmPin, WheelPin

_VERSION = re.compile(r"v?\d+(?:\.\d+)+(?:[-+~][0-9A-Za-z.]+)?")


@dataclass
class Change:
    kind: str
    name: str
    old: str | None
    new: str | None
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "old": self.old, "new": self.new, "detail": self.detail}


@dataclass
class LockDiff:
    kubespray: tuple[str, str] | None = None
    kube_version: tuple[str, str] | None = None
    moved: list[Change] = field(default_factory=list)
    bumped: list[Change] = field(default_factory=list)
    added: list[Change] = field(default_factory=list)
    removed: list[Change] = field(default_factory=list)
    old_bytes: int = 0
    new_bytes: int = 0
    delta_bytes: int = 0

    @property
    def equal(self) -> bool:
        return not (self.kubespray or self.kube_version or self.moved or self.bumped or self.added or self.removed)


def _version_change(old: str, new: str) -> str:
    """The version-like part that differs between two refs/URLs, e.g. ``v1.33.7 -> v1.34.3``."""
    a, b = _VERSION.findall(old), _VERSION.findall(new)
    for x, y in zip(a, b):
        if x != y:
            return f"{x} -> {y}"
    return f"{old} -> {new}"


def _entries(lock: Lock) -> dict[str, dict[tuple[str, ...], tuple[str, str, int, str]]]:
    """kind -> key -> (version-ish label, digest, size, display)."""
    out: dict[str, dict[tuple[str, ...], tuple[str, str, int, str]]] = {
        "files": {}, "images": {}, "packages": {}, "wheels": {}}
    for f in lock.file:
        out["files"][(f.name, f.arch)] = (f.url, f.sha256, f.size, f"{f.name} ({f.arch})")
    for i in lock.image:
        size = sum(p.size for p in i.platforms)
        out["images"][(i.name,)] = (i.ref.canonical, i.digest, size, i.name)
    for r in lock.rpm:
        evr = f"{r.epoch}:{r.version}-{r.release}" if r.epoch else f"{r.version}-{r.release}"
        out["packages"][("rpm", r.os, r.name, r.arch)] = (evr, r.sha256, r.size, f"rpm {r.name}.{r.arch} ({r.os})")
    for d in lock.deb:
        out["packages"][("deb", d.os, d.name, d.arch)] = (d.version, d.sha256, d.size, f"deb {d.name}:{d.arch} ({d.os})")
    for k in lock.repo_key:  # a rotated or swapped signing key must show in review
        out["packages"][("repo-key", k.os, k.repo)] = (k.url, k.sha256, k.size, f"signing key of repo {k.repo} ({k.os})")
    for w in lock.wheel:
        key = (w.name, ",".join(w.platforms))
        out["wheels"][key] = (w.version, w.sha256, w.size, f"{w.name} [{', '.join(w.platforms)}]")
    # airlock's own runtime for the admin host (bootstrap/): reviewed like Kubespray's wheels.
    for w in lock.bootstrap_wheel:
        out["wheels"][("bootstrap", w.name)] = (w.version, w.sha256, w.size,
                                                f"{w.name} [bootstrap {', '.join(w.platforms)}]")
    for r in lock.bootstrap_rpm:
        evr = f"{r.epoch}:{r.version}-{r.release}" if r.epoch else f"{r.version}-{r.release}"
        out["packages"][("bootstrap-rpm", r.name, r.arch)] = (evr, r.sha256, r.size,
                                                              f"rpm {r.name}.{r.arch} (bootstrap)")
    for d in lock.bootstrap_deb:
        out["packages"][("bootstrap-deb", d.name, d.arch)] = (d.version, d.sha256, d.size,
                                                              f"deb {d.name}:{d.arch} (bootstrap)")
    return out


def _digests(lock: Lock) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for f in lock.file:
        sizes[f.sha256] = f.size
    for i in lock.image:
        for p in i.platforms:
            sizes[p.digest] = p.size
    pinned: list[RpmPin | DebPin | WheelPin | RepoKeyPin] = [*lock.rpm, *lock.deb, *lock.wheel, *lock.bootstrap_wheel,
                                                             *lock.bootstrap_rpm, *lock.bootstrap_deb, *lock.repo_key]
    for x in pinned:
        sizes[x.sha256] = x.size
    return sizes


def diff_locks(old: Lock, new: Lock) -> LockDiff:
    d = LockDiff()
    if old.kubespray.version != new.kubespray.version:
        d.kubespray = (old.kubespray.version, new.kubespray.version)
    elif old.kubespray.sha256 != new.kubespray.sha256:
        d.moved.append(Change("kubespray", "kubespray", old.kubespray.sha256, new.kubespray.sha256,
                              "same release, other source bytes"))
    if (old.kubespray.kube_version or "") != (new.kubespray.kube_version or ""):
        d.kube_version = (old.kubespray.kube_version or "?", new.kubespray.kube_version or "?")
    olds, news = _entries(old), _entries(new)
    for kind in ("files", "images", "packages", "wheels"):
        a, b = olds[kind], news[kind]
        for key in sorted(set(a) | set(b)):
            if key not in b:
                d.removed.append(Change(kind, a[key][3], a[key][0], None))
            elif key not in a:
                d.added.append(Change(kind, b[key][3], None, b[key][0]))
            elif a[key][0] != b[key][0]:
                d.bumped.append(Change(kind, b[key][3], a[key][0], b[key][0], _version_change(a[key][0], b[key][0])))
            elif a[key][1] != b[key][1]:
                label = "tag moved upstream" if kind == "images" else "same version, other bytes"
                d.moved.append(Change(kind, b[key][3], a[key][1], b[key][1], f"{b[key][0]}: {label}"))
    old_sizes, new_sizes = _digests(old), _digests(new)
    d.old_bytes, d.new_bytes = sum(old_sizes.values()), sum(new_sizes.values())
    d.delta_bytes = sum(s for k, s in new_sizes.items() if k not in old_sizes)
    return d
