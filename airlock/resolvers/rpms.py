"""Resolve an RPM package set to its full closure with libsolv, from repository metadata alone.

For one OS and arch: read each repository's ``repodata/repomd.xml``, fetch primary and filelists
(checksums verified), load them into libsolv, and solve "install the package set" on an empty
system: Requires (also on files), Provides, rich/boolean deps, Obsoletes, newest versions; weak deps
(Recommends) only when asked. A requested name is selected as dnf selects it (solving.dnf_jobs): a package
obsoleting the named one replaces it, the named one is locked too so dnf on the node finds the name.
Optionally also on top of a declared base system (``on_base``). Modular repositories (EL8/EL9 AppStream): packages of module
streams that are not a default stream are hidden, as dnf hides them; asking for one is an error.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airlock.bounded import MAX_JSON_BYTES, check_yaml
from airlock.errors import MetadataError
from airlock.lockfile.model import RpmPin, upstream_pin
from airlock.manifest.model import RepoSpec
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url
from airlock.resolvers.repometa import get_index, get_verified
from airlock.resolvers.solving import dnf_jobs, name_anchors, solve

NS = {"r": "http://linux.duke.edu/metadata/repo"}


@dataclass(frozen=True)
class RpmRequest:
    os: str
    arch: str          # rpm arch: x86_64, aarch64
    packages: tuple[str, ...]
    repos: tuple[RepoSpec, ...]
    weak_deps: bool = False
    # The node's base system: these packages resolved from these repositories are installed before the set.
    base_repos: tuple[RepoSpec, ...] = ()
    base_packages: tuple[str, ...] = ()


def _repomd(net: Net, mirrors: Mapping[str, str], spec: RepoSpec, what: str) -> dict[str, tuple[str, str, str]]:
    """type -> (href, checksum type, checksum) from repomd.xml."""
    base = spec.url.rstrip("/") + "/"
    raw = get_index(net, mirrors, base + "repodata/repomd.xml", what)
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise MetadataError(f"{what}: repomd.xml of {base} is not XML ({exc})") from None
    out = {}
    for data in root.findall("r:data", NS):
        loc = data.find("r:location", NS)
        ck = data.find("r:checksum", NS)
        if loc is not None and ck is not None:
            out[data.get("type", "")] = (loc.get("href", ""), ck.get("type", ""), (ck.text or "").strip())
    if "primary" not in out:
        raise MetadataError(f"{what}: {base}repodata/repomd.xml lists no primary metadata")
    return out


def _open(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(raw)
    if raw[:4] == b"\x28\xb5\x2f\xfd":
        try:
            # lazy: optional, not a dependency of airlock; only zstd metadata (EL10) needs it
            import zstandard  # type: ignore[import-not-found]  # optional, absent in CI
        except ImportError:
            raise MetadataError(f"{path.name}: repository metadata compressed with zstd needs the zstandard module",
                                hint="pip install zstandard (in airlock's environment)") from None

        return zstandard.ZstdDecompressor().decompress(raw, max_output_size=1 << 31)
    return raw


def _hidden_modular(modules_yaml: bytes) -> set[str]:
    """NEVRAs of packages in module streams that are not default streams."""

    # Upstream metadata (hash-checked against repomd.xml, but a mirror can serve anything).
    check_yaml(modules_yaml, MetadataError, "modules.yaml", max_bytes=MAX_JSON_BYTES)
    defaults: dict[str, str] = {}
    streams: list[tuple[str, str, list[str]]] = []
    for doc in yaml.safe_load_all(modules_yaml):
        if not isinstance(doc, dict):
            continue
        data = doc.get("data") or {}
        if doc.get("document") == "modulemd-defaults":
            defaults[str(data.get("module"))] = str(data.get("stream"))
        elif doc.get("document") == "modulemd":
            rpms = ((data.get("artifacts") or {}).get("rpms")) or []
            streams.append((str(data.get("name")), str(data.get("stream")), [str(r) for r in rpms]))
    hidden: set[str] = set()
    for name, stream, rpms in streams:
        if defaults.get(name) != stream:
            hidden.update(rpms)
    return hidden


def _load(pool: Any, net: Net, mirrors: Mapping[str, str], spec: RepoSpec, name: str, what: str) -> set[str]:
    """Load one repository's primary and filelists into ``pool`` as repo ``name``; the hidden modular NEVRAs."""
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

    md = _repomd(net, mirrors, spec, f"{what}, repo {spec.name}")
    base = spec.url.rstrip("/") + "/"
    repo = pool.add_repo(name)
    for kind in ("primary", "filelists"):
        if kind not in md:
            continue
        href, algo, digest = md[kind]
        path = get_verified(net, mirrors, base + href, algo, digest, f"{what}, repo {spec.name} {kind}")
        plain = path.with_name(path.name + ".xml")
        if not plain.exists():
            plain.write_bytes(_open(path))
        f = solv.xfopen(str(plain))
        if kind == "primary":
            repo.add_rpmmd(f, None, 0)
        else:
            repo.add_rpmmd(f, "FL", solv.Repo.REPO_EXTEND_SOLVABLES)
        f.close()
    if "modules" not in md:
        return set()
    href, algo, digest = md["modules"]
    path = get_verified(net, mirrors, base + href, algo, digest, f"{what}, repo {spec.name} modules")
    return _hidden_modular(_open(path))


