"""``airlock resolve``: turn the plan into a lock, reusing every pin whose input did not change.

Network work is only: the Kubespray source (when a URL and not cached), HEAD/GET of files that are
not yet pinned, and registry manifests of images that are not yet pinned.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from airlock.digest import canonical_sha256
from airlock.kubespray.source import Source
from airlock.lockfile import read_lock, write_lock
from airlock.lockfile.model import Inputs, KubesprayPin, Lock
from airlock.manifest import load_manifest
from airlock.manifest.loader import LoadedManifest
from airlock.net.http import Net
from airlock.parallel import run_all
from airlock.plan import Plan, build_plan, open_manifest_source
from airlock.resolvers.base import Part, Resolver
from airlock.resolvers.kinds import Context, all_kinds
from airlock.resolvers.kinds import reusable_file as _reusable_file  # noqa: F401  # its rules are tested here


@dataclass
class ResolveOptions:
    upgrade: bool = False
    upgrade_names: frozenset[str] = frozenset()  # empty with upgrade=True: everything
    concurrency: int = 8
    verify_files: bool = False
    ca_file: str | None = None
    insecure_registries: frozenset[str] = frozenset()
    transport: Any = None


@dataclass
class ResolveResult:
    lock: Lock
    plan: Plan
    reused: int = 0
    resolved: int = 0
    moved: list[str] = field(default_factory=list)
    path: Path | None = None  # where resolve_lock wrote it
    written: bool = False  # False: that file already had these bytes


def manifest_digest(loaded: LoadedManifest) -> str:
    """sha256 over the normalized manifest. Mirrors are left out: they never change what is pinned."""
    # ``ntp`` only when set: manifests without it keep the digest they had before the key existed.
    data = loaded.manifest.model_dump(mode="json", exclude={"mirrors"} | (set() if loaded.manifest.ntp else {"ntp"}))
    return canonical_sha256(data)


def kubespray_pin(loaded: LoadedManifest, source: Source) -> KubesprayPin:
    m = loaded.manifest
    return KubesprayPin(version=m.kubespray.version, kind=source.kind,  # type: ignore[arg-type]  # pydantic checks the Literal
                        url=m.kubespray.source or m.kubespray.default_source(), sha256=source.sha256())


def _wanted(opts: ResolveOptions, *names: str) -> bool:
    return opts.upgrade and (not opts.upgrade_names or any(n in opts.upgrade_names for n in names))


def resolve(loaded: LoadedManifest, old: Lock | None, opts: ResolveOptions,
            progress: Callable[[str, str], None] | None = None) -> ResolveResult:
    net = Net(ca_file=opts.ca_file, insecure_hosts=opts.insecure_registries, transport=opts.transport,
              concurrency=opts.concurrency)
    try:
        source = open_manifest_source(loaded, transport=opts.transport, net=net)  # --ca-file applies here too
        plan = build_plan(loaded, source=source)
        ctx = Context(loaded.manifest, plan, old, net, verify_files=opts.verify_files,
                      upgrade_closures=opts.upgrade and not opts.upgrade_names, progress=progress)
        result = ResolveResult(lock=None, plan=plan)  # type: ignore[arg-type]  # the lock is set below, once pinned
        parts = _pin_all(all_kinds(ctx), opts, progress, result)
    finally:
        net.close()
    entries: dict[str, list[Any]] = defaultdict(list)
    inputs: dict[str, str] = {}
    for part in parts:
        for field_name, pins in part.entries.items():
            entries[field_name] += pins
        inputs.update(part.inputs)
        result.moved += part.moved
    boot = entries.pop("bootstrap", [])
    result.lock = Lock(
        inputs=Inputs(manifest_sha256=manifest_digest(loaded), kubespray_sha256=source.sha256()),
        kubespray=kubespray_pin(loaded, source).model_copy(update={"kube_version": plan.kube_version}),
        file=entries["file"], image=entries["image"], rpm=entries["rpm"], deb=entries["deb"],
        deb_index=entries["deb_index"], repo_key=entries["repo_key"], wheel=entries["wheel"],
        packages_inputs=inputs, bootstrap=boot[0] if boot else None, bootstrap_wheel=entries["bootstrap_wheel"],
        bootstrap_rpm=entries["bootstrap_rpm"], bootstrap_deb=entries["bootstrap_deb"],
        bootstrap_deb_index=entries["bootstrap_deb_index"])
    return result


def _pin_all(kinds: list[Resolver[Any]], opts: ResolveOptions, progress: Callable[[str, str], None] | None,
             result: ResolveResult) -> list[Part]:
    """Reuse what the old lock still pins; resolve the rest: the per-entry kinds together on a bounded
    pool (the first failure cancels what has not started), then each closure in turn."""
    parts: list[Part] = []
    todo: list[Callable[[], Part]] = []
    for kind in (k for k in kinds if k.per_entry):
        for unit in kind.units():
            kept = None if _wanted(opts, *kind.names(unit)) else kind.reuse(unit)
            if kept is not None:
                parts.append(kept)
                result.reused += 1
            else:
                todo.append(partial(_resolve_one, kind, unit, progress))
    result.resolved = len(todo)
    parts += run_all(todo, opts.concurrency)
    for kind in (k for k in kinds if not k.per_entry):
        for unit in kind.units():
            kept = None if _wanted(opts, *kind.names(unit)) else kind.reuse(unit)
            parts.append(kept if kept is not None else kind.resolve(unit))
    return parts


def _resolve_one(kind: Resolver[Any], unit: Any, progress: Callable[[str, str], None] | None) -> Part:
    part = kind.resolve(unit)
    if progress:
        progress(kind.kind, kind.key(unit))
    return part


def check(loaded: LoadedManifest, lock: Lock) -> str | None:
    """None when ``lock`` matches the manifest, else a one-line reason. No network but the Kubespray source."""
    if lock.inputs.manifest_sha256 != manifest_digest(loaded):
        return "airlock.yaml changed since the lock was resolved (run `airlock resolve`)"
    source = open_manifest_source(loaded)  # like plan: only the Kubespray source, and only if not cached
    if source.sha256() != lock.inputs.kubespray_sha256:
        return "the Kubespray source changed since the lock was resolved (run `airlock resolve`)"
    plan = build_plan(loaded, source=source)
    verdicts = [kind.check(kind.units(), lock) for kind in all_kinds(Context(loaded.manifest, plan, lock))]
    missing = [m for v in verdicts for m in v.missing]
    if missing:
        return f"the lock lacks {len(missing)} entr{'y' if len(missing) == 1 else 'ies'}: {', '.join(missing[:5])}" \
               + (" ..." if len(missing) > 5 else "")
    for v in verdicts:
        if v.reason:
            return v.reason
    extra = sum(v.extra for v in verdicts)
    if extra > 0:
        return f"the lock has {extra} entries the manifest no longer needs (run `airlock resolve`)"
    return None


def default_lock_path(manifest: Path) -> Path:
    return manifest.with_name("airlock.lock")


def resolve_lock(manifest: Path, output: Path | None, opts: ResolveOptions,
                 progress: Callable[[str, str], None] | None = None) -> ResolveResult:
    """``airlock resolve``: the lock at ``output`` (default: beside the manifest) re-resolved and written."""
    loaded = load_manifest(manifest)
    lock_path = output or default_lock_path(loaded.path)
    old = read_lock(lock_path) if lock_path.is_file() else None
    result = resolve(loaded, old, opts, progress=progress)
    rel = os.path.relpath(loaded.path.resolve(), lock_path.resolve().parent)  # the header's `airlock resolve -f`
    result.path, result.written = lock_path, write_lock(result.lock, lock_path, manifest=rel)
    return result


def check_lock(manifest: Path, output: Path | None) -> tuple[Path, str | None]:
    """``airlock resolve --check``: the lock's path, and None when it is up to date or why it is stale."""
    loaded = load_manifest(manifest)
    lock_path = output or default_lock_path(loaded.path)
    if not lock_path.is_file():
        return lock_path, f"{lock_path} does not exist (run `airlock resolve`)"
    return lock_path, check(loaded, read_lock(lock_path))
