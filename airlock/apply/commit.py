"""How apply commits a site: the space it needs, what would change, and the new site built in staging.

DIR itself is only read here; ``build_site`` fills the staging clone that :func:`airlock.apply.swap.swap_in`
then exchanges with DIR.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from airlock.apply.repos import build_rpm_repodata
from airlock.apply.signing import is_private
from airlock.apply.swap import clone, inside, is_leftover_temp, link_or_copy
from airlock.bundle.model import BundleIndex
from airlock.bundle.tarstream import iter_members, open_bundle
from airlock.digest import Digest
from airlock.scratch import require_space, write_atomic

if TYPE_CHECKING:
    from airlock.apply.options import ApplyReport


class Space:
    """What the apply needs on DIR's filesystem, as far as known (for the checks and the message)."""

    def __init__(self, dest: Path):
        self.dest, self.need = dest, 0

    def require(self, more: int, what: str) -> None:
        """Check, before the next step writes, that its ``more`` bytes fit in what is free now."""
        self.need += more
        require_space(self.dest.parent, more, what)


def repodata_changes(dest: Path, repo_dirs: list[str], staging: Path) -> bool:
    """Whether createrepo_c would now write other repodata than DIR has (tried on clones of the repo dirs only)."""
    for repo_dir in repo_dirs:
        probe = staging / "probe" / repo_dir
        if not (dest / repo_dir).is_dir():
            return True
        probe.parent.mkdir(parents=True, exist_ok=True)
        clone(dest / repo_dir, probe, skip=set())
        if build_rpm_repodata(probe, staging):
            return True
    return False


def present(path: Path, size: int) -> bool:
    """In DIR's store with the right size (a truncated or emptied blob is replaced from the bundle)."""
    try:
        return path.stat().st_size == size
    except OSError:
        return False


def peek_index(bundle: Path) -> BundleIndex | None:
    """bundle.json alone, read before verification only to size the space check (verify checks it)."""
    try:
        with open_bundle(bundle) as stream:
            for member, data in iter_members(stream, str(bundle)):
                if member.name != "bundle.json" or data is None or member.size > 64 << 20:
                    return None
                return BundleIndex.model_validate_json(data.read())
    except Exception:  # noqa: BLE001 - verification reports every problem properly
        return None
    return None


def sweep_temps(dest: Path) -> None:
    """Temp files earlier airlock versions could leave inside DIR (no live apply can own them: we hold the lock)."""
    if not dest.is_dir():
        return
    for path in dest.rglob(".*"):
        if is_leftover_temp(path) and not path.relative_to(dest).parts[0].startswith("kubespray-"):
            path.unlink(missing_ok=True)


def plan_changes(outputs: dict[str, bytes], links: dict[str, str], staging: Path, store: Path, dest: Path,
          tree_dir: Path, report: ApplyReport) -> None:
    """Fill ``report`` with what applying would change in DIR as it is now."""
    staged = sorted((staging / "blobs").iterdir())
    report.blobs_added = len(staged)
    if staged:
        report.changed.append(f"oci/blobs/sha256 (+{len(staged)} blobs)")
    for rel, digest in links.items():
        target = dest / rel
        if not (target.is_file() and same_file(target, store / Digest(digest).hex)):
            report.changed.append(rel)
        else:
            report.unchanged += 1
    for rel, data in sorted(outputs.items()):
        target = dest / rel
        if target.is_file() and target.read_bytes() == data:
            report.unchanged += 1
        else:
            report.changed.append(rel)
    if tree_dir.parent == staging:
        report.changed.append(tree_dir.name + "/")


def build_site(outputs: dict[str, bytes], links: dict[str, str], staging: Path, new: Path, tree_dir: Path) -> None:
    """Turn ``new`` (a clone of DIR, or empty) into the complete new site; DIR itself is not touched."""
    store = new / "oci" / "blobs" / "sha256"
    store.mkdir(parents=True, exist_ok=True)
    for blob in sorted((staging / "blobs").iterdir()):
        os.chmod(blob, 0o644)
        os.replace(blob, store / blob.name)
    for rel, digest in links.items():
        link(store / Digest(digest).hex, inside(new, rel))
    if tree_dir.parent == staging:
        final = new / tree_dir.name
        if final.exists():
            shutil.rmtree(final)
        os.replace(tree_dir, final)
    for rel, data in sorted(outputs.items(), key=lambda kv: kv[0] == ".airlock/state.json"):
        write_file(inside(new, rel), data)  # state.json last: it records a finished apply


def same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def link(src: Path, target: Path) -> None:
    if target.is_file() and same_file(src, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.airlock-tmp")
    tmp.unlink(missing_ok=True)
    link_or_copy(src, tmp)
    os.replace(tmp, target)


def write_file(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    # the site's signing key: owner only. No suffix: the temp is `.NAME.xxxxxxxx`, which swap.py's
    # is_leftover_temp knows, so a run killed here leaves nothing the next apply keeps.
    write_atomic(path, data, mode=0o600 if is_private(path) else 0o644, suffix="")