def resolve_rpms(net: Net, mirrors: Mapping[str, str], req: RpmRequest) -> list[RpmPin]:
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

    what = f"rpm packages for {req.os} ({req.arch})"
    pool = solv.Pool()
    pool.setarch(req.arch)
    bases = {spec.name: spec.url.rstrip("/") + "/" for spec in req.repos}
    hidden: set[str] = set()
    for spec in req.repos:
        hidden |= _load(pool, net, mirrors, spec, spec.name, what)
    current = [s.id for s in pool.solvables_iter()]
    for spec in req.base_repos:
        _load(pool, net, mirrors, spec, BASE_PREFIX + spec.name, what)
    pool.addfileprovides()
    pool.createwhatprovides()

    locks = [pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_LOCK, s.id)
             for s in pool.solvables_iter() if _nevra(s) in hidden]
    modular = sorted(n for n in hidden if n.split("-")[0] in req.packages)
    hint = ("these packages are only in non-default module streams: " + ", ".join(modular[:5])) if modular \
        else "add the repository that provides it (repos:), or drop the package"
    if req.base_repos:
        pool.set_considered_list(current)
    jobs, named_by = dnf_jobs(pool, req.packages, what)
    chosen = solve(pool, locks + jobs, weak_deps=req.weak_deps, what=what, hint=hint)
    if req.base_repos:
        chosen += on_base(pool, req, current, locks, what, hint)
    named_by = {n: [s for s in named if _nevra(s) not in hidden] for n, named in named_by.items()}
    unique = {s.id: s for s in chosen + name_anchors(chosen, named_by, req.arch)}
    pins = {(p.name, p.epoch, p.version, p.release, p.arch): p for p in (_pin(s, req, bases) for s in unique.values())}
    return sorted(pins.values(), key=lambda p: (p.name, p.arch, p.version, p.release))


BASE_PREFIX = "base:"


def on_base(pool: Any, req: RpmRequest, current: list[int], locks: list[Any], what: str, hint: str) -> list[Any]:
    """What dnf downloads installing the set on a node that already holds ``req.base_packages`` from
    ``req.base_repos`` (the OS's minimal install, often an older point release): the set's packages plus the
    updates of base packages it drags in (a newer glibc needs the matching glibc-langpack too), so the site can
    serve that upgrade."""
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

    base_ids = [s.id for s in pool.solvables_iter() if s.repo.name.startswith(BASE_PREFIX)]
    pool.set_considered_list(base_ids)
    base_jobs, _ = dnf_jobs(pool, req.base_packages, f"{what}, base system")
    base = solve(pool, base_jobs, weak_deps=req.weak_deps, what=f"{what}, base system",
                 hint="check base_packages against base_repos")
    system = pool.add_repo("@System")
    for b in base:
        s = system.add_solvable()
        s.name, s.evr, s.arch = b.name, b.evr, b.arch
        for kind in (solv.SOLVABLE_PROVIDES, solv.SOLVABLE_REQUIRES, solv.SOLVABLE_CONFLICTS, solv.SOLVABLE_OBSOLETES):
            for dep in b.lookup_deparray(kind):
                s.add_deparray(kind, dep.id)
    system.internalize()
    pool.installed = system
    pool.set_considered_list(current + [s.id for s in system.solvables_iter()])
    pool.createwhatprovides()
    jobs, _ = dnf_jobs(pool, req.packages, what)
    return solve(pool, locks + jobs, weak_deps=req.weak_deps, what=f"{what}, on the base system", hint=hint)


