"""The one libsolv solve both package formats use: install a package set on an empty system."""

from __future__ import annotations

from typing import Any

from airlock.errors import AirlockError


class UnsatisfiableError(AirlockError):
    """The package set cannot be installed from the repositories (names package, arch, capability)."""


def solve(pool: Any, packages: tuple[str, ...], *, weak_deps: bool, what: str, jobs: list[Any] | None = None,
          hint: str = "add the repository that provides it (repos:), or drop the package") -> list[Any]:
    """The solvables to install, newest first by libsolv's policy; ``jobs`` are extra (lock) jobs."""
    import solv

    jobs = list(jobs or [])
    for name in packages:
        sel = pool.select(name, solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_PROVIDES)
        if sel.isempty():
            raise UnsatisfiableError(f"{what}: no repository provides {name!r}",
                                     hint="check the package name, or add a repository with repos: in airlock.yaml")
        jobs += sel.jobs(solv.Job.SOLVER_INSTALL)
    solver = pool.Solver()
    solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 0 if weak_deps else 1)
    problems = solver.solve(jobs)
    if problems:
        raise UnsatisfiableError(f"{what}: " + "; ".join(str(p) for p in problems), hint=hint)
    return list(solver.transaction().newsolvables())
