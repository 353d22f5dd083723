"""``airlock apply``: verify the whole bundle, then lay the site out in DIR (idempotent, resumable).

Nothing in DIR changes until the bundle has been verified completely and the offline.yml it implies
has been proven complete: blobs are staged beside DIR during verification and only then moved into
the site's one blob store; files are hardlinks into that store, other files are written to a
temporary name and renamed, and only when their bytes change.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airlock.apply.base import check_base
from airlock.apply.commit import Space, build_site, peek_index, plan_changes, present, repodata_changes, sweep_temps
from airlock.apply.node import SITE_CA, node_ca_files, node_setup_files, ntp_servers
from airlock.apply.offline import Site, render
from airlock.apply.pypi import index_files, pip_conf, wheel_links
from airlock.apply.repos import (
    build_rpm_repodata,
    deb_indexes,
    key_links,
    node_repo_files,
    package_links,
    rpm_repo_dirs,
)
from airlock.apply.signing import signed_site
from airlock.apply.site import file_links, node_files
from airlock.apply.swap import (
    check_dest,
    clone,
    inside,
    recover,
    staging_prefix,
    swap_in,
)
from airlock.bundle.verify import Verified, verify_bundle
from airlock.errors import AirlockError, BundleError, UsageError
from airlock.kubespray.offline import node_registries, site_variables
from airlock.kubespray.tree import KubesprayTree
from airlock.names import check_registry, has_credentials, redact
from airlock.scratch import disk_full, is_no_space, locked, scratch_dir, sweep, test_hook


@dataclass
class ApplyOptions:
    dest: Path
    url: str
    push: str | None = None
    insecure_registry: bool = False
    dry_run: bool = False
    expect_lock: str | None = None  # the reviewed lock's sha256: any other bundle is refused
    venv: bool = True  # DIR/venv: Kubespray's Ansible from the site's wheels
    tls_generate: str | None = None  # NAME[,NAME...]: make DIR's CA and server certificate (airlock.apply.tls)
    tls_cert: Path | None = None     # or the user's certificate and key, for the systemd unit and nginx
    tls_key: Path | None = None
    tls_ca: Path | None = None       # their CA, copied to node/ca.crt for the nodes


@dataclass
class ApplyReport:
    dest: Path
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    blobs_added: int = 0
    lock_sha256: str = ""
    site: Site | None = None


def site_for(opts: ApplyOptions) -> Site:
    """The site's addresses from --url and --push, refused when malformed or carrying a secret: they
    are written into offline.yml, node/ and --json, so a password in them would leak."""
    if has_credentials(opts.url) or (opts.push and has_credentials(opts.push)):
        flag = "--url" if has_credentials(opts.url) else "--push"
        raise UsageError(f"{flag} {redact(opts.url if flag == '--url' else opts.push or '')!r} carries a user or "
                         "password; it would be written into offline.yml and node/",
                         hint="give --push credentials with --registry-user and --registry-password-stdin"
                              if flag == "--push" else "nodes reach `airlock serve` without credentials")
    try:
        parts = urlsplit(opts.url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/") \
            and not parts.query and not parts.fragment
        ok = ok and parts.port != 0  # raises ValueError for a port out of range; 0 is no address
    except ValueError as exc:
        raise UsageError(f"--url {redact(opts.url)!r} is not a valid URL: {exc}",
                         hint="e.g. --url http://10.0.0.5:8080 or http://[fd00::5]:8080") from None
    if not ok or any(c.isspace() or c in "\"'\\" for c in parts.netloc):
        raise UsageError(f"--url {redact(opts.url)!r} must be http(s)://HOST:PORT",
                         hint="e.g. --url http://10.0.0.5:8080")
    base = f"{parts.scheme}://{parts.netloc}"
    from airlock.apply.tls import check_tls_options

    check_tls_options(opts, parts.scheme, parts.hostname or "")
    from airlock.apply.node import NODE_CA_PATH

    ca = NODE_CA_PATH if parts.scheme == "https" and (opts.tls_generate is not None or opts.tls_ca is not None) \
        else None  # node/ca.crt exists exactly then (airlock.apply.tls.site_tls_outputs)
    if opts.push:
        if "://" in opts.push:
            raise UsageError("--push takes REGISTRY[/PREFIX] without a scheme",
                             hint="use --insecure-registry for plain HTTP")
        try:
            registry = check_registry(opts.push.rstrip("/"))
        except ValueError as exc:
            raise UsageError(f"--push: {exc}", hint="e.g. --push registry.example:5000/airlock") from None
        return Site(f"{base}/files", registry, opts.insecure_registry, ca=ca)
    return Site(f"{base}/files", parts.netloc, parts.scheme == "http", ca=ca, registry_ca=ca)


def apply(bundle: Path, opts: ApplyOptions) -> ApplyReport:
    dest = opts.dest.resolve()
    site = site_for(opts)
    check_dest(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # One apply per parent directory at a time: the lock is on the parent, whose inode (unlike DIR's)
    # survives the swap that commits a site.
    with locked(dest.parent, directory=True):
        stagings = sorted(dest.parent.glob(glob.escape(staging_prefix(dest)) + "*"))
        recover(dest, stagings)
        sweep(dest.parent, stagings)
        stage = scratch_dir(dest.parent, staging_prefix(dest))
        space = Space(dest)
        try:
            return _apply(bundle, opts, dest, site, stage.path, space)
        except OSError as exc:
            if not is_no_space(exc):
                raise
            stage.remove()  # first, so the message reports the space free without it
            raise disk_full(dest.parent, space.need, f"applying {bundle.name}") from None
        finally:
            stage.remove()


def _apply(bundle: Path, opts: ApplyOptions, dest: Path, site: Site, staging: Path, space: Space) -> ApplyReport:
    store = dest / "oci" / "blobs" / "sha256"
    (staging / "blobs").mkdir()
    peek = peek_index(bundle)
    if peek is not None:
        space.require(sum(e.size for e in peek.entries if e.path.startswith("blobs/sha256/")
                          and not present(store / e.path.rsplit("/", 1)[1], e.size)) + (1 << 20),
                      f"the blobs of {bundle.name}")

    def keep(name: str, entry: Any) -> Any:
        if name.startswith("blobs/sha256/") and not present(store / name.rsplit("/", 1)[1], entry.size):
            return (staging / "blobs" / name.rsplit("/", 1)[1]).open("wb")
        if entry.kind == "bootstrap" and name.startswith("bootstrap/wheels/pip-"):  # pip for DIR/venv
            return (staging / "pip.whl").open("wb")
        return None

    v = verify_bundle(bundle, keep=keep, expect_lock=opts.expect_lock)
    test_hook("apply-staged")
    loaded = _bundled_manifest(v, staging, bundle)
    check_base(v, dest, _state(dest)["applied"], bundle)
    tree_dir = _kubespray(v, dest, staging, store, space)
    tree = KubesprayTree(tree_dir, v.lock.kubespray.version)
    tree.check()
    m = loaded.manifest
    from airlock.plan import inventory_vars

    servers = ntp_servers(list(m.ntp), site)
    offline = site_variables(tree, v.lock, inventory_vars(loaded, tree), list(m.arch), list(m.os) or [None], site,
                             ntp_servers=servers)
    outputs = _outputs(v, loaded.path.read_bytes(), offline, site, dest)
    outputs.update(node_repo_files(v.lock, site))
    outputs.update(node_setup_files(node_registries(tree, v.lock, site), servers))  # nodes without Kubespray
    from airlock.apply.nginx import NGINX_CONF, nginx_conf
    from airlock.apply.service import serve_unit
    from airlock.apply.tls import site_tls_outputs

    generated, tls_files, tls_outputs = site_tls_outputs(opts, dest)
    outputs.update(tls_outputs)
    outputs.update(node_ca_files(site, tls_outputs.get(SITE_CA)))
    outputs["admin/airlock-serve.service"] = serve_unit(dest, opts.url, tls_files)
    outputs[NGINX_CONF] = nginx_conf(dest, opts.url, tls_files)
    if v.lock.wheel:
        outputs.update(index_files(v.lock))
        outputs.update(pip_conf(site))
    blobs_at = {**{p.name: p for p in (store.iterdir() if store.is_dir() else [])},
                **{p.name: p for p in (staging / "blobs").iterdir()}}
    outputs.update(deb_indexes(v.lock, list(m.arch), _BlobView(blobs_at)))
    outputs.update(signed_site(v.lock, dest, outputs))
    links = {**file_links(v.lock), **package_links(v.lock, list(m.arch)), **wheel_links(v.lock), **key_links(v.lock)}
    repo_dirs = rpm_repo_dirs(v.lock, list(m.arch))
    for rel in [*outputs, *links, *repo_dirs, tree_dir.name]:
        inside(dest, rel)  # defence in depth: the lock model validates names; this checks the result
    report = ApplyReport(dest=dest, lock_sha256=v.index.lock_sha256, site=site)
    plan_changes(outputs, links, staging, store, dest, tree_dir, report)
    if opts.dry_run:
        return report
    sweep_temps(dest)
    if report.changed or repodata_changes(dest, repo_dirs, staging):
        _commit_site(outputs, links, staging, dest, tree_dir, repo_dirs, report, space)
    if generated is not None:
        from airlock.apply.tls import write_tls

        if write_tls(dest, generated):  # after the swap: DIR exists now; kept across later swaps (hardlinks)
            report.changed.append("admin/tls")
    if opts.venv and v.lock.bootstrap is not None:  # the lock names the admin host this runs on
        from airlock.apply.venv import build_venv

        pip = staging / "pip.whl"  # after the site is in place: the venv installs from DIR's wheels
        if build_venv(v.lock, dest, pip if pip.is_file() else None):
            report.changed.append("venv")
    return report


def _commit_site(outputs: dict[str, bytes], links: dict[str, str], staging: Path, dest: Path, tree_dir: Path,
                 repo_dirs: list[str], report: ApplyReport, space: Space) -> None:
    """Build the new site beside DIR (a hardlinked clone, updated) and swap it in; DIR is old or new, never mixed."""
    space.require(sum(len(d) for d in outputs.values()) + (1 << 20), f"the new site beside {dest}")
    new = staging / "site"
    if dest.is_dir():
        clone(dest, new, skip={tree_dir.name} if tree_dir.parent == staging else set())
    else:
        new.mkdir()
    build_site(outputs, links, staging, new, tree_dir)
    for repo_dir in repo_dirs:
        if build_rpm_repodata(new / repo_dir, staging):
            report.changed.append(f"{repo_dir}/repodata")
    if not report.changed:
        return  # only the repodata was checked, and it is unchanged: keep DIR as it is
    test_hook("apply-built")
    swap_in(new, dest, staging / "old")
    test_hook("apply-swapped")


def _bundled_manifest(v: Verified, staging: Path, bundle: Path) -> Any:
    from airlock.manifest import load_manifest
    from airlock.resolve import manifest_digest

    entry = next((e for e in v.index.entries if e.path == "airlock.yaml"), None)
    if entry is None:
        raise BundleError(f"{bundle}: the bundle carries no airlock.yaml",
                          hint="fetch it again with the manifest beside the lock (or fetch -f airlock.yaml)")
    path = staging / "airlock.yaml"
    path.write_bytes(v.manifests[entry.digest])
    loaded = load_manifest(path)
    if manifest_digest(loaded) != v.lock.inputs.manifest_sha256:
        raise BundleError(f"{bundle}: airlock.yaml does not match the lock's manifest_sha256",
                          hint="do not use this bundle")
    return loaded


def _state(dest: Path) -> dict[str, Any]:
    try:
        return json.loads((dest / ".airlock" / "state.json").read_text())
    except (OSError, ValueError):
        return {"applied": []}


def _kubespray(v: Verified, dest: Path, staging: Path, store: Path, space: Space) -> Path:
    """The Kubespray tree: already in DIR when unchanged, else unpacked safely into staging."""
    entry = next((e for e in v.index.entries if e.kind == "kubespray"), None)
    name = f"kubespray-{v.lock.kubespray.version}"
    if entry is None:  # a delta bundle whose Kubespray did not change
        if not (dest / name).is_dir():
            raise AirlockError(f"{name} is neither in the bundle nor in {dest}")
        return dest / name
    marker = dest / name / ".airlock-source"
    if marker.is_file() and marker.read_text().strip() == entry.digest:
        return dest / name
    hexd = entry.digest.hex
    blob = staging / "blobs" / hexd if (staging / "blobs" / hexd).is_file() else store / hexd
    out = staging / name
    space.require(_unpacked_size(blob), f"unpacking Kubespray {v.lock.kubespray.version}")
    _safe_unpack(blob, out)
    (out / ".airlock-source").write_text(entry.digest + "\n")
    return out


def _unpacked_size(tarball: Path) -> int:
    """Bytes the tree takes once unpacked (file sizes plus a block per entry); 0 when unreadable (unpack says why)."""
    try:
        with tarfile.open(tarball, "r:*") as tar:
            return sum(m.size + 4096 for m in tar)
    except (tarfile.TarError, OSError, EOFError):
        return 0


def _safe_unpack(tarball: Path, out: Path) -> None:
    out.mkdir()
    try:
        with tarfile.open(tarball, "r:*") as tar:
            for member in tar:
                rel = member.name.split("/", 1)[1] if "/" in member.name else ""
                parts = rel.split("/")
                if not rel or member.name.startswith("/") or ".." in parts:
                    if rel or member.name.startswith("/"):
                        raise BundleError(f"Kubespray source: unsafe path {member.name!r}")
                    continue
                target = out / rel
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    os.chmod(target, 0o755)
                elif member.isfile():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    assert src is not None
                    with src, target.open("wb") as f:
                        shutil.copyfileobj(src, f, 1 << 20)
                    os.chmod(target, 0o755 if member.mode & 0o111 else 0o644)
                elif member.issym():
                    link = (target.parent / member.linkname).resolve()
                    if member.linkname.startswith("/") or not str(link).startswith(str(out.resolve()) + os.sep):
                        raise BundleError(f"Kubespray source: link {member.name!r} points out of the tree")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(member.linkname, target)
                else:
                    raise BundleError(f"Kubespray source: {member.name!r} is a device or hard link")
    except tarfile.TarError as exc:
        raise BundleError(f"Kubespray source: cannot unpack ({exc})") from None


def _outputs(v: Verified, manifest: bytes, offline: dict[str, Any], site: Site, dest: Path) -> dict[str, bytes]:
    index_entry = next(e for e in v.index.entries if e.path == "index.json")
    out = {
        "oci/oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "oci/index.json": v.manifests[index_entry.digest],
        "inventory/group_vars/all/offline.yml": render(offline, v.index.lock_sha256),
        "airlock.lock": v.lock_bytes,
        "airlock.yaml": manifest,
    }
    out.update(node_files(v.lock, site))
    applied = sorted(set(_state(dest)["applied"]) | {v.index.lock_sha256})
    out[".airlock/state.json"] = (json.dumps({"applied": applied, "current": v.index.lock_sha256},
                                             indent=1, sort_keys=True) + "\n").encode()
    return out


class _BlobView:
    """``store / hex`` for blobs that are either staged or already in the site's store."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths

    def __truediv__(self, hexd: str) -> Path:
        return self.paths[hexd]


# Files that name DIR itself: two sites of the same bundle in two directories differ only in them.
DIR_NAMING = frozenset({"admin/airlock-serve.service", "admin/nginx/airlock.conf"})


def tree_fingerprint(dest: Path, exclude: frozenset[str] = frozenset()) -> str:
    """sha256 over every path, mode and content under DIR (for tests and reports), but ``exclude``."""
    h = hashlib.sha256()
    for p in sorted(dest.rglob("*")):
        rel = p.relative_to(dest).as_posix()
        if rel in exclude:
            continue
        st = p.lstat()
        h.update(f"{rel}\0{oct(st.st_mode)}\0".encode())
        if p.is_file() and not p.is_symlink():
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


