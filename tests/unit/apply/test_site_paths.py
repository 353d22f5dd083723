"""Defence in depth: even a lock that skipped validation cannot make apply plan a path outside DIR."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.apply.offline import Site
from airlock.apply.pypi import index_files, wheel_links
from airlock.apply.repos import node_repo_files, package_links, rpm_repo_dirs
from airlock.apply.site import file_links, node_files
from airlock.errors import UnsafePathError
from airlock.lockfile.model import FilePin, ImagePin, Lock, RpmPin, WheelPin
from airlock.reference import ImageRef
from tests.unit.lockfile.test_hostile_lock import full

SITE = Site("http://10.0.0.5:8080/files", "10.0.0.5:8080", True)


def forged(**update: object) -> Lock:
    """``full()`` with fields replaced without validation, as a bug or a bypassed reader could."""
    return full().model_copy(update=update)


def test_legitimate_lock_plans_paths_inside() -> None:
    lock = full()
    for rel in [*file_links(lock), *package_links(lock, ["amd64"]), *wheel_links(lock), *index_files(lock),
                *node_files(lock, SITE), *node_repo_files(lock, SITE), *rpm_repo_dirs(lock, ["amd64"])]:
        assert not rel.startswith("/") and ".." not in rel.split("/"), rel


def test_file_path_outside_is_refused() -> None:
    bad = FilePin.model_construct(**{**full().file[0].model_dump(), "path": "../../../X"})
    with pytest.raises(UnsafePathError, match="refusing to write 'files/../../../X'"):
        file_links(forged(file=[bad]))


def test_wheel_filename_outside_is_refused() -> None:
    bad = WheelPin.model_construct(**{**full().wheel[0].model_dump(), "filename": "../../../X"})
    with pytest.raises(UnsafePathError):
        wheel_links(forged(wheel=[bad]))


def test_rpm_os_outside_is_refused() -> None:
    bad = RpmPin.model_construct(**{**full().rpm[0].model_dump(), "os": "../../../../X"})
    with pytest.raises(UnsafePathError):
        package_links(forged(rpm=[bad]), ["amd64"])
    with pytest.raises(UnsafePathError):
        rpm_repo_dirs(forged(rpm=[bad]), ["amd64"])
    with pytest.raises(UnsafePathError):
        node_repo_files(forged(rpm=[bad]), SITE)


def test_image_registry_outside_is_refused() -> None:
    # the lock holds a parsed ImageRef: forge one whose registry climbs out, as a bypassed parser could
    bad = ImagePin.model_construct(**{**full().image[0].model_dump(), "ref": ImageRef("..", "x", "1", None)})
    with pytest.raises(UnsafePathError):
        node_files(forged(image=[bad]), SITE)


def test_inside_is_what_apply_can_use_for_symlinks(tmp_path: Path) -> None:
    from airlock.names import inside

    (tmp_path / "site" / "files").mkdir(parents=True)
    (tmp_path / "site" / "files" / "dl.k8s.io").symlink_to(tmp_path)
    with pytest.raises(UnsafePathError, match="outside the directory"):
        inside(tmp_path / "site", next(iter(file_links(full()))))
