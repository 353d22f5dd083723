"""Committing a site by swapping directories; paths that would leave DIR."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airlock.apply.swap import clone, inside, is_leftover_temp, recover, swap_in
from airlock.errors import BundleError


def make_site(root: Path, text: str) -> Path:
    (root / "files" / "h").mkdir(parents=True)
    (root / "files" / "h" / "f").write_text(text)
    (root / "link").symlink_to("files/h/f")
    return root


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_swap_in_replaces_the_whole_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exchange: bool) -> None:
    if not exchange:
        monkeypatch.setenv("AIRLOCK_TEST_NO_EXCHANGE", "1")
    dest = make_site(tmp_path / "site", "old")
    new = make_site(tmp_path / "stage" / "site", "new")
    swap_in(new, dest, tmp_path / "stage" / "old")
    assert (dest / "link").read_text() == "new"
    assert not new.exists() or (new / "link").read_text() == "old"


def test_swap_in_onto_nothing_is_a_rename(tmp_path: Path) -> None:
    new = make_site(tmp_path / "stage" / "site", "new")
    swap_in(new, tmp_path / "site", tmp_path / "stage" / "old")
    assert (tmp_path / "site" / "link").read_text() == "new"


def test_recover_puts_the_old_site_back(tmp_path: Path) -> None:
    stage = tmp_path / ".site.airlock-x"
    make_site(stage / "old", "old")
    recover(tmp_path / "site", [stage])
    assert (tmp_path / "site" / "link").read_text() == "old"
    recover(tmp_path / "site", [stage])  # a site is there: nothing to do


def test_clone_hardlinks_files_and_keeps_links_and_modes(tmp_path: Path) -> None:
    src = make_site(tmp_path / "site", "data")
    os.chmod(src / "files", 0o750)
    (src / "files" / "h" / ".f.k3j4h5l6").write_text("temp of an older airlock")
    (src / "kubespray-2.30.0").mkdir()
    clone(src, tmp_path / "copy", skip={"kubespray-2.30.0"})
    copy = tmp_path / "copy"
    assert (copy / "files" / "h" / "f").stat().st_ino == (src / "files" / "h" / "f").stat().st_ino
    assert os.readlink(copy / "link") == "files/h/f"
    assert (copy / "files").stat().st_mode & 0o777 == 0o750
    assert not (copy / "kubespray-2.30.0").exists() and not (copy / "files" / "h" / ".f.k3j4h5l6").exists()


def test_leftover_temps_need_their_sibling(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text("{}")
    for name in (".index.json.abcd_123", ".index.json.airlock-tmp", ".bashrc.12345678"):
        (tmp_path / name).write_text("x")
    assert is_leftover_temp(tmp_path / ".index.json.abcd_123")
    assert is_leftover_temp(tmp_path / ".index.json.airlock-tmp")
    assert not is_leftover_temp(tmp_path / ".bashrc.12345678")  # no `.bashrc` beside it: not ours


@pytest.mark.parametrize("rel", ["../x", "a/../../x", "/etc/passwd", "", "a//b", "a\\..\\b", "files/\0"])
def test_inside_refuses_paths_that_are_not_plain(tmp_path: Path, rel: str) -> None:
    with pytest.raises(BundleError, match="not a plain path"):
        inside(tmp_path, rel)


def test_inside_refuses_a_symlink_leading_out(tmp_path: Path) -> None:
    dest = tmp_path / "site"
    (dest / "files").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (dest / "node").symlink_to(tmp_path / "outside")
    (dest / "alias").symlink_to("files")
    assert inside(dest, "files/a/b") == dest / "files/a/b"
    assert inside(dest, "alias/x") == dest / "alias/x"  # a link that stays inside DIR is fine
    with pytest.raises(BundleError, match="leads out of"):
        inside(dest, "node/README.md")
