"""Reading a verified bundle (and what DIR already holds) into a :class:`~airlock.apply.plan.BundleView`.

This is the reading half of apply's I/O: the bundled airlock.yaml (checked against the lock), the Kubespray
tree (unpacked safely into staging unless DIR has it), the deb indexes, DIR's state, its site signing key
and its TLS material. Nothing in DIR is written here.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock.apply.base import check_base
from airlock.apply.commit import Space
from airlock.apply.plan import BundleView, SiteTLSFiles
from airlock.apply.signing import site_key
from airlock.apply.tls import site_tls_outputs
from airlock.bundle.verify import Verified
from airlock.errors import AirlockError, BundleError
from airlock.kubespray.tree import KubesprayTree
from airlock.manifest import load_manifest
from airlock.manifest.loader import LoadedManifest

if TYPE_CHECKING:
    from airlock.apply.execute import ApplyOptions


def load_view(v: Verified, bundle: Path, opts: ApplyOptions, dest: Path, staging: Path, space: Space) -> BundleView:
    """The view of the verified bundle ``v`` whose new blobs are staged in ``staging/blobs``."""
    store = dest / "oci" / "blobs" / "sha256"
    loaded = bundled_manifest(v, staging, bundle)
    applied = state(dest)["applied"]
    check_base(v, dest, applied, bundle)
    tree_dir = kubespray(v, dest, staging, store, space)
    tree = KubesprayTree(tree_dir, v.lock.kubespray.version)
    tree.check()
    generated, files, outputs = site_tls_outputs(opts, dest)
    staged = sorted(p.name for p in (staging / "blobs").iterdir())

    def blob(hexd: str) -> bytes:
        return (staging / "blobs" / hexd if hexd in staged else store / hexd).read_bytes()

    index_entry = next(e for e in v.index.entries if e.path == "index.json")
    return BundleView(
        lock=v.lock, lock_bytes=v.lock_bytes, lock_sha256=v.index.lock_sha256,
        oci_index=v.manifests[index_entry.digest], manifest=loaded, manifest_bytes=loaded.path.read_bytes(),
        tree=tree, tree_fresh=tree_dir.parent == staging, staged_blobs=tuple(staged),
        deb_index_blobs={i.sha256: blob(i.sha256) for i in v.lock.deb_index},
        applied=tuple(applied), site_key=site_key(dest) if v.lock.deb else None,
        tls=SiteTLSFiles(files=files, outputs=outputs, generated=generated))


def bundled_manifest(v: Verified, staging: Path, bundle: Path) -> LoadedManifest:
    # lazy: airlock.resolve loads every resolver (~60 ms); a bundle or option apply rejects fails before this
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


def state(dest: Path) -> dict[str, Any]:
    try:
        return json.loads((dest / ".airlock" / "state.json").read_text())
    except (OSError, ValueError):
        return {"applied": []}


def kubespray(v: Verified, dest: Path, staging: Path, store: Path, space: Space) -> Path:
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
    space.require(unpacked_size(blob), f"unpacking Kubespray {v.lock.kubespray.version}")
    safe_unpack(blob, out)
    (out / ".airlock-source").write_text(entry.digest + "\n")
    return out


def unpacked_size(tarball: Path) -> int:
    """Bytes the tree takes once unpacked (file sizes plus a block per entry); 0 when unreadable (unpack says why)."""
    try:
        with tarfile.open(tarball, "r:*") as tar:
            return sum(m.size + 4096 for m in tar)
    except (tarfile.TarError, OSError, EOFError):
        return 0


def safe_unpack(tarball: Path, out: Path) -> None:
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
