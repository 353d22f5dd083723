"""Every kind of lock content behind the :class:`~airlock.resolvers.base.Resolver` contract.

Files and images are per entry: an old pin is reused while what it was pinned from still holds.
OS packages (with their repositories' keys), the Python wheels and airlock's own runtime are closures:
reused while the sha256 of their inputs, kept in the lock's ``packages_inputs``, is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airlock.bootstrap import resolve as boot
from airlock.bootstrap.admin import AdminHost, admin_host
from airlock.lockfile.model import FilePin, ImagePin, Lock
from airlock.manifest.model import Manifest
from airlock.net.http import Net
from airlock.net.registry import Registry
from airlock.plan import Plan, package_set
from airlock.resolvers import ospackages
from airlock.resolvers import python as py
from airlock.resolvers.base import Part, Resolver, Verdict
from airlock.resolvers.files import FileRequest, FileResolver
from airlock.resolvers.images import ImageRequest, ImageResolver

Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class Context:
    """What every kind is built from. ``net`` is None for ``--check``, which resolves nothing."""
    manifest: Manifest
    plan: Plan
    old: Lock | None
    net: Net | None = None
    verify_files: bool = False
    upgrade_closures: bool = False  # a bare --upgrade: re-solve closures, accept rotated repository keys
    progress: Progress | None = None

    def network(self) -> Net:
        assert self.net is not None, "resolving needs the network (--check never resolves)"
        return self.net


def reusable_file(old: FilePin | None, req: FileRequest) -> bool:
    if old is None:
        return False
    algo, _, pinned = (req.checksum or "").partition(":")
    if algo == "sha256":
        return old.sha256 == pinned
    if algo == "sha512":
        return old.sha512 == pinned
    return True  # an unpinned extra file keeps the sha256 it was first hashed to


class Files:
    kind, per_entry = "file", True

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.old = {f.url: f for f in (ctx.old.file if ctx.old else [])}
        self._resolver = FileResolver(ctx.net, ctx.manifest.mirrors, verify=ctx.verify_files) if ctx.net else None

    def units(self) -> list[FileRequest]:
        return [FileRequest(f.name, f.arch, f.url, f.checksum, f.path, f.kubespray_var) for f in self.ctx.plan.files]

    def key(self, unit: FileRequest) -> str:
        return unit.url

    def names(self, unit: FileRequest) -> tuple[str, ...]:
        return unit.name, unit.url

    def reuse(self, unit: FileRequest) -> Part | None:
        prev = self.old.get(unit.url)
        if prev is None or not reusable_file(prev, unit):
            return None
        return Part({"file": [prev.model_copy(update={"name": unit.name, "arch": unit.arch, "path": unit.path,
                                                      "kubespray_var": unit.kubespray_var})]})

    def resolve(self, unit: FileRequest) -> Part:
        assert self._resolver is not None, "resolving needs the network (--check never resolves)"
        return Part({"file": [self._resolver.resolve(unit)]})

    def check(self, units: list[FileRequest], lock: Lock) -> Verdict:
        have = {f.url for f in lock.file}
        return Verdict(missing=[f"file {f.name} ({f.arch})" for f in units if f.url not in have],
                       extra=len(lock.file) - len(units))


class Images:
    kind, per_entry = "image", True

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.old = {i.ref: i for i in (ctx.old.image if ctx.old else [])}
        self._resolver = ImageResolver(Registry(ctx.net, ctx.manifest.mirrors)) if ctx.net else None

    def units(self) -> list[ImageRequest]:
        return [ImageRequest(i.name, i.ref, tuple(i.arch)) for i in self.ctx.plan.images]

    def key(self, unit: ImageRequest) -> str:
        return unit.ref.canonical

    def names(self, unit: ImageRequest) -> tuple[str, ...]:
        return unit.name, unit.ref.canonical, unit.ref.familiar

    def reuse(self, unit: ImageRequest) -> Part | None:
        prev = self.old.get(unit.ref)
        if prev is None or sorted(p.arch for p in prev.platforms) != sorted(unit.arches):
            return None
        return Part({"image": [prev.model_copy(update={"name": unit.name})]})

    def resolve(self, unit: ImageRequest) -> Part:
        assert self._resolver is not None, "resolving needs the network (--check never resolves)"
        pin: ImagePin = self._resolver.resolve(unit)
        prev = self.old.get(pin.ref)
        moved = [f"{pin.ref}: tag moved upstream from {prev.digest} to {pin.digest}"] \
            if prev is not None and prev.digest != pin.digest else []
        return Part({"image": [pin]}, moved=moved)

    def check(self, units: list[ImageRequest], lock: Lock) -> Verdict:
        have = {i.ref: sorted(p.arch for p in i.platforms) for i in lock.image}
        return Verdict(missing=[f"image {i.ref}" for i in units if have.get(i.ref) != sorted(i.arches)],
                       extra=len(lock.image) - len(units))


@dataclass(frozen=True)
class Closure:
    """One closure: where its input hash is kept in ``packages_inputs``, the hash, and what it is solved for."""
    input_key: str
    digest: str
    packages: tuple[str, ...] = ()
    host: AdminHost | None = None


class _ClosureKind:
    """What the closure kinds share: one unit per input hash, no per-name --upgrade, reused whole when the
    old lock was solved for the same inputs."""
    per_entry = False

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def key(self, unit: Closure) -> str:
        return unit.input_key

    def names(self, unit: Closure) -> tuple[str, ...]:
        return ()

    def _old_if_same_inputs(self, unit: Closure) -> Lock | None:
        """The old lock when it was solved for exactly these inputs (its pins can be reused), else None."""
        old = self.ctx.old
        return old if old is not None and old.packages_inputs.get(unit.input_key) == unit.digest else None


class OsPackages(_ClosureKind):
    kind = "packages"

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self._keys: ospackages.Keys | None = None

    def units(self) -> list[Closure]:
        m = self.ctx.manifest
        return [Closure(os_name, ospackages.input_hash(m, os_name, packages), tuple(packages))
                for os_name, packages in sorted(package_set(self.ctx.plan).items())]

    def reuse(self, unit: Closure) -> Part | None:
        old = self._old_if_same_inputs(unit)
        if old is None:
            return None
        return Part(ospackages.reused_os(old, unit.input_key), {unit.input_key: unit.digest})

    def resolve(self, unit: Closure) -> Part:
        if self._keys is None:  # one per run: each key URL is fetched once for all OSes
            self._keys = ospackages.Keys(self.ctx.network(), self.ctx.manifest, self.ctx.old,
                                         self.ctx.upgrade_closures)
        entries = ospackages.resolve_os(self.ctx.manifest, unit.input_key, list(unit.packages), self._keys,
                                        self.ctx.network(), self.ctx.progress)
        return Part(entries, {unit.input_key: unit.digest})

    def check(self, units: list[Closure], lock: Lock) -> Verdict:
        for u in units:
            if lock.packages_inputs.get(u.input_key) != u.digest:
                return Verdict(reason=f"the OS packages for {u.input_key} are not resolved for this manifest "
                                      "(run `airlock resolve`)")
        return Verdict()


class PythonWheels(_ClosureKind):
    kind = "python"

    def units(self) -> list[Closure]:
        plan = self.ctx.plan
        return [Closure("python", py.input_hash(self.ctx.manifest, plan.python_version, plan.python_requirements))]

    def reuse(self, unit: Closure) -> Part | None:
        old = self._old_if_same_inputs(unit)
        if old is None:
            return None
        return Part({"wheel": list(old.wheel)}, {unit.input_key: unit.digest})

    def resolve(self, unit: Closure) -> Part:
        plan = self.ctx.plan
        wheels = py.resolve_python(self.ctx.manifest, plan.python_version, plan.python_requirements,
                                   self.ctx.network())
        return Part({"wheel": wheels}, {unit.input_key: unit.digest})

    def check(self, units: list[Closure], lock: Lock) -> Verdict:
        if any(lock.packages_inputs.get(u.input_key) != u.digest for u in units):
            return Verdict(reason="the Python requirements are not resolved for this manifest (run `airlock resolve`)")
        return Verdict()


class BootstrapRuntime(_ClosureKind):
    """airlock's own runtime for the admin host; only a manifest naming its admin host carries it."""
    kind = "bootstrap"

    def units(self) -> list[Closure]:
        m = self.ctx.manifest
        if m.admin is None:
            return []
        host = admin_host(m)
        return [Closure(boot.INPUT_KEY, boot.input_hash(m, host), host=host)]

    def reuse(self, unit: Closure) -> Part | None:
        old = self._old_if_same_inputs(unit)
        if old is None:
            return None
        kept = boot.from_lock(old)
        return None if kept is None else _part(kept, unit)

    def resolve(self, unit: Closure) -> Part:
        assert unit.host is not None
        return _part(boot.resolve_bootstrap(self.ctx.manifest, unit.host, self.ctx.network()), unit)

    def check(self, units: list[Closure], lock: Lock) -> Verdict:
        if not units:
            if lock.bootstrap is not None:
                return Verdict(reason="the lock carries airlock's runtime but airlock.yaml has no admin: "
                                      "(run `airlock resolve`)")
        elif any(lock.packages_inputs.get(u.input_key) != u.digest for u in units):
            return Verdict(reason="airlock's own runtime for the admin host is not resolved for this manifest "
                                  "(run `airlock resolve`)")
        return Verdict()


def _part(b: boot.BootstrapLock, unit: Closure) -> Part:
    return Part({"bootstrap": [b.pin], "bootstrap_wheel": b.wheel, "bootstrap_rpm": b.rpm, "bootstrap_deb": b.deb,
                 "bootstrap_deb_index": b.deb_index}, {unit.input_key: unit.digest})


def all_kinds(ctx: Context) -> list[Resolver[Any]]:
    """In the order ``--check`` reports and closures are solved in."""
    return [Files(ctx), Images(ctx), OsPackages(ctx), PythonWheels(ctx), BootstrapRuntime(ctx)]
