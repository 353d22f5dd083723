"""``airlock apply``: verify the whole bundle, plan the site (:mod:`airlock.apply.plan`), then carry the plan out
in DIR (idempotent, resumable). :func:`execute` is the only step that changes DIR.

Nothing in DIR changes until the bundle has been verified completely and the offline.yml it implies
has been proven complete: blobs are staged beside DIR during verification and only then moved into
the site's one blob store; files are hardlinks into that store, other files are written to a
temporary name and renamed, and only when their bytes change.
"""

from __future__ import annotations

import glob
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airlock.apply.commit import Space, build_site, peek_index, plan_changes, present, repodata_changes, sweep_temps
from airlock.apply.offline import Site
from airlock.apply.options import ApplyOptions, ApplyReport, site_for
from airlock.apply.plan import PlanOptions, SitePlan, plan_site
from airlock.apply.repos import build_rpm_repodata
from airlock.apply.swap import check_dest, clone, inside, recover, staging_prefix, swap_in
from airlock.apply.tls import write_tls
from airlock.apply.venv import build_venv
from airlock.apply.view import load_view
from airlock.bundle.verify import verify_bundle
from airlock.review.signing import verify_signature
from airlock.scratch import disk_full, is_no_space, locked, scratch_dir, sweep, test_hook

if TYPE_CHECKING:
    from airlock.apply.push import PushOptions

__all__ = ["ApplyOptions", "ApplyReport", "apply", "apply_bundle", "execute", "site_for"]


def apply_bundle(bundle: Path, opts: ApplyOptions, *, key: Path | None = None,
                 push: PushOptions | None = None) -> ApplyReport:
    """``airlock apply``: BUNDLE's signature by ``key`` first, then the site, then (not on a dry run) the push."""
    t0 = time.perf_counter()
    if key is not None:
        verify_signature(bundle, key)
    report = apply(bundle, opts)
    t_push = time.perf_counter()
    if push is not None and not opts.dry_run:
        from airlock.apply.push import push_site  # lazy: the registry client (~5 ms), only with --push

        report.pushed = push_site(report.dest, push)
        report.push_seconds = time.perf_counter() - t_push
    report.seconds = time.perf_counter() - t0
    return report


def apply(bundle: Path, opts: ApplyOptions) -> ApplyReport:
    dest = opts.dest.resolve()
    site = site_for(opts)
    check_dest(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # One apply per parent directory at a time: the lock is on the parent, whose inode (unlike DIR's)
    # survives the swap that commits a site.
    with locked(dest.parent, directory=True):
        stagings = sorted(dest.parent.glob(glob.escape(staging_prefix(dest)) + "*"))
        recover(dest, stagings)
        sweep(stagings)
        stage = scratch_dir(dest.parent, staging_prefix(dest))
        space = Space(dest)
        try:
            return _apply(bundle, opts, dest, site, stage.path, space)
        except OSError as exc:
            if not is_no_space(exc):
                raise
            stage.remove()  # first, so the message reports the space free without it
            raise disk_full(dest.parent, space.need, f"applying {bundle.name}") from None
        finally:
            stage.remove()


def _apply(bundle: Path, opts: ApplyOptions, dest: Path, site: Site, staging: Path, space: Space) -> ApplyReport:
    store = dest / "oci" / "blobs" / "sha256"
    (staging / "blobs").mkdir()
    peek = peek_index(bundle)
    if peek is not None:
        space.require(sum(e.size for e in peek.entries if e.path.startswith("blobs/sha256/")
                          and not present(store / e.path.rsplit("/", 1)[1], e.size)) + (1 << 20),
                      f"the blobs of {bundle.name}")

    def keep(name: str, entry: Any) -> Any:
        if name.startswith("blobs/sha256/") and not present(store / name.rsplit("/", 1)[1], entry.size):
            return (staging / "blobs" / name.rsplit("/", 1)[1]).open("wb")
        if entry.kind == "bootstrap" and name.startswith("bootstrap/wheels/pip-"):  # pip for DIR/venv
            return (staging / "pip.whl").open("wb")
        return None

    v = verify_bundle(bundle, keep=keep, expect_lock=opts.expect_lock)
    test_hook("apply-staged")
    view = load_view(v, bundle, opts, dest, staging, space)
    plan = plan_site(view, PlanOptions(dest=dest, url=opts.url, site=site, push=opts.push, venv=opts.venv))
    report = ApplyReport(dest=dest, lock_sha256=plan.lock_sha256, site=site, plan=plan)
    if opts.dry_run:
        report_changes(plan, staging, report)
        return report
    execute(plan, staging, space, report)
    return report


def report_changes(plan: SitePlan, staging: Path, report: ApplyReport) -> None:
    """Fill ``report`` with what carrying out ``plan`` would change in DIR as it is now (DIR is only read)."""
    dest = plan.dest
    for rel in plan.paths():
        inside(dest, rel)  # defence in depth: the lock model validates names; this checks the result
    plan_changes(dict(plan.outputs), dict(plan.links), staging, dest / "oci" / "blobs" / "sha256", dest,
                 _tree_dir(plan, staging), report)


def execute(plan: SitePlan, staging: Path, space: Space, report: ApplyReport) -> None:
    """Carry out ``plan``: the only step of apply that changes DIR (commit and swap, repodata, TLS, venv)."""
    dest = plan.dest
    report_changes(plan, staging, report)
    sweep_temps(dest)
    repo_dirs = list(plan.repodata)
    if report.changed or repodata_changes(dest, repo_dirs, staging):
        _commit_site(dict(plan.outputs), dict(plan.links), staging, dest, _tree_dir(plan, staging), repo_dirs, report,
                     space)
    if plan.tls is not None:
        if write_tls(dest, plan.tls):  # after the swap: DIR exists now; kept across later swaps (hardlinks)
            report.changed.append("admin/tls")
    if plan.venv:  # the lock names the admin host this runs on
        pip = staging / "pip.whl"  # after the site is in place: the venv installs from DIR's wheels
        if build_venv(plan.lock, dest, pip if pip.is_file() else None):
            report.changed.append("venv")


def _tree_dir(plan: SitePlan, staging: Path) -> Path:
    """Where the Kubespray tree is now: unpacked in staging (to be moved in), or already in DIR."""
    return staging / plan.kubespray if plan.kubespray in plan.trees else plan.dest / plan.kubespray


def _commit_site(outputs: dict[str, bytes], links: dict[str, str], staging: Path, dest: Path, tree_dir: Path,
                 repo_dirs: list[str], report: ApplyReport, space: Space) -> None:
    """Build the new site beside DIR (a hardlinked clone, updated) and swap it in; DIR is old or new, never mixed."""
    space.require(sum(len(d) for d in outputs.values()) + (1 << 20), f"the new site beside {dest}")
    new = staging / "site"
    if dest.is_dir():
        clone(dest, new, skip={tree_dir.name} if tree_dir.parent == staging else set())
    else:
        new.mkdir()
    build_site(outputs, links, staging, new, tree_dir)
    for repo_dir in repo_dirs:
        if build_rpm_repodata(new / repo_dir, staging):
            report.changed.append(f"{repo_dir}/repodata")
    if not report.changed:
        return  # only the repodata was checked, and it is unchanged: keep DIR as it is
    test_hook("apply-built")
    swap_in(new, dest, staging / "old")
    test_hook("apply-swapped")
