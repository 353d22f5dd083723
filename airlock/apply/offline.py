"""offline.yml: Kubespray inventory variables that point every download at the site, proven complete.

Derivation (from Kubespray's own defaults, not from a list):
- ``files_repo`` is the site's ``/files`` URL; every default ``*_url`` that is a bare upstream origin
  (``github_url: https://github.com``, ``dl_k8s_io_url``...) becomes ``<files_repo>/<host>``;
- every default ``*_image_repo`` that is a bare registry host (``kube_image_repo: registry.k8s.io``...)
  becomes ``<registry>/<host>``;
- then Kubespray is evaluated with these variables for every arch and OS of the lock: a file whose
  URL is still not the site's gets an override of its ``*_download_url``-style variable (Kubespray's
  own template with the upstream origin replaced, so it stays correct for every arch); an image whose
  ref is still not the site's gets its repo variable overridden. If anything is still not served,
  apply fails naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airlock.errors import AirlockError
from airlock.kubespray.context import Target, make_evaluator
from airlock.kubespray.downloads import select_downloads
from airlock.kubespray.tree import DOWNLOAD_ROLES, KubesprayTree
from airlock.lockfile import Lock

_ORIGIN = re.compile(r"^https?://[^/{}\s]+$")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$")


class IncompleteSiteError(AirlockError):
    """Kubespray, with offline.yml applied, would still download something the site does not serve."""


@dataclass(frozen=True)
class Site:
    files_repo: str        # http://ADMIN:PORT/files
    registry: str          # ADMIN:PORT or registry.example[/prefix]
    registry_plain: bool   # plain HTTP (serve, or --insecure-registry)


def base_variables(tree: KubesprayTree, site: Site) -> dict[str, Any]:
    defaults, _ = tree.layers(DOWNLOAD_ROLES)
    out: dict[str, Any] = {"files_repo": site.files_repo}
    for name, value in defaults.items():
        if name.endswith("_url") and isinstance(value, str) and _ORIGIN.match(value):
            out[name] = f"{site.files_repo}/{urlsplit(value).netloc}"
        if name.endswith("_image_repo") and isinstance(value, str) and _HOST.match(value):
            out[name] = f"{site.registry}/{value}"
    return out


def offline_variables(tree: KubesprayTree, lock: Lock, user_vars: dict[str, Any], arches: list[str],
                      oses: list[str | None], site: Site) -> dict[str, Any]:
    """The variables of offline.yml, checked by evaluating Kubespray with them."""
    offline = base_variables(tree, site)
    defaults, _ = tree.layers(DOWNLOAD_ROLES)
    for _round in range(3):
        problems = _unserved(tree, lock, user_vars, offline, arches, oses, site)
        if not problems:
            break
        for kind, key, raw, upstream in problems:
            override = _override(kind, raw, upstream, defaults, site)
            if override is None:
                continue
            offline[override[0]] = override[1]
    problems = _unserved(tree, lock, user_vars, offline, arches, oses, site)
    if problems:
        kind, key, _raw, upstream = problems[0]
        raise IncompleteSiteError(f"{kind} {key} would still be downloaded from {upstream}",
                                  hint="the bundle does not hold it, or its variable cannot be redirected; "
                                       "re-resolve and re-fetch")
    offline["containerd_registries_mirrors"] = [{
        "prefix": site.registry.split("/", 1)[0],
        "mirrors": [{"host": f"{'http' if site.registry_plain else 'https'}://{site.registry.split('/', 1)[0]}",
                     "capabilities": ["pull", "resolve"], "skip_verify": site.registry_plain}],
    }]
    return dict(sorted(offline.items()))


def _unserved(tree: KubesprayTree, lock: Lock, user_vars: dict[str, Any], offline: dict[str, Any],
              arches: list[str], oses: list[str | None], site: Site) -> list[tuple[str, str, Any, str]]:
    served_files = {f"{site.files_repo}/{f.path}" for f in lock.file}
    served_images = {f"{site.registry}/{i.ref}" for i in lock.image}
    by_name = {(f.name, f.arch): f for f in lock.file} | {(f.name, "noarch"): f for f in lock.file}
    images = {i.name: i for i in lock.image}
    problems = []
    inventory = {**user_vars, **offline}
    for arch in arches:
        for os_name in oses:
            ev = make_evaluator(tree, DOWNLOAD_ROLES, inventory, Target(arch, os_name))
            files, imgs = select_downloads(ev)
            raw = ev.raw("downloads")
            for f in files:
                if f.url not in served_files:
                    pin = by_name.get((f.name, arch)) or by_name.get((f.name, "noarch"))
                    problems.append(("file", f"{f.name} ({arch})", raw.get(f.name, {}).get("url"),
                                     pin.url if pin else f.url))
            for img in imgs:
                if img.ref not in served_images:
                    pin = images.get(img.name)
                    key = img.name if img.name in raw else f"kubeadm_{img.name}"
                    problems.append(("image", img.name, raw.get(key, {}).get("repo"), pin.ref if pin else img.ref))
    return problems


def _override(kind: str, raw: Any, upstream: str, defaults: dict[str, Any], site: Site) -> tuple[str, str] | None:
    """(variable, value) that redirects one download, or None."""
    if not isinstance(raw, str):
        return None
    m = re.fullmatch(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", raw.strip())
    if not m:
        return None
    var = m.group(1)
    if kind == "file":
        template = defaults.get(var)
        origin = f"{urlsplit(upstream).scheme}://{urlsplit(upstream).netloc}"
        if isinstance(template, str) and template.startswith(origin):
            return var, f"{site.files_repo}/{urlsplit(upstream).netloc}{template[len(origin):]}"
        return None
    repo = upstream.rsplit("@", 1)[0]
    repo = repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo
    return var, f"{site.registry}/{repo}"


def render(offline: dict[str, Any], bundle_lock_sha256: str) -> bytes:
    import yaml

    header = ("# Generated by `airlock apply` for the bundle of lock sha256:" + bundle_lock_sha256 + ".\n"
              "# Do not edit: re-run `airlock apply` to regenerate. Kubespray reads it as group_vars/all.\n")
    return (header + yaml.safe_dump(offline, sort_keys=True, default_flow_style=False, width=1000)).encode()
