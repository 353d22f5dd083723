"""The Kubespray inventory variables that point every download at a site, and their completeness proof.

Derivation (from the release's own defaults, not from a list):
- ``files_repo`` is the site's ``/files`` URL; every default ``*_url`` that is a bare upstream origin
  (``github_url: https://github.com``, ``dl_k8s_io_url``...) becomes ``<files_repo>/<host>``;
- every default ``*_image_repo`` that is a bare registry host (``kube_image_repo: registry.k8s.io``...)
  becomes ``<registry>/<host>``;
- then Kubespray is evaluated with these variables for every arch and OS of the lock: a file whose
  URL is still not the site's gets an override of the variable the lock recorded for it
  (``kubespray_var``, e.g. ``kubeadm_download_url``: Kubespray's own template with the upstream
  origin replaced, so it stays right for every arch); an image whose ref is still not the site's gets
  its repo variable overridden. If anything is still not served, :class:`IncompleteSiteError`.
Plus the site's package repositories (``yum_repo``, ``debian_repo``/``ubuntu_repo``), its Python
index (``pyrepo_index``), its registry for the node's runtime (containerd, CRI-O or Docker: see
:func:`runtime_vars`) and, when airlock.yaml has ``ntp:``, Kubespray's NTP variables (:func:`ntp_vars`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from airlock.errors import IncompleteSiteError, KubesprayError
from airlock.kubespray.context import Target, make_evaluator
from airlock.kubespray.downloads import select_downloads
from airlock.kubespray.evaluator import Evaluator
from airlock.kubespray.inputs import NTP_PLAN_VARS
from airlock.kubespray.tree import DOWNLOAD_ROLES, KubesprayTree
from airlock.reference import parse_ref

if TYPE_CHECKING:  # only annotations here: importing the lock models costs `airlock plan` ~40 ms
    from airlock.lockfile import Lock

_ORIGIN = re.compile(r"^https?://[^/{}\s]+$")
_HOST = re.compile(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?$")


class SiteAddress(Protocol):
    """Where a site serves things (airlock.apply.offline.Site)."""

    @property
    def files_repo(self) -> str: ...      # http://ADMIN:PORT/files

    @property
    def registry(self) -> str: ...        # ADMIN:PORT or registry.example[/prefix]

    @property
    def registry_plain(self) -> bool: ...  # plain HTTP

    @property
    def registry_ca(self) -> str | None: ...  # TLS: the path on nodes of the registry's CA, when not the OS's store


def base_variables(tree: KubesprayTree, site: SiteAddress) -> dict[str, Any]:
    defaults, _ = tree.layers(DOWNLOAD_ROLES)
    out: dict[str, Any] = {"files_repo": site.files_repo}
    for name, value in defaults.items():
        if name.endswith("_url") and isinstance(value, str) and _ORIGIN.match(value):
            out[name] = f"{site.files_repo}/{urlsplit(value).netloc}"
        if name.endswith("_image_repo") and isinstance(value, str) and _HOST.match(value):
            out[name] = f"{site.registry}/{value}"
    return out


def offline_variables(tree: KubesprayTree, lock: Lock, user_vars: dict[str, Any], arches: list[str],
                      oses: list[str | None], site: SiteAddress) -> dict[str, Any]:
    """The download variables of offline.yml, checked by evaluating Kubespray with them."""
    offline = base_variables(tree, site)
    defaults, _ = tree.layers(DOWNLOAD_ROLES)
    for _round in range(3):
        problems = _unserved(tree, lock, user_vars, offline, arches, oses, site)
        if not problems:
            break
        for problem in problems:
            override = _override(problem, defaults, site)
            if override is not None:
                offline[override[0]] = override[1]
    problems = _unserved(tree, lock, user_vars, offline, arches, oses, site)
    if problems:
        first = problems[0]
        raise IncompleteSiteError(f"{first.kind} {first.key} would still be downloaded from {first.upstream}",
                                  hint="the bundle does not hold it, or its variable cannot be redirected; "
                                       "re-resolve and re-fetch")
    offline.update(runtime_vars(tree, site, str(user_vars.get("container_manager") or "containerd"),
                                lock_upstreams(lock)))
    return dict(sorted(offline.items()))


def site_variables(tree: KubesprayTree, lock: Lock, user_vars: dict[str, Any], arches: list[str],
                   oses: list[str | None], site: SiteAddress, *, ntp_servers: list[str]) -> dict[str, Any]:
    """Everything offline.yml sets, sorted: the downloads (proven complete by :func:`offline_variables`),
    the package repositories, the Python index when the lock has wheels, and NTP when ``ntp_servers``."""
    out = offline_variables(tree, lock, user_vars, arches, oses, site)
    out.update(repo_vars(lock, site))
    if lock.wheel:  # for tools that pip-install on nodes; Kubespray's own venv uses node/pip.conf
        out.update(pypi_vars(site))
    out.update(ntp_vars(tree, ntp_servers))
    return dict(sorted(out.items()))


def node_registries(tree: KubesprayTree, lock: Lock, site: SiteAddress) -> list[dict[str, Any]]:
    """The registry entries a node not installed by Kubespray gets (CRI-O/podman): what Kubespray's
    CRI-O role would be given, each ``{prefix, location, insecure, blocked, mirrors: [{location, insecure}]}``."""
    return list(runtime_vars(tree, site, "crio", lock_upstreams(lock))["crio_registries"])


def containerd_mirror_vars(site: SiteAddress) -> dict[str, Any]:
    host = site.registry.split("/", 1)[0]
    mirror: dict[str, Any] = {"host": f"{'http' if site.registry_plain else 'https'}://{host}",
                              "capabilities": ["pull", "resolve"]}
    if site.registry_plain:
        mirror["skip_verify"] = True
    elif site.registry_ca:  # hosts.toml.j2 renders ``ca``: containerd verifies the site with that CA only
        mirror["ca"] = site.registry_ca
    return {"containerd_registries_mirrors": [{"prefix": host, "mirrors": [mirror]}]}


# Where each release declares the variables below (every release from 2.27 to master does).
CRIO_ROLE, DOCKER_ROLES, NTP_ROLE = "container-engine/cri-o", ("kubespray_defaults", "container-engine/docker"), \
    "kubernetes/preinstall"


def lock_upstreams(lock: Lock) -> list[str]:
    """The upstream registries of the lock's images (``registry.k8s.io``, ``quay.io``...)."""
    return sorted({i.ref.registry for i in lock.image})


