"""``airlock resolve``: turn the plan into a lock, reusing every pin whose input did not change.

Network work is only: the Kubespray source (when a URL and not cached), HEAD/GET of files that are
not yet pinned, and registry manifests of images that are not yet pinned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock.kubespray.source import Source
from airlock.lockfile.model import FilePin, ImagePin, Inputs, KubesprayPin, Lock
from airlock.manifest.loader import LoadedManifest
from airlock.net.http import Net
from airlock.net.registry import Registry
from airlock.plan import Plan, build_plan, open_manifest_source
from airlock.resolvers.files import FileRequest, FileResolver
from airlock.resolvers.images import ImageRequest, ImageResolver


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


def manifest_digest(loaded: LoadedManifest) -> str:
    """sha256 over the normalized manifest. Mirrors are left out: they never change what is pinned."""
    # ``ntp`` only when set: manifests without it keep the digest they had before the key existed.
    data = loaded.manifest.model_dump(mode="json", exclude={"mirrors"} | (set() if loaded.manifest.ntp else {"ntp"}))
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def kubespray_pin(loaded: LoadedManifest, source: Source) -> KubesprayPin:
    m = loaded.manifest
    return KubesprayPin(version=m.kubespray.version, kind=source.kind,  # type: ignore[arg-type]  # pydantic checks the Literal
                        url=m.kubespray.source or m.kubespray.default_source(), sha256=source.sha256())


def requests_of(plan: Plan) -> tuple[list[FileRequest], list[ImageRequest]]:
    files = [FileRequest(f.name, f.arch, f.url, f.checksum, f.path, f.kubespray_var) for f in plan.files]
    images = [ImageRequest(i.name, i.ref, tuple(i.arch)) for i in plan.images]
    return files, images


def _wanted(opts: ResolveOptions, *names: str) -> bool:
    return opts.upgrade and (not opts.upgrade_names or any(n in opts.upgrade_names for n in names))


def _reusable_file(old: FilePin | None, req: FileRequest) -> bool:
    if old is None:
        return False
    algo, _, pinned = (req.checksum or "").partition(":")
    if algo == "sha256":
        return old.sha256 == pinned
    if algo == "sha512":
        return old.sha512 == pinned
    return True  # an unpinned extra file keeps the sha256 it was first hashed to


def resolve(loaded: LoadedManifest, old: Lock | None, opts: ResolveOptions,
            progress: Callable[[str, str], None] | None = None) -> ResolveResult:
    net = Net(ca_file=opts.ca_file, insecure_hosts=opts.insecure_registries, transport=opts.transport,
              concurrency=opts.concurrency)
    try:
        source = open_manifest_source(loaded, transport=opts.transport, net=net)  # --ca-file applies here too
        plan = build_plan(loaded, source=source)
    except BaseException:
        net.close()
        raise
    file_reqs, image_reqs = requests_of(plan)
    old_files = {f.url: f for f in (old.file if old else [])}
    old_images = {i.ref: i for i in (old.image if old else [])}
    result = ResolveResult(lock=None, plan=plan)  # type: ignore[arg-type]  # the lock is set below, once pinned

    todo_files, todo_images = [], []
    pinned_files: list[FilePin] = []
    pinned_images: list[ImagePin] = []
    for req in file_reqs:
        prev = old_files.get(req.url)
        if not _wanted(opts, req.name, req.url) and _reusable_file(prev, req):
            assert prev is not None
            pinned_files.append(prev.model_copy(update={"name": req.name, "arch": req.arch, "path": req.path,
                                                        "kubespray_var": req.kubespray_var}))
        else:
            todo_files.append(req)
    for ireq in image_reqs:
        prev_img = old_images.get(ireq.ref)
        if (not _wanted(opts, ireq.name, ireq.ref.canonical, ireq.ref.familiar) and prev_img is not None
                and sorted(p.arch for p in prev_img.platforms) == sorted(ireq.arches)):
            pinned_images.append(prev_img.model_copy(update={"name": ireq.name}))
        else:
            todo_images.append(ireq)
    result.reused = len(pinned_files) + len(pinned_images)

    try:
        file_resolver = FileResolver(net, loaded.manifest.mirrors, verify=opts.verify_files)
        image_resolver = ImageResolver(Registry(net, loaded.manifest.mirrors))
        jobs: list[tuple[Any, Any]] = [(file_resolver, r) for r in todo_files] + \
            [(image_resolver, r) for r in todo_images]
        for pin in _run(jobs, opts.concurrency, progress):
            if isinstance(pin, FilePin):
                pinned_files.append(pin)
            else:
                prev_img = old_images.get(pin.ref)
                if prev_img is not None and prev_img.digest != pin.digest:
                    result.moved.append(f"{pin.ref}: tag moved upstream from {prev_img.digest} to {pin.digest}")
                pinned_images.append(pin)
        from airlock.plan import package_set
        from airlock.resolvers.ospackages import resolve_packages

        rpms, debs, indexes, repo_keys, pkg_inputs = resolve_packages(loaded.manifest, package_set(plan), old, net,
                                                                      upgrade=opts.upgrade and not opts.upgrade_names,
                                                                      progress=progress)
        from airlock.resolvers.python import resolve_python

        wheels, py_input = resolve_python(loaded.manifest, plan.python_version, plan.python_requirements, old, net,
                                          upgrade=opts.upgrade and not opts.upgrade_names)
        pkg_inputs["python"] = py_input
        from airlock.bootstrap.resolve import INPUT_KEY, resolve_bootstrap

        boot = None
        if loaded.manifest.admin is not None:  # only a manifest naming its admin host carries airlock in
            boot, pkg_inputs[INPUT_KEY] = resolve_bootstrap(loaded.manifest, old, net,
                                                            upgrade=opts.upgrade and not opts.upgrade_names)
    finally:
        net.close()
    result.resolved = len(todo_files) + len(todo_images)
    result.lock = Lock(
        inputs=Inputs(manifest_sha256=manifest_digest(loaded), kubespray_sha256=source.sha256()),
        kubespray=kubespray_pin(loaded, source).model_copy(update={"kube_version": plan.kube_version}),
        file=pinned_files,
        image=pinned_images,
        rpm=rpms,
        deb=debs,
        deb_index=indexes,
        repo_key=repo_keys,
        wheel=wheels,
        packages_inputs=pkg_inputs,
        bootstrap=boot.pin if boot else None,
        bootstrap_wheel=boot.wheel if boot else [],
        bootstrap_rpm=boot.rpm if boot else [],
        bootstrap_deb=boot.deb if boot else [],
        bootstrap_deb_index=boot.deb_index if boot else [],
    )
    return result


def _run(jobs: list[tuple[Any, Any]], concurrency: int,
         progress: Callable[[str, str], None] | None) -> Iterable[Any]:
    """Run resolver jobs with a bound; the first failure cancels what has not started and is raised."""
    if not jobs:
        return []
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [(resolver, req, pool.submit(resolver.resolve, req)) for resolver, req in jobs]
        out = []
        try:
            for resolver, req, fut in futures:
                out.append(fut.result())
                if progress:
                    progress(resolver.kind, resolver.key(req))
        except BaseException:
            for _, _, f in futures:
                f.cancel()
            raise
        return out


def check(loaded: LoadedManifest, lock: Lock) -> str | None:
    """None when ``lock`` matches the manifest, else a one-line reason. No network but the Kubespray source."""
    if lock.inputs.manifest_sha256 != manifest_digest(loaded):
        return "airlock.yaml changed since the lock was resolved (run `airlock resolve`)"
    source = open_manifest_source(loaded)  # like plan: only the Kubespray source, and only if not cached
    if source.sha256() != lock.inputs.kubespray_sha256:
        return "the Kubespray source changed since the lock was resolved (run `airlock resolve`)"
    plan = build_plan(loaded, source=source)
    files, images = requests_of(plan)
    have_files = {f.url for f in lock.file}
    have_images = {i.ref: sorted(p.arch for p in i.platforms) for i in lock.image}
    missing = [f"file {f.name} ({f.arch})" for f in files if f.url not in have_files]
    missing += [f"image {i.ref}" for i in images if have_images.get(i.ref) != sorted(i.arches)]
    if missing:
        return f"the lock lacks {len(missing)} entr{'y' if len(missing) == 1 else 'ies'}: {', '.join(missing[:5])}" \
               + (" ..." if len(missing) > 5 else "")
    from airlock.plan import package_set
    from airlock.resolvers.ospackages import input_hash

    for os_name, packages in sorted(package_set(plan).items()):
        if lock.packages_inputs.get(os_name) != input_hash(loaded.manifest, os_name, packages):
            return f"the OS packages for {os_name} are not resolved for this manifest (run `airlock resolve`)"
    from airlock.resolvers import python as py

    if lock.packages_inputs.get("python") != py.input_hash(loaded.manifest, plan.python_version,
                                                           plan.python_requirements):
        return "the Python requirements are not resolved for this manifest (run `airlock resolve`)"
    from airlock.bootstrap import resolve as boot

    if loaded.manifest.admin is None:
        if lock.bootstrap is not None:
            return "the lock carries airlock's runtime but airlock.yaml has no admin: (run `airlock resolve`)"
    elif lock.packages_inputs.get(boot.INPUT_KEY) != boot.input_hash(loaded.manifest,
                                                                     boot.admin_host(loaded.manifest)):
        return "airlock's own runtime for the admin host is not resolved for this manifest (run `airlock resolve`)"
    extra = len(lock.file) - len(files) + len(lock.image) - len(images)
    if extra > 0:
        return f"the lock has {extra} entries the manifest no longer needs (run `airlock resolve`)"
    return None


def default_lock_path(manifest: Path) -> Path:
    return manifest.with_name("airlock.lock")
