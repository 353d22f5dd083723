"""What applying a bundle makes of a site, computed without touching the disk (the plan of ``airlock apply``).

:func:`plan_site` turns a verified bundle's contents (a :class:`BundleView`, loaded by
:mod:`airlock.apply.view`) and the site's options into a :class:`SitePlan`: every file's bytes, every
hardlink into the blob store, the blobs and Kubespray tree to move in, the RPM repositories whose repodata
createrepo_c builds, the push and the TLS material. :mod:`airlock.apply.execute` then compares the plan with
DIR (the report) and carries it out; ``apply --dry-run --json`` prints :func:`plan_json`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.apply.nginx import NGINX_CONF, nginx_conf
from airlock.apply.node import SITE_CA, node_ca_files, node_setup_files, ntp_servers
from airlock.apply.offline import Site, render
from airlock.apply.pypi import index_files, pip_conf, wheel_links
from airlock.apply.repos import deb_indexes, key_links, node_repo_files, package_links, rpm_repo_dirs
from airlock.apply.service import serve_unit
from airlock.apply.signing import SITE_KEY, SITE_PUBLIC, public_key, sign_releases
from airlock.apply.site import file_links, node_files
from airlock.apply.tls import SiteTLS
from airlock.kubespray.offline import node_registries, site_variables
from airlock.kubespray.tree import KubesprayTree
from airlock.lockfile import Lock
from airlock.manifest.loader import LoadedManifest
from airlock.plan import inventory_vars

STATE = ".airlock/state.json"


@dataclass(frozen=True)
class SiteTLSFiles:
    """What the TLS options give the site: the certificate and key serve and nginx name, the site files
    (node/ca.crt) and, for --tls-generate, the CA and certificate to keep in DIR/admin/tls."""

    files: tuple[Path, Path] | None = None
    outputs: Mapping[str, bytes] = field(default_factory=dict)
    generated: SiteTLS | None = None


@dataclass(frozen=True)
class BundleView:
    """A verified bundle's contents as plain values, and what DIR holds that the plan depends on."""

    lock: Lock
    lock_bytes: bytes
    lock_sha256: str
    oci_index: bytes                    # the bundle's oci/index.json
    manifest: LoadedManifest            # its airlock.yaml (checked against the lock)
    manifest_bytes: bytes
    tree: KubesprayTree                 # the Kubespray tree the lock pins (read-only)
    tree_fresh: bool = False            # unpacked from the bundle (moved into DIR), or already in DIR
    staged_blobs: tuple[str, ...] = ()  # hex names of the blobs DIR's store lacks
    deb_index_blobs: Mapping[str, bytes] = field(default_factory=dict)  # hex -> a locked deb index, as fetched
    applied: tuple[str, ...] = ()       # the locks applied in DIR before (.airlock/state.json)
    site_key: bytes | None = None       # DIR's site signing key (or a fresh one), when the lock has debs
    tls: SiteTLSFiles = SiteTLSFiles()


@dataclass(frozen=True)
class PlanOptions:
    dest: Path                 # the site directory, absolute (named in the serve unit and nginx configuration)
    url: str                   # --url
    site: Site                 # the addresses nodes use (from --url and --push)
    push: str | None = None    # --push REGISTRY[/PREFIX]
    venv: bool = True


@dataclass(frozen=True)
class SitePlan:
    dest: Path
    lock_sha256: str
    site: Site
    outputs: Mapping[str, bytes]    # site path -> bytes
    links: Mapping[str, str]        # site path -> blob digest (a hardlink into oci/blobs/sha256)
    blobs: tuple[str, ...]          # blobs to add to the store (hex)
    kubespray: str                  # the Kubespray tree's directory in DIR
    trees: tuple[str, ...]          # Kubespray trees to move in from staging (unpacked from the bundle)
    repodata: tuple[str, ...]       # RPM repositories createrepo_c indexes (in the new site)
    push: str | None                # the registry every image is copied to, after the commit
    tls: SiteTLS | None             # --tls-generate's CA and certificate, written into DIR/admin/tls
    venv: bool                      # build DIR/venv from the site's wheels (the lock names the admin host)
    lock: Lock = field(repr=False, compare=False)  # the venv's wheels

    def paths(self) -> list[str]:
        """Every path the plan writes inside DIR."""
        return [*self.outputs, *self.links, *self.repodata, self.kubespray]


