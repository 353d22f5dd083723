"""Writing bundles: the OCI layout index, a Kubespray directory as a tar, the deterministic tar itself."""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airlock.bundle.model import BundleIndex
from airlock.bundle.tarstream import SplitWriter, TarWriter
from airlock.errors import AirlockError
from airlock.lockfile import Lock
from airlock.store import Store

OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def tar_directory(root: Path) -> bytes:
    """A deterministic, uncompressed tar of a Kubespray directory (same tree, same bytes)."""
    buf = io.BytesIO()
    w = TarWriter(buf)
    prefix = f"{root.name}/"
    for path in sorted(p for p in root.rglob("*") if not p.is_symlink() and (p.is_file() or p.is_dir())):
        rel = prefix + path.relative_to(root).as_posix()
        if "/.git/" in rel or rel.endswith("/.git"):
            continue
        if path.is_dir():
            w.add_dir(rel)
        else:
            w.add_bytes(rel, path.read_bytes())
    w.close()
    return buf.getvalue()


def layout_index(lock: Lock, target_sizes: dict[str, int]) -> bytes:
    manifests = []
    for img in sorted(lock.image, key=lambda i: i.ref):
        desc: dict[str, Any] = {"mediaType": img.target_media_type, "digest": img.target_digest,
                                "size": target_sizes[img.ref],
                                "annotations": {"org.opencontainers.image.ref.name": img.ref}}
        if img.target == "platform":
            p = img.platforms[0]
            desc["platform"] = {"architecture": p.arch, "os": p.os, **({"variant": p.variant} if p.variant else {})}
        manifests.append(desc)
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
    return json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def checked_manifest(path: Path, lock: Lock) -> bytes:
    """The manifest's bytes, refused unless it is the one the lock was resolved from."""
    from airlock.manifest import load_manifest
    from airlock.resolve import manifest_digest

    if manifest_digest(load_manifest(path)) != lock.inputs.manifest_sha256:
        raise AirlockError(f"{path} is not the manifest the lock was resolved from",
                           hint="run `airlock resolve` again, or pass the right manifest with -f")
    return path.read_bytes()


def write_bundle(out: Path, index: BundleIndex, meta: dict[str, tuple[bytes, str, list[str]]],
                  blobs: list[Any], store: Store, split: int | None,
                  wait: Callable[[str], None], front: list[Any] | None = None) -> tuple[str, int, list[Path]]:
    out.parent.mkdir(parents=True, exist_ok=True)
    splitter = SplitWriter(out, split) if split else None
    fd, tmp = (None, None) if splitter else tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    sink = splitter if splitter else os.fdopen(fd, "wb", buffering=0)  # type: ignore[arg-type]
    try:
        w = TarWriter(sink)  # type: ignore[arg-type]
        # Metadata first so verify/apply read the index before any blob; then blobs by digest.
        w.add_bytes("bundle.json", index.dumps())
        if front:  # bootstrap/: right after the index, so `tar -xf bundle.tar bootstrap/` reads little
            from airlock.bootstrap.folder import directories

            for d in directories(front):
                w.add_dir(d)
            for f in front:
                if f.data is not None:
                    w.add_bytes(f.path, f.data)
                else:
                    w.add_file(f.path, f.source, f.size)
        for name in ("airlock.lock", "airlock.yaml", "sbom.cdx.json", "oci-layout", "index.json"):
            if name in meta:
                w.add_bytes(name, meta[name][0])
        w.add_dir("blobs")
        w.add_dir("blobs/sha256")
        for b in blobs:
            wait(b.digest)
            path = store.path(b.digest)
            w.add_file(f"blobs/sha256/{b.digest.split(':', 1)[1]}", path, path.stat().st_size)
        w.close()
        digest = w.sha256.hexdigest()
        if splitter:
            return digest, w.size, splitter.commit(digest)
        sink.close()
        os.replace(tmp, out)  # type: ignore[arg-type]
        return digest, w.size, [out]
    except BaseException:
        if splitter:
            splitter.abort()
        else:
            sink.close()
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)
        raise
