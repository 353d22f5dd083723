"""Resolve a Debian/Ubuntu package set to its full closure with libsolv (Debian semantics).

For one OS and arch: read each repository's ``dists/<suite>/Release`` (or a flat repo's
``Release``), fetch ``<component>/binary-<arch>/Packages.xz`` (checksums from Release verified),
turn every stanza into a libsolv solvable (Depends/Pre-Depends with alternatives and versions,
Provides, Conflicts/Breaks, Recommends as weak deps) and solve "install the package set" on an
empty system with Debian version ordering.
"""

from __future__ import annotations

import gzip
import lzma
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airlock.lockfile.model import DebIndexPin, DebPin, upstream_pin
from airlock.manifest.model import RepoSpec
from airlock.net.http import Net
from airlock.resolvers.repometa import MetadataError, get_index, get_verified
from airlock.resolvers.solving import solve

_DEP = re.compile(r"^\s*([^\s(]+)\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?")


@dataclass(frozen=True)
class DebRequest:
    os: str
    arch: str          # amd64, arm64
    packages: tuple[str, ...]
    repos: tuple[RepoSpec, ...]
    weak_deps: bool = False


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
        m = re.search(r"^Package:\s*(\S+)", block, re.M)
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
    raw = path.read_bytes()
    if raw[:6] == b"\xfd7zXZ\x00":
        raw = lzma.decompress(raw)
    elif raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", "replace")


def _indexes(net: Net, mirrors: Mapping[str, str], spec: RepoSpec, arch: str, what: str
             ) -> list[tuple[str, str, int, Path]]:
    """(url, sha256, size, local file) of each verified Packages index of a repository."""
    base = spec.url.rstrip("/")
    dist = f"{base}/dists/{spec.suite}" if spec.suite else base
    release = get_index(net, mirrors, f"{dist}/Release", f"{what}, repo {spec.name}")
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


def _dep(pool: Any, text: str) -> int:
    import solv

    flags = {"<<": solv.REL_LT, "<": solv.REL_LT | solv.REL_EQ, "<=": solv.REL_LT | solv.REL_EQ,
             "=": solv.REL_EQ, ">=": solv.REL_GT | solv.REL_EQ, ">": solv.REL_GT | solv.REL_EQ, ">>": solv.REL_GT}
    alts = []
    for alt in text.split("|"):
        m = _DEP.match(alt)
        if not m:
            continue
        name = m.group(1).split(":", 1)[0]  # python3:any -> python3
        dep = pool.str2id(name)
        if m.group(2):
            dep = pool.rel2id(dep, pool.str2id(m.group(3)), flags[m.group(2)])
        alts.append(dep)
    out = alts[0]
    for a in alts[1:]:
        out = pool.rel2id(out, a, solv.REL_OR)
    return out


def resolve_debs(net: Net, mirrors: Mapping[str, str], req: DebRequest) -> tuple[list[DebPin], list[DebIndexPin]]:
    import solv

    what = f"deb packages for {req.os} ({req.arch})"
    pool = solv.Pool()
    pool.setdisttype(solv.Pool.DISTTYPE_DEB)
    pool.setarch(req.arch)
    meta: dict[int, tuple[str, dict[str, str], str]] = {}  # solvable id -> (repo name, fields, base url)
    index_pins = []
    for spec in req.repos:
        repo = pool.add_repo(spec.name)
        for url, sha, size, path in _indexes(net, mirrors, spec, req.arch, what):
            index_pins.append(upstream_pin(DebIndexPin, f"{what}, repo {spec.name}", os=req.os, arch=req.arch,
                                           repo=spec.name, url=url, sha256=sha, size=size))
            for f in parse_stanzas(decompress(path)):
                if "Package" not in f or "Version" not in f or "Filename" not in f or "SHA256" not in f:
                    continue
                s = repo.add_solvable()
                s.name, s.evr = f["Package"], f["Version"]
                s.arch = "noarch" if f.get("Architecture") == "all" else f.get("Architecture", req.arch)
                s.add_deparray(solv.SOLVABLE_PROVIDES,
                               pool.rel2id(pool.str2id(s.name), pool.str2id(s.evr), solv.REL_EQ))
                for key, kind in (("Provides", solv.SOLVABLE_PROVIDES), ("Depends", solv.SOLVABLE_REQUIRES),
                                  ("Pre-Depends", solv.SOLVABLE_REQUIRES), ("Recommends", solv.SOLVABLE_RECOMMENDS),
                                  ("Conflicts", solv.SOLVABLE_CONFLICTS), ("Breaks", solv.SOLVABLE_CONFLICTS)):
                    for item in f.get(key, "").replace("\n", " ").split(","):
                        if item.strip():
                            s.add_deparray(kind, _dep(pool, item))
                meta[s.id] = (spec.name, f, spec.url.rstrip("/") + "/")
        repo.internalize()
    pool.createwhatprovides()
    chosen = solve(pool, req.packages, weak_deps=req.weak_deps, what=what)
    pins = []
    for s in chosen:
        repo_name, f, base = meta[s.id]
        declared = str(f.get("Size", "0"))
        pins.append(upstream_pin(DebPin, f"deb {s.name} ({req.os}, repo {repo_name})", os=req.os, name=s.name,
                                 version=s.evr, arch=f.get("Architecture", req.arch), repo=repo_name,
                                 url=base + f["Filename"], sha256=f["SHA256"],
                                 size=int(declared) if declared.isdigit() and len(declared) < 19 else -1))
    return sorted(pins, key=lambda p: (p.name, p.arch, p.version)), index_pins
