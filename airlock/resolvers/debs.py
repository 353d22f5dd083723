"""Resolve a Debian/Ubuntu package set to its full closure with libsolv (Debian semantics).

For one OS and arch: read each repository's ``dists/<suite>/Release`` (or a flat repo's
``Release``), fetch ``<component>/binary-<arch>/Packages.xz`` (checksums from Release verified),
turn every stanza into a libsolv solvable (Depends/Pre-Depends with alternatives and versions,
Provides, Conflicts/Breaks, Recommends as weak deps) and solve "install the package set" on an
empty system with Debian version ordering (dpkg's, see debversion.py) and Debian's Provides rules.
"""

from __future__ import annotations

import gzip
import lzma
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.errors import MetadataError, UnsatisfiableError
from airlock.lockfile.model import DebIndexPin, DebPin, upstream_pin
from airlock.manifest.model import RepoSpec
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url
from airlock.resolvers.aptchoice import AptChoice
from airlock.resolvers.debversion import ranks
from airlock.resolvers.keys import verified_release
from airlock.resolvers.repometa import get_index, get_verified
from airlock.resolvers.solving import NOT_FOUND_HINT, solve

_DEP = re.compile(r"^\s*([^\s(]+)\s*(?:\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\))?")


@dataclass(frozen=True)
class DebRequest:
    os: str
    arch: str          # amd64, arm64
    packages: tuple[str, ...]
    repos: tuple[RepoSpec, ...]
    weak_deps: bool = False
    # The node's base system: these packages resolved (as apt would) from these repositories are installed.
    base_repos: tuple[RepoSpec, ...] = ()
    base_packages: tuple[str, ...] = ()
    # repo name -> its pinned signing key: that repo's Release must carry a good signature by it.
    keys: Mapping[str, bytes] = field(default_factory=dict)
    base_keys: Mapping[str, bytes] = field(default_factory=dict)


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


VIRTUAL = "/virtual"  # suffix of unversioned Provides; '/' is never in a Debian package name


def _parse_dep(text: str) -> list[tuple[str, str | None, str | None]]:
    """The alternatives of one dependency: (name, operator, version); ``python3:any`` -> ``python3``."""
    out = []
    for alt in text.split("|"):
        m = _DEP.match(alt)
        if m:
            out.append((m.group(1).split(":", 1)[0], m.group(2), m.group(3)))
    return out


def _fields(f: dict[str, str], key: str) -> list[list[tuple[str, str | None, str | None]]]:
    return [d for item in f.get(key, "").replace("\n", " ").split(",") if item.strip() and (d := _parse_dep(item))]


_FLAGS = {"<<": ("LT",), "<": ("LT", "EQ"), "<=": ("LT", "EQ"), "=": ("EQ",), ">=": ("GT", "EQ"),
          ">": ("GT", "EQ"), ">>": ("GT",)}


class _Deps:
    """Debian dependencies as RPM-pool dependencies: versions become their dpkg rank, and an unversioned
    Provides satisfies only unversioned dependencies (Debian Policy 7.5) — RPM lets it satisfy any version."""

    def __init__(self, pool: Any, rank: dict[str, str], virtual: set[str]) -> None:
        import solv

        self.pool, self.rank, self.virtual = pool, rank, virtual
        self.flags = {op: sum(getattr(solv, "REL_" + f) for f in fs) for op, fs in _FLAGS.items()}
        self.rel_or = solv.REL_OR

    def alternatives(self, alts: list[tuple[str, str | None, str | None]]) -> list[int]:
        pool, out = self.pool, []
        for name, op, version in alts:
            if op and version:
                out.append(pool.rel2id(pool.str2id(name), pool.str2id(self.rank[version]), self.flags[op]))
            else:
                out.append(pool.str2id(name))
                if name in self.virtual:
                    out.append(pool.str2id(name + VIRTUAL))
        return out

    def requires(self, alts: list[tuple[str, str | None, str | None]]) -> int:
        ids = self.alternatives(alts)
        dep = ids[0]
        for a in ids[1:]:
            dep = self.pool.rel2id(dep, a, self.rel_or)
        return dep


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


_KINDS = (("Depends", "SOLVABLE_REQUIRES"), ("Pre-Depends", "SOLVABLE_REQUIRES"),
          ("Recommends", "SOLVABLE_RECOMMENDS"), ("Conflicts", "SOLVABLE_CONFLICTS"), ("Breaks", "SOLVABLE_CONFLICTS"))
_KEYS = ("Provides",) + tuple(k for k, _ in _KINDS)


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


