"""``airlock plan``: the complete artifact set an air-gapped install of the manifest needs.

Pure apart from reading the Kubespray tree: manifest in, :class:`Plan` out.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airlock.errors import AirlockError
from airlock.kubespray.inputs import (
    KUBE_TABLES,
    NTP_PLAN_VARS,
    addons,
    known_kube_versions,
    network_plugins,
    shorthand_vars,
)
from airlock.kubespray.selection import downloads_for, packages_for
from airlock.kubespray.source import Source, open_source
from airlock.kubespray.tree import KubesprayTree
from airlock.manifest.loader import LoadedManifest
from airlock.packages import site_packages
from airlock.reference import ImageRef, parse_ref
from airlock.targets import targets


@dataclass(frozen=True)
class PlanFile:
    name: str
    arch: str
    url: str
    checksum: str | None
    kubespray_var: str | None
    path: str


@dataclass(frozen=True)
class PlanImage:
    name: str
    ref: ImageRef
    arch: list[str]


@dataclass
class Plan:
    kubespray_version: str
    kubespray_source: str
    kube_version: str
    arch: list[str]
    files: list[PlanFile] = field(default_factory=list)
    images: list[PlanImage] = field(default_factory=list)
    packages: dict[str, list[str]] = field(default_factory=dict)        # Kubespray's + `packages`
    site_packages: dict[str, list[str]] = field(default_factory=dict)   # what nodes need to use the site
    python_version: str = ""
    python_requirements: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "kubespray": {"version": self.kubespray_version, "source": self.kubespray_source},
            "kube_version": self.kube_version,
            "arch": self.arch,
            "files": [asdict(f) for f in self.files],
            "images": [{**asdict(i), "ref": str(i.ref)} for i in self.images],
            "packages": self.packages,
            "site_packages": self.site_packages,
            "python": {"version": self.python_version, "requirements": self.python_requirements},
        }


def serve_path(url: str) -> str:
    """Where the file server keeps ``url``: upstream host, then the upstream path."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def open_manifest_source(loaded: LoadedManifest, *, transport: Any = None, offline: bool = False,
                         net: Any = None) -> Source:
    m = loaded.manifest
    try:
        return open_source(m.kubespray.version, m.kubespray.source or m.kubespray.default_source(),
                           base_dir=loaded.base_dir, mirrors=m.mirrors, transport=transport, offline=offline,
                           net=net)
    except AirlockError as exc:
        if exc.where is None:  # say which manifest line chose this source
            exc.where = loaded.where("kubespray", "source" if m.kubespray.source else "version")
        raise


def build_plan(loaded: LoadedManifest, *, source: Source | None = None, transport: Any = None) -> Plan:
    m = loaded.manifest
    tree = (source or open_manifest_source(loaded, transport=transport)).tree
    inventory = inventory_vars(loaded, tree)
    _check_kube_version(loaded, tree)

    oses: list[str | None] = list(m.os) or [None]
    files: dict[str, PlanFile] = {}
    images: dict[ImageRef, tuple[str, set[str]]] = {}
    kube_version = ""
    for arch in m.arch:
        for os_name in oses:
            found = downloads_for(tree, inventory, arch, os_name)
            kube_version = found.kube_version
            for f, noarch in found.files:
                files.setdefault(f.url, PlanFile(f.name, "noarch" if noarch else arch, f.url,
                                                 f.checksum or None, f.kubespray_var, serve_path(f.url)))
            for img in found.images:
                images.setdefault(parse_ref(img.ref), (img.name, set()))[1].add(arch)

    for x in m.files:
        files.setdefault(x.url, PlanFile(x.name or x.url.rstrip("/").rsplit("/", 1)[-1], "noarch", x.url,
                                         f"sha256:{x.sha256}" if x.sha256 else None, None, serve_path(x.url)))
    for ref in map(parse_ref, m.images):
        images.setdefault(ref, (ref.short_name, set()))[1].update(m.arch)

    return Plan(
        kubespray_version=m.kubespray.version,
        kubespray_source=m.kubespray.source or m.kubespray.default_source(),
        kube_version=kube_version,
        arch=list(m.arch),
        files=sorted(files.values(), key=lambda f: (f.name, f.arch, f.url)),
        images=[PlanImage(name, ref, sorted(arches)) for ref, (name, arches) in sorted(images.items())],
        packages=_packages(loaded, tree, inventory),
        # chrony for ntp: Kubespray 2.28+ lists it itself, 2.27 installs ntp_package in a task
        site_packages={o: sorted({*_site(o), *(["chrony"] if m.ntp else [])}) for o in m.os},
        python_version=_python_version(loaded),
        python_requirements=_dedupe(tree.requirements() + list(m.python.requirements)),
    )


