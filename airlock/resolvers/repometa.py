"""Download repository metadata (rpm-md and Debian archives), verified against the checksums its
index lists, into the cache. Files are named by their digest so a re-resolve reads the cache."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from airlock.cache import cache_root
from airlock.errors import MetadataError
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url
from airlock.scratch import replacing_locked

ALGOS = {"sha": "sha1", "sha1": "sha1", "sha256": "sha256", "sha512": "sha512", "sha224": "sha224",
         "sha384": "sha384", "md5": "md5"}


def get_index(net: Net, mirrors: Mapping[str, str], url: str, what: str) -> bytes:
    """A small index file (repomd.xml, Release), fetched fresh: it is what says what is current."""
    resp = net.request("GET", rewrite_url(url, mirrors), what=what)
    if resp.status_code != 200:
        raise MetadataError(f"{what}: {url} answered HTTP {resp.status_code}",
                            hint="check the repository URL (repos: in airlock.yaml) and mirrors")
    return resp.content


def get_verified(net: Net, mirrors: Mapping[str, str], url: str, algo: str, digest: str, what: str) -> Path:
    """A metadata file whose checksum an index lists; cached under that checksum."""
    name = ALGOS.get(algo.lower())
    if name is None:
        raise MetadataError(f"{what}: unsupported checksum type {algo!r} for {url}")
    target = cache_root() / "repodata" / f"{name}-{digest}"
    if target.is_file():
        return target
    h = hashlib.new(name)
    # a locked temp: a later run removes it only if this one is gone (kill -9)
    with replacing_locked(target) as out:
        with net.stream(rewrite_url(url, mirrors), what=what) as resp:
            if resp.status_code != 200:
                raise MetadataError(f"{what}: {url} answered HTTP {resp.status_code}")
            for chunk in resp.iter_bytes(1 << 20):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != digest:
            raise MetadataError(f"{what}: {url} has {name} {h.hexdigest()}, its index says {digest}",
                                hint="the repository is being updated or a mirror is stale; retry later")
    return target