def plan_site(view: BundleView, opts: PlanOptions) -> SitePlan:
    """The complete site for ``view`` at ``opts``: pure, the same inputs give the same plan."""
    lock, site, m = view.lock, opts.site, view.manifest.manifest
    arches = list(m.arch)
    servers = ntp_servers(list(m.ntp), site)
    offline = site_variables(view.tree, lock, inventory_vars(view.manifest, view.tree), arches,
                             list(m.os) or [None], site, ntp_servers=servers)
    outputs = {
        "oci/oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "oci/index.json": view.oci_index,
        "inventory/group_vars/all/offline.yml": render(offline, view.lock_sha256),
        "airlock.lock": view.lock_bytes,
        "airlock.yaml": view.manifest_bytes,
    }
    outputs.update(node_files(lock, site))
    outputs[STATE] = state_json(view.applied, view.lock_sha256)
    outputs.update(node_repo_files(lock, site))
    outputs.update(node_setup_files(node_registries(view.tree, lock, site), servers))  # nodes without Kubespray
    outputs.update(view.tls.outputs)
    outputs.update(node_ca_files(site, view.tls.outputs.get(SITE_CA)))
    outputs["admin/airlock-serve.service"] = serve_unit(opts.dest, opts.url, view.tls.files)
    outputs[NGINX_CONF] = nginx_conf(opts.dest, opts.url, view.tls.files)
    if lock.wheel:
        outputs.update(index_files(lock))
        outputs.update(pip_conf(site))
    outputs.update(deb_indexes(lock, arches, view.deb_index_blobs))
    outputs.update(_signatures(lock, view.site_key, outputs))
    links = {**file_links(lock), **package_links(lock, arches), **wheel_links(lock), **key_links(lock)}
    return SitePlan(
        dest=opts.dest, lock_sha256=view.lock_sha256, site=site, outputs=outputs, links=links,
        blobs=tuple(sorted(view.staged_blobs)), kubespray=f"kubespray-{lock.kubespray.version}",
        trees=(f"kubespray-{lock.kubespray.version}",) if view.tree_fresh else (),
        repodata=tuple(rpm_repo_dirs(lock, arches)), push=opts.push, tls=view.tls.generated,
        venv=opts.venv and lock.bootstrap is not None, lock=lock)


def state_json(applied: tuple[str, ...], lock_sha256: str) -> bytes:
    """.airlock/state.json: every lock applied in DIR (delta bundles name their base by it), and the current one."""
    every = sorted(set(applied) | {lock_sha256})
    return (json.dumps({"applied": every, "current": lock_sha256}, indent=1, sort_keys=True) + "\n").encode()


def _signatures(lock: Lock, secret: bytes | None, outputs: Mapping[str, bytes]) -> dict[str, bytes]:
    """The signatures of the site's deb Releases, the public key nodes trust and the secret key (kept in
    DIR/admin/); nothing when the site has no deb repository."""
    releases = {rel: data for rel, data in outputs.items() if rel.startswith("debs/") and rel.endswith("/Release")}
    if not lock.deb or not releases or secret is None:
        return {}
    return {SITE_KEY: secret, SITE_PUBLIC: public_key(secret), **sign_releases(secret, releases)}


def plan_json(plan: SitePlan) -> dict[str, Any]:
    """The plan as JSON values: each file by its sha256 and size (never its bytes: the site's secret key is one)."""
    return {
        "dest": str(plan.dest),
        "lock_sha256": plan.lock_sha256,
        "site": dataclasses.asdict(plan.site),
        "outputs": {rel: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                    for rel, data in sorted(plan.outputs.items())},
        "links": dict(sorted(plan.links.items())),
        "blobs": sorted(plan.blobs),
        "kubespray": plan.kubespray,
        "trees": sorted(plan.trees),
        "repodata": sorted(plan.repodata),
        "push": plan.push,
        "tls_generate": plan.tls is not None,
        "venv": plan.venv,
    }
