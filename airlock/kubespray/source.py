"""Find the Kubespray tree a manifest names: a local directory, a local tarball, or a URL.

Tarballs are unpacked (only ``roles/``, ``inventory/``, ``requirements.txt`` and ``galaxy.yml``, regular files,
nothing outside the tree) into the cache under their sha256, so a second plan reads the cache.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airlock.cache import cache_root
from airlock.errors import KubesprayError, NetworkError
from airlock.kubespray.releases import check_declared, check_release
from airlock.kubespray.tree import KubesprayTree
from airlock.scratch import fresh_dir, replacing_locked

_KEEP = ("roles/", "inventory/", "requirements.txt", "galaxy.yml")


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


class Source:
    """An opened Kubespray source: its tree, what kind of source it is, and where its bytes are."""

    def __init__(self, tree: KubesprayTree, kind: str, origin: Path):
        self.tree, self.kind, self.origin = tree, kind, origin

    def sha256(self) -> str:
        """Digest of the source: the tarball's sha256, or for a directory, of its sorted file list."""
        return tree_digest(self.origin) if self.kind == "directory" else sha256_file(self.origin)


def open_source(version: str, source: str, *, base_dir: Path, mirrors: Mapping[str, str] | None = None,
                transport: Any = None, offline: bool = False, net: Any = None) -> Source:
    check_declared(version)
    if is_url(source):
        if offline and not _cached_download(source).is_file():
            raise KubesprayError(f"Kubespray {source} is not in the cache and the network is not used here",
                                 hint="run `airlock plan` or `airlock resolve` once with network access")
        tarball = _download(source, mirrors or {}, transport, net)
        kind, origin, root = "url", tarball, _unpack(tarball)
    else:
        path = Path(source)
        if not path.is_absolute():
            path = base_dir / path
        if path.is_dir():
            kind, origin, root = "directory", path, path
        elif path.is_file():
            kind, origin, root = "tarball", path, _unpack(path)
        else:
            raise KubesprayError(f"Kubespray source {path} does not exist",
                                 hint="set kubespray.source to a Kubespray directory, .tar.gz or URL")
    tree = KubesprayTree(root=root, version=version)
    check_release(version, tree)  # first: a tree of another release is named as such, not as incomplete
    tree.check()
    return Source(tree, kind, origin)


def tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(root).as_posix()
        if ".git" in rel.split("/"):  # git metadata anywhere (a worktree's .git file, submodules): as tar_directory
            continue
        h.update(f"{rel}\0{sha256_file(path)}\n".encode())
    return h.hexdigest()


def _cached_download(url: str) -> Path:
    return cache_root() / "kubespray" / "by-url" / (hashlib.sha256(url.encode()).hexdigest() + ".tar.gz")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download(url: str, mirrors: Mapping[str, str], transport: Any, net: Any = None) -> Path:
    """Through ``net`` (an :class:`airlock.net.http.Net`: retries, resume, --ca-file, certs.d)."""
    target = _cached_download(url)
    if target.is_file():
        return target
    from airlock.net.http import Net  # lazy: here, not at the top: planning from a local tree needs no HTTP stack
    from airlock.net.mirrors import rewrite_url  # lazy: (the same)

    request_url = rewrite_url(url, mirrors)
    what = f"Kubespray source {url}"
    own = net is None
    client = Net(transport=transport) if own else net
    try:
        with replacing_locked(target) as out:
            def restart() -> None:
                out.seek(0)
                out.truncate()

            client.download(request_url, what=what, write=out.write, restart=restart,
                            check=lambda status: _bad_status(status, request_url))
    except NetworkError as exc:
        exc.hint = exc.hint or ("without internet, set kubespray.source to a local tree or tarball, "
                                "or add a mirror for https://github.com")
        raise
    except OSError as exc:  # the disk, not the network
        raise KubesprayError(f"cannot write the Kubespray download to {target.parent}: {exc.strerror or exc}",
                             hint="check the cache directory (AIRLOCK_CACHE): free space and permissions") from None
    finally:
        if own:
            client.close()
    return target


def _bad_status(status: int, url: str) -> None:
    raise NetworkError(f"GET {url} answered {status}",
                       hint="check kubespray.source / mirrors, or use a local tarball")


def _unpack(tarball: Path) -> Path:
    digest = sha256_file(tarball)
    dest = cache_root() / "kubespray" / "trees-v2" / digest  # v2: with galaxy.yml
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    unpack = fresh_dir(dest.parent, ".unpack-")
    tmp = unpack.path
    try:
        with tarfile.open(tarball, "r:*") as tar:
            for member in tar:
                rel = _relative(member.name)
                if rel is None or not member.isfile():
                    continue
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                assert src is not None
                with src, out.open("wb") as f:
                    shutil.copyfileobj(src, f)
        try:
            os.replace(tmp, dest)
        except OSError:
            if not dest.is_dir():
                raise  # else a concurrent resolve unpacked the same tarball first: use its tree
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise KubesprayError(f"cannot unpack Kubespray tarball {tarball}: {exc}",
                             hint="check that the file is a complete .tar.gz of the Kubespray tree") from None
    finally:
        unpack.remove()  # after the rename this only drops the lock
    return dest


def _relative(name: str) -> str | None:
    """Path below the tarball's top directory, or None when it is not kept or unsafe."""
    parts = name.split("/", 1)
    if len(parts) != 2:
        return None
    rel = parts[1]
    if rel.startswith("/") or ".." in rel.split("/") or not rel.startswith(_KEEP):
        return None
    return rel