def minimal_install(net: Net, mirrors: Mapping[str, str], specs: tuple[RepoSpec, ...], what: str,
                    group: str = "core") -> list[str]:
    """The packages of a minimal install from these repositories: the mandatory and default packages of the
    comps ``core`` group (what the installer's minimal environment installs)."""
    names: set[str] = set()
    for spec in specs:
        md = _repomd(net, mirrors, spec, f"{what}, repo {spec.name}")
        kind = next((k for k in ("group_gz", "group_xz", "group") if k in md), None)
        if kind is None:
            continue
        href, algo, digest = md[kind]
        path = get_verified(net, mirrors, spec.url.rstrip("/") + "/" + href, algo, digest,
                            f"{what}, repo {spec.name} comps")
        try:
            root = ET.fromstring(_open(path))
        except ET.ParseError as exc:
            raise MetadataError(f"{what}: the comps of repo {spec.name} is not XML ({exc})") from None
        for g in root.iter("group"):
            if (g.findtext("id") or "").strip() == group:
                names.update((r.text or "").strip() for r in g.iter("packagereq")
                             if r.get("type", "mandatory") in ("mandatory", "default") and (r.text or "").strip())
    if not names:
        raise MetadataError(f"{what}: the base repositories have no comps group {group!r} (the minimal install)",
                            hint="list the nodes' packages in base.<os>.packages")
    return sorted(names)


def _nevra(s: Any) -> str:
    evr = s.evr
    if ":" not in evr:
        evr = "0:" + evr
    return f"{s.name}-{evr}.{s.arch}"


def _pin(s: Any, req: RpmRequest, bases: dict[str, str]) -> RpmPin:
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

    evr = s.evr
    epoch, _, rest = evr.rpartition(":") if ":" in evr else ("0", "", evr)
    version, _, release = rest.rpartition("-")
    location = s.lookup_location()[0]
    chk = s.lookup_checksum(solv.SOLVABLE_CHECKSUM)
    size = s.lookup_num(solv.SOLVABLE_DOWNLOADSIZE)
    repo = s.repo.name
    sha256 = chk.hex() if chk is not None and chk.typestr() == "sha256" else None
    if not epoch.isdigit():
        epoch = "-1"  # refused by the model below, naming the package
    return upstream_pin(RpmPin, f"rpm {s.name} ({req.os}, repo {repo})", os=req.os, name=s.name, epoch=int(epoch),
                        version=version, release=release, arch=s.arch, repo=repo, url=bases[repo] + location,
                        sha256=sha256 or "", size=size)


def compute_missing_sha256(net: Net, mirrors: Mapping[str, str], pins: list[RpmPin]) -> list[RpmPin]:
    """Repos that only list sha1/md5: download those packages once and hash them."""
    out = []
    for p in pins:
        if p.sha256:
            out.append(p)
            continue
        h, size = hashlib.sha256(), 0
        with net.stream(rewrite_url(p.url, mirrors), what=f"rpm {p.name}") as resp:
            if resp.status_code != 200:
                raise MetadataError(f"rpm {p.name}: {p.url} answered HTTP {resp.status_code}")
            for chunk in resp.iter_bytes(1 << 20):
                h.update(chunk)
                size += len(chunk)
        out.append(p.model_copy(update={"sha256": h.hexdigest(), "size": size}))
    return out
