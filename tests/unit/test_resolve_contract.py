"""resolve's loop over the Resolver contract: reuse first, per-entry kinds on the pool, closures in turn."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from airlock.lockfile.model import Lock
from airlock.reference import parse_ref
from airlock.resolve import ResolveOptions, ResolveResult, _pin_all
from airlock.resolvers.base import Part, Resolver, Verdict
from airlock.resolvers.files import FileRequest
from airlock.resolvers.images import ImageRequest
from airlock.resolvers.kinds import BootstrapRuntime, Context, Files, Images, OsPackages, PythonWheels
from tests.unit.lockfile.test_lockfile import sample


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


def _lock() -> Lock:
    return sample()


def _ctx(old: Lock | None) -> Context:
    return Context(manifest=None, plan=None, old=old)  # type: ignore[arg-type]  # reuse/check read neither


def test_files_reuse_renames_the_old_pin_and_check_counts_missing_and_extra() -> None:
    lock = _lock()
    files = Files(_ctx(lock))
    same = FileRequest("kubelet-new", "amd64", "https://dl.k8s.io/a", f"sha256:{'a' * 64}", "dl/x", None)
    kept = files.reuse(same)
    assert kept is not None and [(p.name, p.path, p.kubespray_var) for p in kept.entries["file"]] == \
        [("kubelet-new", "dl/x", None)]
    assert files.reuse(FileRequest("k", "amd64", "https://dl.k8s.io/a", f"sha256:{'c' * 64}", "p", None)) is None
    assert files.reuse(FileRequest("k", "amd64", "https://dl.k8s.io/new", None, "p", None)) is None
    gone = FileRequest("kubectl", "arm64", "https://dl.k8s.io/c", None, "c", None)
    verdict = files.check([same, gone], lock)
    assert verdict.missing == ["file kubectl (arm64)"] and verdict.extra == 0
    assert files.check([same], lock).extra == 1


def test_images_reuse_only_for_the_same_arches() -> None:
    lock = _lock()
    images = Images(_ctx(lock))
    ref = parse_ref("r/a:1")
    kept = images.reuse(ImageRequest("a2", ref, ("arm64",)))  # the sample pins r/a:1 for arm64 only
    assert kept is not None and [p.name for p in kept.entries["image"]] == ["a2"]
    assert images.reuse(ImageRequest("a2", ref, ("amd64", "arm64"))) is None
    verdict = images.check([ImageRequest("a", ref, ("amd64",))], lock)
    assert verdict.missing == [f"image {ref}"] and verdict.extra == 1


def test_a_lock_without_runtime_is_current_for_a_manifest_without_admin() -> None:
    runtime = BootstrapRuntime(_ctx(None))
    assert runtime.check([], _lock()) == Verdict()
