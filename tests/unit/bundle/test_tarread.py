"""The strict bundle reader and split-bundle lists, on small hand-made tars."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from airlock.bundle.model import BundleIndex, Entry, index_problem
from airlock.bundle.tarread import iter_members, open_bundle
from airlock.bundle.tarstream import SplitWriter, TarWriter
from airlock.errors import BundleError
from tests.world.tamper import header, pad


def small_tar() -> bytes:
    buf = io.BytesIO()
    w = TarWriter(buf)
    w.add_bytes("a.json", b"{}\n")
    w.add_dir("blobs")
    w.add_bytes("blobs/x", b"x" * 700)
    w.close()
    return buf.getvalue()


def members(data: bytes) -> list[tuple[str, bytes | None]]:
    return [(m.name, d.read() if d else None) for m, d in iter_members(io.BytesIO(data), "t.tar")]


def test_reads_what_the_writer_writes() -> None:
    assert members(small_tar()) == [("a.json", b"{}\n"), ("blobs", None), ("blobs/x", b"x" * 700)]


@pytest.mark.parametrize(("offset", "expect"), [
    (512 + 3, "padding after a.json is not zeros"),  # inside a.json's padding
    (4 * 512 + 700 + 10, "padding after blobs/x"),
    (-5, "data after the end of the tar"),
    (5, "checksum mismatch"),  # a header byte
])
def test_a_flipped_bit_anywhere_is_noticed(offset: int, expect: str) -> None:
    data = bytearray(small_tar())
    data[offset] ^= 0x04
    with pytest.raises(BundleError, match=expect):
        members(bytes(data))


def test_truncation_is_an_error() -> None:
    data = small_tar()
    for cut in (0, 100, 512, 512 + 2, 3 * 512 + 300, len(data) - 10240):
        with pytest.raises(BundleError, match="ends early"):
            members(data[:cut])


@pytest.mark.parametrize(("block", "expect"), [
    (header("x", 1 << 40), "bad size field"),  # base-256: no USTAR writer needs it for a bundle
    (header("x", 3, magic=b"ustar  \0"), "not a POSIX ustar header"),
    (header("x", 3, b"S", b"ustar  \0"), "GNU sparse file"),
    (header("././@LongLink", 3, b"L"), "GNU long name"),
    (header("x", 3, b"x"), "pax header"),
    (header("x", 3, b"g"), "pax global header"),
    (header("x", 0, b"2"), "link or device"),
    (header("d/", 3, b"5"), "directory 'd/' has a size"),
    (header("a/./b", 3), "unsafe path"),
    (header("a//b", 3), "unsafe path"),
    (header("a\nb", 3), "unsafe path"),
    (header("x", 3, extra={0: b"\xff\xfe"}), "not UTF-8"),
])
def test_anything_but_plain_ustar_is_refused_before_its_data(block: bytes, expect: str) -> None:
    with pytest.raises(BundleError, match=expect):
        members(block + pad(b"abc") + bytes(1024))


def test_a_member_cannot_be_read_whole_above_the_cap() -> None:
    data = header("big", 100 << 20) + bytes(512)
    for m, d in iter_members(io.BytesIO(data), "t.tar"):
        assert m.size == 100 << 20
        with pytest.raises(BundleError, match="too large to read whole"):
            d.read()  # type: ignore[union-attr]  # a regular member: iter_members gives a reader
        break


def test_tarfile_and_the_reader_agree_on_prefixed_names() -> None:
    long = "k/" + "d" * 120 + "/f.yml"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo(long)
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    assert members(buf.getvalue()) == [(long, b"ok")]


# -- split bundles ------------------------------------------------------------------------------

def split(tmp_path: Path, data: bytes, size: int = 4096) -> Path:
    w = SplitWriter(tmp_path / "b.tar", size)
    w.write(data)
    w.commit(hashlib.sha256(data).hexdigest())
    return tmp_path / "b.tar"


def read_all(path: Path) -> bytes:
    with open_bundle(path) as f:
        return f.read()


def test_split_parts_join(tmp_path: Path) -> None:
    data = bytes(range(256)) * 60
    assert read_all(split(tmp_path, data)) == data


def test_a_damaged_part_is_named_and_stays_the_error(tmp_path: Path) -> None:
    data = bytes(range(256)) * 60
    out = split(tmp_path, data)
    part = tmp_path / "b.tar.001"
    raw = bytearray(part.read_bytes())
    raw[7] ^= 1
    part.write_bytes(bytes(raw))
    with open_bundle(out) as f:
        f.read(4096)
        for _ in range(2):  # a reader that goes on reading gets the same answer, not "closed file"
            with pytest.raises(BundleError, match=r"part b\.tar\.001 .* expected sha256 [0-9a-f]{64}, got"):
                f.read(8192)


def test_the_whole_digest_is_checked(tmp_path: Path) -> None:
    data = bytes(range(256)) * 60
    out = split(tmp_path, data)
    sums = tmp_path / "b.tar.sha256sums"
    sums.write_text(sums.read_text().replace(hashlib.sha256(data).hexdigest(), "0" * 64))
    with pytest.raises(BundleError, match="do not join to the sha256"):
        read_all(out)


@pytest.mark.parametrize("name", ["../b.tar.001", "/etc/passwd", "b.tar.002", "sub/b.tar.001", "b.tar.1",
                                  "b.tar.001 ", "b.tar.001/"])
def test_the_list_names_only_the_next_part(tmp_path: Path, name: str) -> None:
    out = split(tmp_path, bytes(10000))
    sums = tmp_path / "b.tar.sha256sums"
    lines = sums.read_text().splitlines()
    lines[1] = lines[1].split("  ")[0] + "  " + name
    sums.write_text("\n".join(lines) + "\n")
    with pytest.raises(BundleError, match=r"b\.tar\.sha256sums:2: expected `<sha256>  b\.tar\.001`"):
        open_bundle(out)


@pytest.mark.parametrize(("text", "expect"), [
    ("", "does not list the parts"),
    ("0" * 64 + "  b.tar\n", "does not list the parts"),
    ("0" * 64 + "  b.tar.000\n", "does not list the parts"),
    ("0" * 63 + "  b.tar.000\n", "sha256sums:1: expected"),
    ("0" * 64 + "  b.tar.000\n" + "0" * 64 + "  b.tar\n" + "0" * 64 + "  b.tar.001\n", "sha256sums:3: expected"),
    ("\u00e9", "not ASCII"),
    ("x" * (2 << 20), "larger than any checksum list"),
])
def test_malformed_lists_are_refused(tmp_path: Path, text: str, expect: str) -> None:
    (tmp_path / "b.tar.000").write_bytes(b"")
    (tmp_path / "b.tar.sha256sums").write_text(text)
    with pytest.raises(BundleError, match=expect):
        open_bundle(tmp_path / "b.tar")


# -- bundle.json naming rules -------------------------------------------------------------------

LOCK = "a" * 64


def entry(path: str, kind: str = "file", digest: str | None = None, size: int = 1, serves: list[str] | None = None
          ) -> Entry:
    hexd = path.rsplit("/", 1)[-1] if path.startswith("blobs/") else "b" * 64
    return Entry(path=path, digest=digest or f"sha256:{hexd}", size=size, kind=kind, serves=serves or [])  # type: ignore[arg-type]  # kind is a plain str here; the model checks the Literal


def problem(*entries: Entry) -> str | None:
    lock = Entry(path="airlock.lock", digest="sha256:" + LOCK, size=10, kind="lock")
    return index_problem(BundleIndex(lock_sha256=LOCK, entries=[lock, *entries]))


def test_a_good_index_has_no_problem() -> None:
    assert problem(entry("blobs/sha256/" + "c" * 64), entry("index.json", "layout")) is None


@pytest.mark.parametrize(("entries", "expect"), [
    ([entry("blobs/sha256/" + "c" * 64), entry("blobs/sha256/" + "c" * 64)], "listed twice"),
    ([entry("blobs/sha256/" + "c" * 64, digest="sha256:" + "d" * 64)], "must be its own sha256"),
    ([entry("blobs/sha256/" + "C" * 64, digest="sha256:" + "c" * 64)], "not a bundle file name"),
    ([entry("blobs/sha256/" + "c" * 63 + "\u0441", digest="sha256:" + "c" * 64)], "not a bundle file name"),
    ([entry("blobs/sha256/x/" + "c" * 64, digest="sha256:" + "c" * 64)], "not a bundle file name"),
    ([entry("blobs/sha256/" + "c" * 64 + "\n", digest="sha256:" + "c" * 64)], "not a bundle file name"),
    ([entry("notes.txt")], "not a bundle file name"),
    ([entry("airlock.yaml", "file")], "can only be the 'manifest' file"),
    ([entry("index.json", "layout", serves=["file:x:amd64"])], "can only be the 'layout' file"),
    ([entry("blobs/sha256/" + "c" * 64, "manifest")], "not a kind of blob"),
    ([entry("airlock.yaml", "manifest", size=17 << 20)], "more than the 16 MiB"),
    ([entry("blobs/sha256/" + "c" * 64, "image-manifest", size=17 << 20)], "more than the 16 MiB"),
    ([entry("blobs/sha256/" + f"{i:064x}", "image-index", size=15 << 20) for i in range(40)], "add up to"),
])
def test_index_naming_rules(entries: list[Entry], expect: str) -> None:
    assert expect in (problem(*entries) or "")


def test_the_lock_entry_must_match_lock_sha256() -> None:
    bad = BundleIndex(lock_sha256=LOCK, entries=[Entry(path="airlock.lock", digest="sha256:" + "e" * 64, size=1,
                                                       kind="lock")])
    assert "lock_sha256 is" in (index_problem(bad) or "")
    assert "no airlock.lock" in (index_problem(BundleIndex(lock_sha256=LOCK, entries=[])) or "")


# -- a Kubespray directory source ---------------------------------------------------------------

def test_the_tree_digest_is_recomputed_from_the_bundled_tar(tmp_path: Path) -> None:
    from airlock.bundle.consistency import check_tree
    from airlock.bundle.write import tar_directory
    from airlock.kubespray.source import tree_digest

    root = tmp_path / "kubespray"
    for rel, text in [("roles/a/tasks/main.yml", "- a\n"), ("roles/a10/x", "x"), ("roles/a-b/y", "y"),
                      (".git", "gitdir: /home/someone/repo\n"), ("contrib/sub/.git/config", "[core]\n"),
                      ("README.md", "hi\n")]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    data = tar_directory(root)
    assert b"gitdir" not in data and b"[core]" not in data
    check_tree(io.BytesIO(data), tree_digest(root), "k.tar")
    (root / "roles/a/tasks/main.yml").write_text("- b\n")
    with pytest.raises(BundleError, match="do not match the Kubespray tree digest"):
        check_tree(io.BytesIO(data), tree_digest(root), "k.tar")
