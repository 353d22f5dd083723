"""The tree digest of a Kubespray directory, recomputed from the tar ``fetch`` made of it.

A lock pins a Kubespray *directory* by ``tree_digest`` (every file's relative path and sha256), and
fetch carries it as a deterministic tar of that directory. Verify recomputes the digest from the tar
so the Kubespray code apply unpacks is the code the lock pins: a tar with any other file, or any
link, is refused. (Tarball and URL sources are pinned by the sha256 of their bytes directly.)
"""

from __future__ import annotations

import hashlib
from typing import Any

from airlock.bundle.tarread import CHUNK, BundleError, iter_members


def check_tree(stream: Any, want: str, where: str) -> None:
    files: dict[str, str] = {}
    for member, data in iter_members(stream, where):
        if data is None:
            continue
        rel = member.name.split("/", 1)[1] if "/" in member.name else ""
        if not rel or rel in files:
            raise BundleError(f"{where}: unexpected entry {member.name!r}", hint="do not use this bundle")
        h = hashlib.sha256()
        while chunk := data.read(CHUNK):
            h.update(chunk)
        if not rel.startswith(".git/"):  # as tree_digest: the repository's own metadata is not the tree
            files[rel] = h.hexdigest()
    tree = hashlib.sha256()
    for rel in sorted(files, key=lambda r: r.split("/")):  # the order of sorted(Path...) in tree_digest
        tree.update(f"{rel}\0{files[rel]}\n".encode())
    if tree.hexdigest() != want:
        raise BundleError(f"{where}: its files do not match the Kubespray tree digest in the lock "
                          f"(expected {want}, got {tree.hexdigest()})", hint="do not use this bundle")