def inventory_vars(loaded: LoadedManifest, tree: KubesprayTree) -> dict[str, Any]:
    """The user's Kubespray variables (group_vars/all): ``vars`` plus the manifest's shorthands."""
    m = loaded.manifest
    inv: dict[str, Any] = dict(m.vars)
    if m.network_plugin is not None:
        _check_choice(loaded, ("network_plugin",), m.network_plugin, network_plugins(tree), "network_plugin")
    allowed = addons(tree)
    for i, addon in enumerate(m.addons):
        _check_choice(loaded, ("addons", i), addon, allowed, "addon")
    for sh in shorthand_vars(tree, kube_version=m.kube_version, network_plugin=m.network_plugin,
                             container_manager=m.container_manager, addon_names=list(m.addons)):
        if sh.key != "addons" and sh.var in m.vars:
            raise loaded.error(("vars", sh.var), f"{sh.var} is set both in vars and by its own key",
                               hint="keep only one of the two")
        inv[sh.var] = sh.value
    if m.ntp:  # so that the package set holds what Kubespray installs for NTP (chrony)
        for var, value in NTP_PLAN_VARS.items():
            if var in m.vars and m.vars[var] != value:
                raise loaded.error(("vars", var), f"{var} is set in vars and implied by ntp:",
                                   hint=f"drop it from vars (ntp: sets {var}: {value})")
            inv[var] = value
    return inv


def _check_choice(loaded: LoadedManifest, loc: tuple[Any, ...], value: str, allowed: list[str],
                  what: str) -> None:
    if value not in allowed:
        close = difflib.get_close_matches(value, allowed, n=1)
        raise loaded.error(loc, f"unknown {what} {value!r}",
                           hint=(f"did you mean {close[0]!r}? " if close else "") + f"allowed: {', '.join(allowed)}")


def _check_kube_version(loaded: LoadedManifest, tree: KubesprayTree) -> None:
    version = loaded.manifest.kube_version
    if version is None:
        return
    for table in KUBE_TABLES:
        for arch in loaded.manifest.arch:
            known = known_kube_versions(tree, table, arch)
            if version not in known:
                newest = sorted(known, key=_version_key, reverse=True)
                raise loaded.error(
                    ("kube_version",),
                    f"Kubespray {tree.version} has no {table} for kube_version {version} on {arch}",
                    hint=f"use one of: {', '.join(newest)}")


def _packages(loaded: LoadedManifest, tree: KubesprayTree, inventory: dict[str, Any]) -> dict[str, list[str]]:
    """Per OS: what Kubespray's system_packages installs on it, plus `packages`."""
    m = loaded.manifest
    out: dict[str, list[str]] = {}
    for os_name in m.os:
        out[os_name] = sorted(set(packages_for(tree, inventory, m.arch[0], os_name)) | set(m.packages))
    return out


def _site(os_name: str) -> list[str]:
    return sorted(site_packages(os_name))


def package_set(plan: Plan) -> dict[str, list[str]]:
    """What the repositories must hold per OS: Kubespray's packages, `packages` and the site packages."""
    return {o: sorted(set(p) | set(plan.site_packages.get(o, []))) for o, p in plan.packages.items()}


def _python_version(loaded: LoadedManifest) -> str:
    m = loaded.manifest
    if m.python.version:
        return m.python.version
    if m.admin and m.admin.python:
        return m.admin.python
    if m.os:  # the admin host that runs Kubespray is taken to run the first listed OS
        return str(targets().os[m.os[0]]["python"])
    return targets().default_python


def _dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", v))

