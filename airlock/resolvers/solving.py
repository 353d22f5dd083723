"""The one libsolv solve both package formats use, and how each package manager turns a requested name into
candidates (dnf and apt differ; the closure must be what the node's package manager installs)."""

from __future__ import annotations

import functools
from typing import Any

from airlock.errors import UnsatisfiableError

NOT_FOUND_HINT = "check the package name, or add a repository with repos: in airlock.yaml"


def one_of(pool: Any, ids: list[int]) -> Any:
    """A job installing exactly one of ``ids``, picked by libsolv's policy (best arch, newest, not obsoleted)."""
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

    return pool.Job(solv.Job.SOLVER_SOLVABLE_ONE_OF | solv.Job.SOLVER_INSTALL, pool.towhatprovides(ids))


def dnf_jobs(pool: Any, packages: tuple[str, ...], what: str) -> tuple[list[Any], dict[str, list[Any]]]:
    """``dnf install NAME`` as dnf 4/5 selects (obsoletes=1, dnf's default): the packages named NAME plus every
    package obsoleting one of them, one of which is installed — so asking for ``ebtables`` installs
    ``iptables-ebtables`` where that obsoletes it. A name no package has is looked up as a provide, then a file.
    Also returns, per requested name, the packages carrying that name (see ``name_anchors``)."""
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

    jobs, named_by = [], {}
    for name in packages:
        named = [s for s in pool.select(name, solv.Selection.SELECTION_NAME).solvables() if s.arch != "src"]
        if named:
            ids = {s.id for s in named}
            for s in named:
                nevr = pool.rel2id(pool.str2id(s.name), pool.str2id(s.evr), solv.REL_EQ)
                ids.update(o.id for o in pool.whatmatchesdep(solv.SOLVABLE_OBSOLETES, nevr) if o.arch != "src")
            jobs.append(one_of(pool, sorted(ids)))
            named_by[name] = named
            continue
        sel = pool.select(name, solv.Selection.SELECTION_PROVIDES | solv.Selection.SELECTION_FILELIST)
        if sel.isempty():
            raise UnsatisfiableError(f"{what}: no repository provides {name!r}", hint=NOT_FOUND_HINT)
        jobs += sel.jobs(solv.Job.SOLVER_INSTALL)
    return jobs, named_by


def name_anchors(chosen: list[Any], named_by: dict[str, list[Any]], arch: str) -> list[Any]:
    """For a requested name dnf replaces by its obsoleter, the newest package of that name too: dnf on the node
    must find the name before it looks for what obsoletes it (``No match for argument: ebtables`` otherwise).
    It is served, never installed."""
    ids = {s.id for s in chosen}
    out = []
    for named in named_by.values():
        fits = [s for s in named if s.arch in (arch, "noarch")]
        if fits and not any(s.id in ids for s in named):
            out.append(max(fits, key=functools.cmp_to_key(_evrcmp)))
    return out


def _evrcmp(a: Any, b: Any) -> int:
    return int(a.evrcmp(b))


def solve(pool: Any, jobs: list[Any], *, weak_deps: bool, what: str,
          hint: str = "add the repository that provides it (repos:), or drop the package") -> list[Any]:
    """The solvables to install on an empty system, newest first by libsolv's policy."""
    import solv  # lazy: libsolv only when solving; apply imports the resolvers without solving

    solver = pool.Solver()
    solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if weak_deps else 1)
    problems = solver.solve(jobs)
    if problems:
        raise UnsatisfiableError(f"{what}: " + "; ".join(str(p) for p in problems), hint=hint)
    return list(solver.transaction().newsolvables())
