"""Resolve a Debian/Ubuntu package set to its full closure (the solving is in :mod:`airlock.resolvers.debsolve`).

For one OS and arch: read each repository's ``dists/<suite>/Release`` (or a flat repo's
``Release``), fetch ``<component>/binary-<arch>/Packages.xz`` (checksums from Release verified),
parse its stanzas and pin the packages :func:`closure` picks, with the indexes they came from.
"""

from __future__ import annotations

import gzip
import lzma
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from airlock.errors import MetadataError
from airlock.lockfile.model import DebIndexPin, DebPin, upstream_pin
from airlock.manifest.model import RepoSpec
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url
from airlock.resolvers.debsolve import DebRequest, closure
from airlock.resolvers.keys import verified_release
from airlock.resolvers.repometa import get_index, get_verified


def parse_stanzas(text: str) -> Iterator[dict[str, str]]:
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if fields:
                yield fields
            fields, key = {}, None
        elif line[0] in " \t" and key:
            fields[key] += "\n" + line
        elif ":" in line:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    if fields:
        yield fields


def raw_stanzas(text: str) -> Iterator[tuple[str, str]]:
    """(package name, the stanza's exact text) for every stanza."""
    for block in re.split(r"\n\s*\n", text.strip("\n")):
        m = re.search(r"^Package:\s*(\S+)", block, re.MULTILINE)
        if m:
            yield m.group(1), block.rstrip("\n")


def _release_index(release: bytes) -> dict[str, tuple[str, int]]:
    """path -> (sha256, size) from a Release file's SHA256 section."""
    out: dict[str, tuple[str, int]] = {}
    section = None
    for line in release.decode("utf-8", "replace").splitlines():
        if line and not line[0].isspace():
            section = line.split(":", 1)[0]
            continue
        if section == "SHA256":
            parts = line.split()
            if len(parts) == 3:
                out[parts[2]] = (parts[0], int(parts[1]))
    return out


def decompress(path: Path) -> str:
    return decompress_bytes(path.read_bytes())


def decompress_bytes(raw: bytes) -> str:
    """A Packages index as text, whether fetched plain, xz or gzip."""
    if raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    elif raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace")


def _optional(net: Net, mirrors: Mapping[str, str], url: str, what: str) -> bytes | None:
    """A file the repository may lack (404/410: None); any other failure is an error."""
    resp = net.request("GET", rewrite_url(url, mirrors), what=what)
    if resp.status_code in (404, 410):
        return None
    if resp.status_code != 200:
        raise MetadataError(f"{what}: {url} answered HTTP {resp.status_code}",
                            hint="check the repository URL (repos: in airlock.yaml) and mirrors")
    return bytes(resp.content)


def release_of(net: Net, mirrors: Mapping[str, str], spec: RepoSpec, dist: str, key: bytes | None, what: str) -> bytes:
    """The repository's Release; with a key, only its signed text (InRelease, else Release + Release.gpg)."""
    if key is None:
        return get_index(net, mirrors, f"{dist}/Release", what)
    inrelease = _optional(net, mirrors, f"{dist}/InRelease", what)
    if inrelease is not None:
        return verified_release(key, spec.name, f"{dist}/InRelease", inrelease=inrelease)
    release = get_index(net, mirrors, f"{dist}/Release", what)
    signature = _optional(net, mirrors, f"{dist}/Release.gpg", what)
    return verified_release(key, spec.name, f"{dist}/Release", release=release, signature=signature)


def _indexes(net: Net, mirrors: Mapping[str, str], spec: RepoSpec, arch: str, what: str, key: bytes | None = None
             ) -> list[tuple[str, str, int, Path]]:
    """(url, sha256, size, local file) of each verified Packages index of a repository."""
    base = spec.url.rstrip("/")
    dist = f"{base}/dists/{spec.suite}" if spec.suite else base
    release = release_of(net, mirrors, spec, dist, key, f"{what}, repo {spec.name}")
    listed = _release_index(release)
    out = []
    for comp in spec.components or [""]:
        prefix = f"{comp}/binary-{arch}/" if spec.suite else ""
        for name in ("Packages.xz", "Packages.gz", "Packages"):
            if prefix + name in listed:
                sha, size = listed[prefix + name]
                url = f"{dist}/{prefix}{name}"
                out.append((url, sha, size, get_verified(net, mirrors, url, "sha256", sha,
                                                          f"{what}, repo {spec.name} {prefix}{name}")))
                break
        else:
            raise MetadataError(f"{what}: the Release of {spec.name} lists no {prefix}Packages index",
                                hint="check suite and components in repos:")
    return out


def _stanzas(net: Net, mirrors: Mapping[str, str], req: DebRequest, repos: tuple[RepoSpec, ...], what: str,
             keys: Mapping[str, bytes]
             ) -> tuple[list[tuple[RepoSpec, dict[str, str]]], list[DebIndexPin]]:
    stanzas, index_pins = [], []
    for spec in repos:
        for url, sha, size, path in _indexes(net, mirrors, spec, req.arch, what, keys.get(spec.name)):
            index_pins.append(upstream_pin(DebIndexPin, f"{what}, repo {spec.name}", os=req.os, arch=req.arch,
                                           repo=spec.name, url=url, sha256=sha, size=size))
            stanzas += [(spec, f) for f in parse_stanzas(decompress(path))
                        if "Package" in f and "Version" in f and "Filename" in f and "SHA256" in f]
    return stanzas, index_pins


def resolve_debs(net: Net, mirrors: Mapping[str, str], req: DebRequest) -> tuple[list[DebPin], list[DebIndexPin]]:
    what = f"deb packages for {req.os} ({req.arch})"
    stanzas, index_pins = _stanzas(net, mirrors, req, req.repos, what, req.keys)
    base_stanzas = _stanzas(net, mirrors, req, req.base_repos, what, req.base_keys)[0] if req.base_packages else []
    pins = []
    for repo_name, f, base in closure(req, stanzas, what, base_stanzas):
        declared = str(f.get("Size", "0"))
        pins.append(upstream_pin(DebPin, f"deb {f['Package']} ({req.os}, repo {repo_name})", os=req.os,
                                 name=f["Package"], version=f["Version"], arch=f.get("Architecture", req.arch),
                                 repo=repo_name, url=base + f["Filename"], sha256=f["SHA256"],
                                 size=int(declared) if declared.isdigit() and len(declared) < 19 else -1))
    return sorted(pins, key=lambda p: (p.name, p.arch, p.version)), index_pins
