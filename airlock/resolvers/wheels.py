"""Resolve the Kubespray venv's requirements for the admin host's Python, per arch, like pip would.

Target environment (never this machine's): CPython ``python.version``, Linux, glibc of the OS,
``x86_64``/``aarch64``. Wheel tags are every manylinux tag that glibc supports (``manylinux_2_X``
down to 2_17, with the legacy ``manylinux2014``/``2010``/``1`` aliases) for cp3X, abi3 and pure
wheels, most specific first, as pip orders them. Resolution backtracks (resolvelib); per project
the newest acceptable version wins, with the best-ranked compatible wheel; an sdist only when a
version has no compatible wheel (flagged in the lock).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, Resolver

from airlock.errors import WheelResolutionError
from airlock.lockfile.model import WheelPin, upstream_pin
from airlock.net.mirrors import rewrite_url
from airlock.resolvers.pypi import Dist, Index, requires_dist


def manylinux_platforms(glibc: str, arch: str) -> list[str]:
    major, minor = (int(x) for x in glibc.split(".")[:2])
    lowest = 5 if arch == "x86_64" else 17
    out = []
    for m in range(minor, lowest - 1, -1):
        out.append(f"manylinux_{major}_{m}_{arch}")
        legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}.get(m)
        if legacy and (arch == "x86_64" or m == 17):
            out.append(f"{legacy}_{arch}")
    return out


def target_tags(python: str, glibc: str, arch: str) -> list[Tag]:
    major, minor = (int(x) for x in python.split("."))
    platforms = manylinux_platforms(glibc, arch)
    interp = f"cp{major}{minor}"
    return list(cpython_tags((major, minor), abis=[interp], platforms=platforms)) + \
        list(compatible_tags((major, minor), interp, platforms))


def target_environment(python: str, arch: str) -> dict[str, str]:
    env: dict[str, str] = {k: str(v) for k, v in default_environment().items()}
    env.update({"python_version": python, "python_full_version": f"{python}.0", "implementation_name": "cpython",
                "implementation_version": f"{python}.0", "platform_python_implementation": "CPython",
                "platform_system": "Linux", "sys_platform": "linux", "os_name": "posix", "platform_machine": arch,
                "platform_release": "", "platform_version": ""})
    return env


@dataclass(frozen=True)
class Candidate:
    name: str
    version: Version
    dist: Dist
    extras: frozenset[str] = frozenset()
    sdist: bool = False


@dataclass
class Target:
    python: str
    glibc: str
    arch: str
    tags: list[Tag] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.tags = target_tags(self.python, self.glibc, self.arch)
        self.rank = {t: i for i, t in enumerate(self.tags)}
        self.env = target_environment(self.python, self.arch)
        self.version = Version(f"{self.python}.0")

    @property
    def label(self) -> str:
        return f"cp{self.python.replace('.', '')}-{self.arch}"


class Provider(AbstractProvider):
    def __init__(self, index: Index, target: Target):
        self.index, self.target = index, target

    def identify(self, requirement_or_candidate: Any) -> str:
        extras = sorted(requirement_or_candidate.extras)
        name = canonicalize_name(requirement_or_candidate.name)
        return f"{name}[{','.join(extras)}]" if extras else name

    def get_preference(self, identifier: str, resolutions: Mapping[str, Any], candidates: Mapping[str, Any],
                       information: Mapping[str, Any], backtrack_causes: Sequence[Any]) -> Any:
        pinned = any(any(s.operator in ("==", "===") for s in r.requirement.specifier)
                     for r in information[identifier])
        causes = {c.requirement.name for c in backtrack_causes} | {c.parent.name for c in backtrack_causes if c.parent}
        return (not pinned, identifier.split("[")[0] not in causes, identifier)

    def _best(self, dists: Iterable[Dist]) -> tuple[Dist | None, bool]:
        best, best_rank, sdist = None, None, None
        for d in dists:
            if d.yanked:
                continue
            if d.requires_python:
                try:
                    if self.target.version not in SpecifierSet(d.requires_python):
                        continue
                except Exception:  # an unparseable requires-python: skip the file, as pip does
                    continue
            if d.filename.endswith(".whl"):
                try:
                    _, _, _, tags = parse_wheel_filename(d.filename)
                except Exception:
                    continue
                ranks = [self.target.rank[t] for t in tags if t in self.target.rank]
                if ranks and (best_rank is None or min(ranks) < best_rank):
                    best, best_rank = d, min(ranks)
            elif d.filename.endswith((".tar.gz", ".zip")) and sdist is None:
                sdist = d
        return (best, False) if best else (sdist, sdist is not None)

    def find_matches(self, identifier: str, requirements: Mapping[str, Iterator[Any]],
                     incompatibilities: Mapping[str, Iterator[Any]]) -> list[Candidate]:
        name = identifier.split("[")[0]
        extras = frozenset(identifier[len(name) + 1:-1].split(",")) if "[" in identifier else frozenset()
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        by_version: dict[Version, list[Dist]] = {}
        for d in self.index.files(name):
            v = _version_of(d.filename, name)
            if v is not None:
                by_version.setdefault(v, []).append(d)
        out = []
        for v in sorted(by_version, reverse=True):
            if v in bad or not all(r.specifier.contains(v, prereleases=r.specifier.prereleases) for r in reqs):
                continue
            dist, is_sdist = self._best(by_version[v])
            if dist is not None:
                out.append(Candidate(name, v, dist, extras, is_sdist))
        # PEP 440 (as pip): a pre-release only when asked for or when no final release fits;
        # packaging >= 25 no longer leaves them out of contains() by itself.
        if not any(r.specifier.prereleases for r in reqs) and any(not c.version.is_prerelease for c in out):
            out = [c for c in out if not c.version.is_prerelease]
        return out

    def is_satisfied_by(self, requirement: Requirement, candidate: Candidate) -> bool:
        return canonicalize_name(requirement.name) == candidate.name and \
            requirement.specifier.contains(candidate.version, prereleases=True)

    def get_dependencies(self, candidate: Candidate) -> list[Requirement]:
        deps = []
        if candidate.extras:  # name[extra] depends on name==version plus the extra's requirements
            deps.append(Requirement(f"{candidate.name}=={candidate.version}"))
        meta = self.index.metadata(candidate.dist, f"python package {candidate.name} {candidate.version}")
        for line in requires_dist(meta):
            try:
                req = Requirement(line)
            except InvalidRequirement:
                continue
            if req.marker is None:
                if not candidate.extras:
                    deps.append(req)
                continue
            envs = [dict(self.target.env, extra="")] if not candidate.extras else \
                [dict(self.target.env, extra=e) for e in candidate.extras]
            if candidate.extras:
                if any(req.marker.evaluate(e) for e in envs) and "extra" in str(req.marker):
                    deps.append(req)
            elif req.marker.evaluate(envs[0]):
                deps.append(req)
        return deps


def _mirrored(index: Index, url: str) -> str:
    return rewrite_url(url, index.mirrors)


def _version_of(filename: str, name: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            n, v, _, _ = parse_wheel_filename(filename)
        else:
            n, v = parse_sdist_filename(filename)
    except Exception:
        return None
    return v if canonicalize_name(n) == name else None


def resolve_wheels(index: Index, requirements: list[str], targets: list[Target]) -> list[WheelPin]:
    pins: dict[str, dict[str, Any]] = {}
    for target in targets:
        reqs = []
        for line in requirements:
            try:
                req = Requirement(line)
            except InvalidRequirement as exc:
                raise WheelResolutionError(f"invalid Python requirement {line!r}: {exc}") from None
            if req.marker is None or req.marker.evaluate(dict(target.env, extra="")):
                reqs.append(req)
        try:
            result = Resolver(Provider(index, target), BaseReporter()).resolve(reqs, max_rounds=2000)
        except ResolutionImpossible as exc:
            chain = "; ".join(f"{c.requirement}" + (f" (required by {c.parent.name} {c.parent.version})"
                                                    if c.parent else " (requested)") for c in exc.causes)
            raise WheelResolutionError(f"Python requirements for {target.label} cannot be satisfied: {chain}",
                                       hint="relax or change python.requirements, or the python.version") from None
        via: dict[str, set[str]] = {}
        for key, crit in result.criteria.items():
            for info in crit.information:
                via.setdefault(key.split("[")[0], set()).add(info.parent.name if info.parent else "-r requirements")
        for key, cand in result.mapping.items():
            if "[" in key:
                continue
            d = cand.dist
            entry = pins.setdefault(d.filename, {"cand": cand, "platforms": set(), "via": set()})
            entry["platforms"].add(target.label)
            entry["via"] |= {v for v in via.get(key, set()) if v != cand.name}
    out = []
    for filename, e in pins.items():
        if not e["cand"].dist.size:  # a PEP 503 page has no sizes: ask the server
            resp = index.net.request("HEAD", _mirrored(index, e["cand"].dist.url), what=f"python package {filename}")
            length = resp.headers.get("Content-Length", "")
            e["size"] = int(length) if length.isdigit() else 0
        c: Candidate = e["cand"]
        if not c.dist.sha256:
            raise WheelResolutionError(f"python package {c.name} {c.version}: the index gives no sha256 for {filename}",
                                       hint="use an index that lists sha256 hashes (PEP 503 #sha256= or PEP 691)")
        out.append(upstream_pin(WheelPin, f"python package {c.name} {c.version}", name=c.name, version=str(c.version),
                                filename=filename, url=c.dist.url, sha256=c.dist.sha256,
                                size=c.dist.size or e.get("size", 0), requires_python=c.dist.requires_python,
                                platforms=sorted(e["platforms"]), via=sorted(e["via"]), sdist=c.sdist))
    return sorted(out, key=lambda w: (w.name, w.filename))


