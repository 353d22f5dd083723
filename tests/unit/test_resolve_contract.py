"""resolve's loop over the Resolver contract: reuse first, per-entry kinds on the pool, closures in turn."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from airlock.lockfile.model import Lock
from airlock.resolve import ResolveOptions, ResolveResult, _pin_all
from airlock.resolvers.base import Part, Resolver, Verdict
from airlock.resolvers.kinds import BootstrapRuntime, Files, Images, OsPackages, PythonWheels


class Fake:
    """A kind whose old lock pins the units in ``kept``."""

    def __init__(self, kind: str, per_entry: bool, units: list[str], kept: set[str]):
        self.kind, self.per_entry, self._units, self.kept = kind, per_entry, units, kept
        self.resolved: list[str] = []
        self.threads: set[str] = set()

    def units(self) -> list[str]:
        return self._units

    def key(self, unit: str) -> str:
        return unit

    def names(self, unit: str) -> tuple[str, ...]:
        return (unit,) if self.per_entry else ()

    def reuse(self, unit: str) -> Part | None:
        return Part({self.kind: [f"old {unit}"]}) if unit in self.kept else None

    def resolve(self, unit: str) -> Part:
        self.resolved.append(unit)
        self.threads.add(threading.current_thread().name)
        return Part({self.kind: [f"new {unit}"]}, inputs={unit: "digest"} if not self.per_entry else {})

    def check(self, units: list[str], lock: Lock) -> Verdict:
        return Verdict()


def run(kinds: list[Fake], opts: ResolveOptions) -> tuple[list[Part], ResolveResult]:
    result = ResolveResult(lock=None, plan=None)  # type: ignore[arg-type]  # _pin_all fills only the counts
    seen: list[tuple[str, str]] = []
    parts = _pin_all(list(kinds), opts, lambda k, u: seen.append((k, u)), result)
    assert sorted(seen) == sorted((k.kind, u) for k in kinds if k.per_entry for u in k.resolved)
    return parts, result


def pins(parts: list[Part]) -> list[str]:
    return sorted(p for part in parts for pins in part.entries.values() for p in pins)


def test_reuse_counts_and_closures() -> None:
    files = Fake("file", True, ["a", "b"], {"a"})
    os_ = Fake("packages", False, ["debian-12"], {"debian-12"})
    parts, result = run([files, os_], ResolveOptions())
    assert pins(parts) == ["new b", "old a", "old debian-12"]
    assert (result.reused, result.resolved) == (1, 1)  # closures are not counted as files/images
    assert files.resolved == ["b"] and os_.resolved == []


def test_upgrade_by_name_reaches_only_entries_it_names() -> None:
    files = Fake("file", True, ["a", "b"], {"a", "b"})
    os_ = Fake("packages", False, ["debian-12"], {"debian-12"})
    run([files, os_], ResolveOptions(upgrade=True, upgrade_names=frozenset({"b"})))
    assert files.resolved == ["b"] and os_.resolved == []


def test_bare_upgrade_re_resolves_closures_too() -> None:
    files = Fake("file", True, ["a"], {"a"})
    os_ = Fake("packages", False, ["debian-12"], {"debian-12"})
    parts, _ = run([files, os_], ResolveOptions(upgrade=True))
    assert files.resolved == ["a"] and os_.resolved == ["debian-12"]
    assert {"debian-12": "digest"} in [p.inputs for p in parts]


def test_entries_run_on_the_pool_and_closures_on_the_caller() -> None:
    files = Fake("file", True, ["a", "b", "c"], set())
    os_ = Fake("packages", False, ["x"], set())
    run([files, os_], ResolveOptions(concurrency=2))
    assert threading.current_thread().name not in files.threads
    assert os_.threads == {threading.current_thread().name}


def test_first_failure_is_raised() -> None:
    class Broken(Fake):
        def resolve(self, unit: str) -> Part:
            raise ValueError(unit)

    with pytest.raises(ValueError, match="a"):
        run([Broken("file", True, ["a"], set())], ResolveOptions())


@pytest.mark.parametrize("kind", [Files, Images, OsPackages, PythonWheels, BootstrapRuntime])
def test_every_kind_follows_the_contract(kind: type) -> None:
    members = [m for m in dir(Resolver) if not m.startswith("_")] + ["kind", "per_entry"]
    for name in members:
        assert hasattr(kind, name), f"{kind.__name__} lacks {name}"
    checked: Any = kind
    assert isinstance(checked.per_entry, bool)
