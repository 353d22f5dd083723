"""The closure of a Debian/Ubuntu package set with libsolv (Debian semantics), for :mod:`airlock.resolvers.debs`.

Every Packages stanza becomes a libsolv solvable (Depends/Pre-Depends with alternatives and versions,
Provides, Conflicts/Breaks, Recommends as weak deps); "install the package set" is solved on an empty
system with Debian version ordering (dpkg's, see debversion.py) and Debian's Provides rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.errors import UnsatisfiableError
from airlock.manifest.model import RepoSpec
from airlock.resolvers.aptchoice import AptChoice
from airlock.resolvers.debversion import ranks
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
        import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

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


_KINDS = (("Depends", "SOLVABLE_REQUIRES"), ("Pre-Depends", "SOLVABLE_REQUIRES"),
          ("Recommends", "SOLVABLE_RECOMMENDS"), ("Conflicts", "SOLVABLE_CONFLICTS"), ("Breaks", "SOLVABLE_CONFLICTS"))
_KEYS = ("Provides",) + tuple(k for k, _ in _KINDS)


def closure(req: DebRequest, stanzas: list[tuple[RepoSpec, dict[str, str]]], what: str,
            base_stanzas: list[tuple[RepoSpec, dict[str, str]]] | None = None) -> list[tuple[str, dict[str, str], str]]:
    """(repo name, stanza, repo base URL) of every package ``apt-get install`` installs on an empty system, and
    on one holding ``req.base_packages`` from ``base_stanzas`` (with the upgrades of base packages that brings)."""
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

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
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

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
