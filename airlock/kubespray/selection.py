"""What one kind of node downloads and installs, as Kubespray decides it: the interface the planner uses.

``downloads_for`` runs Kubespray's download selection for an arch and OS and marks files whose URL
does not change with the arch (one ``noarch`` artifact then); ``packages_for`` is the OS package
list of the ``system_packages`` role (``kubernetes/preinstall`` in 2.27).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airlock.errors import AirlockError
from airlock.kubespray.context import Target, make_evaluator
from airlock.kubespray.downloads import FileDownload, ImageDownload, select_downloads
from airlock.kubespray.evaluator import Evaluator
from airlock.kubespray.packages import select_packages
from airlock.kubespray.releases import plain_version
from airlock.kubespray.tree import DOWNLOAD_ROLES, PACKAGE_ROLES, KubesprayTree
from airlock.targets import targets


@dataclass(frozen=True)
class TargetDownloads:
    kube_version: str                 # as airlock records it: without the v
    files: list[tuple[FileDownload, bool]]   # (file, noarch)
    images: list[ImageDownload]


def downloads_for(tree: KubesprayTree, inventory: Mapping[str, Any], arch: str,
                  os_name: str | None) -> TargetDownloads:
    ev = make_evaluator(tree, DOWNLOAD_ROLES, inventory, Target(arch, os_name))
    probe_arch = next(a for a in targets().arches if a != arch)
    probe = make_evaluator(tree, DOWNLOAD_ROLES, inventory, Target(probe_arch, os_name))
    files, images = select_downloads(ev)
    return TargetDownloads(
        kube_version=plain_version(str(ev.var("kube_version"))),
        files=[(f, _probe_url(probe, f.name) == f.url) for f in files],
        images=images,
    )


def packages_for(tree: KubesprayTree, inventory: Mapping[str, Any], arch: str, os_name: str) -> list[str]:
    return select_packages(make_evaluator(tree, PACKAGE_ROLES, inventory, Target(arch, os_name)))


def _probe_url(probe: Evaluator, name: str) -> str | None:
    """The file's URL for the other arch; None when it does not template there (then it is per arch)."""
    raw = probe.raw("downloads").get(name)
    if not raw or "url" not in raw:
        return None
    try:
        return str(probe.template(raw["url"], label=f"downloads.{name}.url"))
    except AirlockError:  # the other arch may lack a checksum/version
        return None