def runtime_vars(tree: KubesprayTree, site: SiteAddress, container_manager: str,
                 upstreams: list[str]) -> dict[str, Any]:
    """The registry settings of the node's container runtime, in the variables its Kubespray role reads.

    Every image ref in offline.yml already names the site (``SITE/registry.k8s.io/...``), so a runtime
    only needs to reach the site: over plain HTTP that means an insecure entry; over TLS no insecure entry
    at all, and when nodes hold the site's own CA (``site.registry_ca``) containerd's mirror names it
    (``ca``); CRI-O's and Docker's roles have no such variable: they read ``certs.d/<host:port>/ca.crt``,
    which node setup (node/setup.sh, node/site.yml) installs.
    containerd always gets its mirror (Kubespray's default runtime, and harmless otherwise). CRI-O
    (``crio_registries``, rendered by the role's registry.conf.j2) also gets each upstream registry of
    the lock mirrored at ``SITE/<upstream>``, so an unqualified-by-site name still pulls from the site.
    Docker gets ``docker_insecure_registries`` for plain HTTP; ``docker_registry_mirrors`` stays empty:
    dockerd mirrors only Docker Hub and refuses a mirror URL with a path, and the site serves Docker Hub
    at ``/v2/docker.io/``, so a mirror entry could never work.
    """
    out: dict[str, Any] = containerd_mirror_vars(site)
    host = site.registry.split("/", 1)[0]
    if container_manager == "crio":
        _require(tree, (CRIO_ROLE,), "crio_registries")
        plain = site.registry_plain
        # ``unqualified`` on every entry: the role's unqualified.conf.j2 reads it, and Ansible's undefined is strict
        entries: list[dict[str, Any]] = [{"prefix": host, "location": host, "insecure": plain, "blocked": False,
                                          "unqualified": False}]
        for upstream in upstreams:
            entries.append({"prefix": upstream, "location": upstream, "insecure": False, "blocked": False,
                            "unqualified": False,
                            "mirrors": [{"location": f"{site.registry}/{upstream}", "insecure": plain}]})
        out["crio_registries"] = entries
    elif container_manager == "docker":
        _require(tree, DOCKER_ROLES, "docker_insecure_registries")
        _require(tree, DOCKER_ROLES, "docker_registry_mirrors")
        out["docker_insecure_registries"] = [host] if site.registry_plain else []
        out["docker_registry_mirrors"] = []
    return out