def closure(req: DebRequest, stanzas: list[tuple[RepoSpec, dict[str, str]]], what: str,
            base_stanzas: list[tuple[RepoSpec, dict[str, str]]] | None = None) -> list[tuple[str, dict[str, str], str]]:
    """(repo name, stanza, repo base URL) of every package ``apt-get install`` installs on an empty system, and
    on one holding ``req.base_packages`` from ``base_stanzas`` (with the upgrades of base packages that brings)."""
    import solv

    parsed = {id(f): {key: _fields(f, key) for key in _KEYS} for _, f in stanzas}

    def fields(f: dict[str, str], key: str) -> list[list[tuple[str, str | None, str | None]]]:
        cached = parsed.get(id(f))
        return cached[key] if cached is not None else _fields(f, key)

    versions, virtual = set(), set()
    for _, f in stanzas:
        versions.add(f["Version"])
        for key in _KEYS:
            for alts in fields(f, key):
                for name, _op, version in alts:
                    if version:
                        versions.add(version)
                    elif key == "Provides":
                        virtual.add(name)
    pool = solv.Pool()
    pool.setarch(req.arch)
    deps = _Deps(pool, ranks(versions), virtual)
    meta: dict[int, tuple[str, dict[str, str], str]] = {}  # solvable id -> (repo name, fields, base url)
    repos = {spec.name: pool.add_repo(spec.name) for spec in req.repos}
    for spec, f in stanzas:
        s = repos[spec.name].add_solvable()
        s.name, s.evr = f["Package"], deps.rank[f["Version"]]
        # The RPM pool's arch-independent arch; the pin keeps Debian's own ("all").
        s.arch = "noarch" if f.get("Architecture") == "all" else f.get("Architecture", req.arch)
        s.add_deparray(solv.SOLVABLE_PROVIDES, pool.rel2id(pool.str2id(s.name), pool.str2id(s.evr), solv.REL_EQ))
        for name, op, version in (alts[0] for alts in fields(f, "Provides")):
            s.add_deparray(solv.SOLVABLE_PROVIDES, deps.alternatives([(name, op, version)])[0] if version
                           else pool.str2id(name + VIRTUAL))
        for key, kind in _KINDS:
            for alts in fields(f, key):
                if kind == "SOLVABLE_CONFLICTS":  # a conflict with any alternative is its own conflict
                    for dep in deps.alternatives(alts):
                        s.add_deparray(solv.SOLVABLE_CONFLICTS, dep)
                else:
                    s.add_deparray(getattr(solv, kind), deps.requires(alts))
        meta[s.id] = (spec.name, f, spec.url.rstrip("/") + "/")
    for repo in repos.values():
        repo.internalize()
    pool.createwhatprovides()
    names = apt_names(pool, req.packages, what)
    favoured = AptChoice((f for _, f in stanzas), fields, weak_deps=req.weak_deps).install(names)
    if req.base_packages:
        base = AptChoice((f for _, f in base_stanzas or []), _fields)
        missing = sorted(n for n in req.base_packages if n not in base.cand)
        if missing:
            raise UnsatisfiableError(f"{what}: the base repositories have no {', '.join(missing)}",
                                     hint="check base_packages against base_repos")
        installed = {n: base.cand[n] for n in base.install(req.base_packages)}
        favoured |= AptChoice((f for _, f in stanzas), fields, weak_deps=req.weak_deps,
                              installed=installed).install(names)
    # apt's picks are installed outright (a real package apt marks although a provider already satisfies the
    # dependency stays in); libsolv checks they fit together and adds what a conflict makes necessary.
    jobs = [j for n in sorted(set(names) | favoured)
            for j in pool.select(n, solv.Selection.SELECTION_NAME).jobs(solv.Job.SOLVER_INSTALL)]
    return [meta[s.id] for s in solve(pool, jobs, weak_deps=req.weak_deps, what=what)]


def apt_names(pool: Any, packages: tuple[str, ...], what: str) -> list[str]:
    """``apt-get install NAME`` as apt selects: the package named NAME; a name only provided (a virtual
    package) is installed through its provider when exactly one package provides it, and refused, naming them,
    when several do — apt asks the user to pick one."""
    import solv

    out = []
    for name in packages:
        if not pool.select(name, solv.Selection.SELECTION_NAME).isempty():
            out.append(name)
            continue
        providers = {s.name for dep in (name, name + VIRTUAL) for s in pool.whatprovides(pool.str2id(dep))}
        if not providers:
            raise UnsatisfiableError(f"{what}: no repository provides {name!r}", hint=NOT_FOUND_HINT)
        if len(providers) > 1:
            raise UnsatisfiableError(f"{what}: {name!r} is a virtual package provided by "
                                     + ", ".join(sorted(providers)),
                                     hint=f"name one of them instead of {name!r} (apt does not pick for you)")
        out.append(providers.pop())
    return out