def ntp_vars(tree: KubesprayTree, servers: list[str]) -> dict[str, Any]:
    """Kubespray's NTP settings (preinstall role): chrony, configured to sync only to ``servers``."""
    if not servers:
        return {}
    for var in ("ntp_enabled", "ntp_package", "ntp_manage_config", "ntp_servers"):
        _require(tree, (NTP_ROLE, "kubespray_defaults"), var)
    return {**NTP_PLAN_VARS, "ntp_manage_config": True, "ntp_servers": [f"{s} iburst" for s in servers]}


def _require(tree: KubesprayTree, roles: tuple[str, ...], var: str) -> None:
    if not any(var in tree.role_layer(role, "defaults") for role in roles):
        raise KubesprayError(f"Kubespray {tree.version} has no {var} in roles/{'|'.join(roles)}/defaults; "
                             "airlock cannot configure it for this release",
                             hint="use a Kubespray release airlock supports (2.27.0 through master)")


def repo_vars(lock: Lock, site: SiteAddress) -> dict[str, str]:
    """Kubespray's package repository variables, pointed at the site's rpm/deb repositories."""
    base = site.files_repo.rsplit("/files", 1)[0]
    out: dict[str, str] = {}
    for os_name in sorted({r.os for r in lock.rpm}):
        out.setdefault("yum_repo", f"{base}/rpms/{os_name}")
    for os_name in sorted({d.os for d in lock.deb}):
        key = "ubuntu_repo" if os_name.startswith("ubuntu") else "debian_repo"
        out.setdefault(key, f"{base}/debs/{os_name}")
    return out


def pypi_vars(site: SiteAddress) -> dict[str, str]:
    """``pyrepo_index``, for tools that pip-install on nodes (Kubespray's own venv uses node/pip.conf)."""
    return {"pyrepo_index": site.files_repo.rsplit("/files", 1)[0] + "/pypi/simple/"}


class _Unserved:
    def __init__(self, kind: str, key: str, var: str | None, upstream: str):
        self.kind, self.key, self.var, self.upstream = kind, key, var, upstream


def _unserved(tree: KubesprayTree, lock: Lock, user_vars: dict[str, Any], offline: dict[str, Any],
              arches: list[str], oses: list[str | None], site: SiteAddress) -> list[_Unserved]:
    served_files = {f"{site.files_repo}/{f.path}" for f in lock.file}
    served_images = {i.ref.under(site.registry) for i in lock.image}
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
                    # the variable the lock recorded for this file (what plan saw in downloads[...].url)
                    var = pin.kubespray_var if pin and pin.kubespray_var else f.kubespray_var
                    problems.append(_Unserved("file", f"{f.name} ({arch})", var, pin.url if pin else f.url))
            for img in imgs:
                if img.ref not in served_images:
                    image_pin = images.get(img.name)
                    key = img.name if img.name in raw else f"kubeadm_{img.name}"
                    problems.append(_Unserved("image", img.name, _repo_var(ev, raw.get(key, {}).get("repo")),
                                              image_pin.ref.canonical if image_pin else img.ref))
    return problems


def _repo_var(ev: Evaluator, raw_repo: Any) -> str | None:
    return ev.single_var_reference(raw_repo)


def _override(problem: _Unserved, defaults: dict[str, Any], site: SiteAddress) -> tuple[str, str] | None:
    """(variable, value) that redirects one download, or None."""
    if problem.var is None:
        return None
    upstream = urlsplit(problem.upstream)
    if problem.kind == "file":
        template = defaults.get(problem.var)
        origin = f"{upstream.scheme}://{upstream.netloc}"
        if isinstance(template, str) and template.startswith(origin):
            return problem.var, f"{site.files_repo}/{upstream.netloc}{template[len(origin):]}"
        return None
    return problem.var, f"{site.registry}/{parse_ref(problem.upstream).name}"
