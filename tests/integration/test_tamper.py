"""A hostile bundle is refused by verify and apply with exit 2, and changes nothing.

Every attack rewrites a real bundle consistently (tests/world/tamper.py): bundle.json, airlock.lock and
lock_sha256 agree, so only the checks of names, kinds, the lock, the tar format, caps and split-bundle
lists can stop it. Each run is limited to 1 GiB of address space: a member that claims 4 GiB must be
refused, not read.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import resource
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from airlock.errors import AirlockError
from tests.helpers import airlock as run_airlock
from tests.integration.conftest import world_bundle
from tests.world import tamper
from tests.world.fingerprint import tree_fingerprint
from tests.world.tamper import ATTACKS, LOCK_TRAVERSALS, Tampered
from tests.world.world import World

pytestmark = pytest.mark.integration
BODY = "os: [rocky-10]\narch: [amd64, arm64]\nimages: [ghcr.io/airlock-test/multi:2.0]\n"
URL = "http://10.11.12.13:8080"  # written into files, never contacted


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def airlock(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    return run_airlock(*args, cache=cache, preexec_fn=_limit_memory)


@pytest.fixture(scope="module")
def real(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return world_bundle(world, tmp_path_factory.mktemp("real"), BODY, run=airlock)


@pytest.fixture(scope="module")
def template(real: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site the real bundle was applied to, then damaged so that a good apply would change it."""
    site = tmp_path_factory.mktemp("template") / "site"
    res = airlock("apply", str(real), "--dest", str(site), "--url", URL, cache=site.parent / "c")
    assert res.returncode == 0, res.stderr
    (site / "inventory/group_vars/all/offline.yml").unlink()
    return site


def lock_sha(bundle: Path) -> str:
    return hashlib.sha256(Tampered.load(bundle).item("airlock.lock").data or b"").hexdigest()


def refused(bundle: Path, tmp_path: Path, template: Path, expect: str, *extra: str, fresh: bool = False) -> None:
    """verify and apply onto a site (and to a fresh DIR) exit 2 saying ``expect``; nothing changes."""
    root = tmp_path / "root"
    parent = root / "a" / "b"  # lock paths like ../../../X land inside root
    shutil.copytree(template, parent / "site", symlinks=True, copy_function=os.link)  # apply replaces, never edits
    (parent / "sentinel.txt").write_text("untouched\n")
    before = tree_fingerprint(root)
    runs = [["verify", str(bundle)], ["apply", str(bundle), "--dest", str(parent / "site"), "--url", URL]]
    if fresh:
        runs.append(["apply", str(bundle), "--dest", str(parent / "fresh"), "--url", URL])
    for args in runs:
        res = airlock(*args, *extra, cache=tmp_path / "c")
        out = res.stdout + res.stderr
        assert res.returncode == 2, f"airlock {args[0]} exited {res.returncode}: {out}"
        assert "internal error" not in out and "Traceback" not in out, out
        assert re.search(expect, res.stderr), res.stderr
    assert tree_fingerprint(root) == before  # DIR, the sentinel beside it, no fresh DIR, no staging left


def test_the_toolkit_rewrites_consistently(real: Path, tmp_path: Path) -> None:
    """Unchanged, a rewrite is byte-identical; a consistent lock change verifies (only --expect-lock stops it)."""
    assert Tampered.load(real).tar_bytes() == real.read_bytes()
    t = Tampered.load(real)
    tamper.add_sbom(t)
    res = airlock("verify", str(t.write(tmp_path / "sbom.tar")), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    t = Tampered.load(real)
    tamper.swap_lock_files(t)
    other = t.write(tmp_path / "other.tar")
    res = airlock("verify", str(other), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_tampered_bundle_is_refused(real: Path, template: Path, tmp_path: Path, attack: str) -> None:
    rewrite, expect = ATTACKS[attack]
    t = Tampered.load(real)
    rewrite(t)
    refused(t.write(tmp_path / "bad.tar"), tmp_path, template, expect,
            fresh=attack in ("swap-serves", "kubespray-extra-file", "size-sparse-lock"))


@pytest.mark.parametrize("attack", sorted(LOCK_TRAVERSALS))
def test_lock_paths_out_of_dir_are_refused(real: Path, template: Path, tmp_path: Path, attack: str) -> None:
    t = Tampered.load(real)
    LOCK_TRAVERSALS[attack](t)
    refused(t.write(tmp_path / "bad.tar"), tmp_path, template,
            r"airlock\.lock: \w+\[\d+\]\.\w+: .*(not a safe|contains)", fresh=True)


# -- --expect-lock ------------------------------------------------------------------------------

def test_expect_lock_pins_the_reviewed_lock(real: Path, template: Path, tmp_path: Path) -> None:
    reviewed = lock_sha(real)
    ok = airlock("verify", str(real), "--expect-lock", "sha256:" + reviewed.upper(), cache=tmp_path / "c")
    assert ok.returncode == 0 and "lock as expected" in ok.stdout, ok.stderr
    dry = airlock("apply", str(real), "--dest", str(tmp_path / "dry"), "--url", URL, "--dry-run",
                  "--expect-lock", reviewed, cache=tmp_path / "c")
    assert dry.returncode == 0, dry.stderr
    t = Tampered.load(real)
    tamper.swap_lock_files(t)  # consistent: verifies without the pin
    refused(t.write(tmp_path / "other.tar"), tmp_path, template, f"not the expected {reviewed}",
            "--expect-lock", reviewed)


@pytest.mark.parametrize("pin", ["0" * 64, "f" * 64])
def test_expect_lock_refuses_any_other_lock(real: Path, template: Path, tmp_path: Path, pin: str) -> None:
    refused(real, tmp_path, template, "not the expected", "--expect-lock", pin)


def test_expect_lock_must_be_a_sha256(real: Path, tmp_path: Path) -> None:
    res = airlock("verify", str(real), "--expect-lock", "abc", cache=tmp_path / "c")
    assert res.returncode == 2 and "not a sha256" in res.stderr


# -- split bundles ------------------------------------------------------------------------------

def _split(real: Path, tmp_path: Path) -> tuple[Path, bytes, int]:
    data = real.read_bytes()
    size = -(-len(data) // 3)
    out = tmp_path / "split" / "bundle.tar"
    out.parent.mkdir()
    files = tamper.split(data, out, size)
    assert len(files) == 4  # three parts and the checksum list
    return out, data, size


def _swap_files(a: Path, b: Path) -> None:
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)


def _split_swapped_parts(out: Path, data: bytes, size: int) -> None:
    _swap_files(out.with_name("bundle.tar.000"), out.with_name("bundle.tar.001"))


def _split_swapped_parts_rehashed(out: Path, data: bytes, size: int) -> None:
    _split_swapped_parts(out, data, size)
    tamper.rehash_part(out, 0)
    tamper.rehash_part(out, 1)


def _split_lines_reordered(out: Path, data: bytes, size: int) -> None:
    lines = tamper.sums_lines(out)
    lines[0], lines[1] = lines[1], lines[0]
    tamper.write_sums(out, lines)


def _split_flipped_padding(out: Path, data: bytes, size: int) -> None:
    at = tamper.zero_padding_offset(data, size, 2 * size)
    part = out.with_name("bundle.tar.001")
    raw = bytearray(part.read_bytes())
    raw[at - size] ^= 0x10
    part.write_bytes(bytes(raw))


def _split_flipped_padding_rehashed(out: Path, data: bytes, size: int) -> None:
    _split_flipped_padding(out, data, size)
    tamper.rehash_part(out, 1)


def _split_name(make: Callable[[Path], str]) -> Callable[[Path, bytes, int], None]:
    """The checksum list names part 1 by ``make(dir)``, and a copy of that part really is there."""
    def attack(out: Path, data: bytes, size: int) -> None:
        name = make(out.parent)
        target = out.parent / name  # an absolute name replaces the directory
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copyfile(out.with_name("bundle.tar.001"), target)
        lines = tamper.sums_lines(out)
        lines[1] = lines[1].split("  ")[0] + "  " + name
        tamper.write_sums(out, lines)
    return attack


def _split_wrong_whole(out: Path, data: bytes, size: int) -> None:
    lines = tamper.sums_lines(out)
    lines[-1] = "0" * 64 + "  bundle.tar"
    tamper.write_sums(out, lines)


def _split_no_whole(out: Path, data: bytes, size: int) -> None:
    tamper.write_sums(out, tamper.sums_lines(out)[:-1])


def _split_huge_sums(out: Path, data: bytes, size: int) -> None:
    tamper.write_sums(out, tamper.sums_lines(out) + ["#" * 1000] * 2000)


SPLIT_ATTACKS = {
    "swapped-parts": (_split_swapped_parts, (r"part bundle\.tar\.000 of the split bundle is damaged or out of order: "
                                             r"expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}")),
    "swapped-parts-rehashed": (_split_swapped_parts_rehashed, "do not join to the sha256"),
    "lines-reordered": (_split_lines_reordered, r"sha256sums:1: expected `<sha256>  bundle\.tar\.000`"),
    "flipped-padding-bit": (_split_flipped_padding, r"part bundle\.tar\.001 of the split bundle is damaged"),
    "flipped-padding-bit-rehashed": (_split_flipped_padding_rehashed, "do not join to the sha256"),
    "dotdot-name": (_split_name(lambda d: "../outside/bundle.tar.001"), r"sha256sums:2: expected"),
    "dotdot-inner-name": (_split_name(lambda d: "sub/../bundle.tar.001"), r"sha256sums:2: expected"),
    "absolute-name": (_split_name(lambda d: str(d.parent / "elsewhere" / "bundle.tar.001")),
                      r"sha256sums:2: expected"),
    "wrong-whole-digest": (_split_wrong_whole, "do not join to the sha256"),
    "no-whole-digest": (_split_no_whole, "does not list the parts and then the whole"),
    "huge-sums-file": (_split_huge_sums, "larger than any checksum list"),
}


def test_split_bundle_verifies_with_the_pin(real: Path, tmp_path: Path) -> None:
    out, _, _ = _split(real, tmp_path)
    res = airlock("verify", str(out), "--expect-lock", lock_sha(real), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    dry = airlock("apply", str(out), "--dest", str(tmp_path / "site"), "--url", URL, "--dry-run",
                  "--expect-lock", lock_sha(real), cache=tmp_path / "c")
    assert dry.returncode == 0, dry.stderr


@pytest.mark.parametrize("attack", list(SPLIT_ATTACKS))
def test_split_bundle_attack_is_refused(real: Path, template: Path, tmp_path: Path, attack: str) -> None:
    out, data, size = _split(real, tmp_path)
    rewrite, expect = SPLIT_ATTACKS[attack]
    rewrite(out, data, size)
    refused(out, tmp_path, template, expect, fresh=attack == "swapped-parts")


# -- fuzz ----------------------------------------------------------------------------------------

def _mutations(good: bytes, rng: random.Random) -> bytes:
    data = bytearray(good)
    how = rng.choice(["flip", "flip-header", "truncate", "header-field", "zero-block"])
    if how == "flip":
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            data[at] ^= 1 << rng.randrange(8)
    elif how == "flip-header":  # in the first 100 KB: bundle.json, the lock, their headers
        at = rng.randrange(min(len(data), 100_000))
        data[at] ^= 1 << rng.randrange(8)
    elif how == "truncate":
        del data[rng.randrange(len(data)):]
    elif how == "zero-block":
        at = rng.randrange(len(data) // 512) * 512
        data[at:at + 512] = bytes(512)
    else:  # change one header field and fix the checksum, so the reader goes past it
        headers = [i for i in range(0, len(data) - 512, 512) if data[i + 257:i + 263] == b"ustar\0"]
        at = rng.choice(headers)
        field = rng.choice([(0, 100), (124, 136), (156, 157), (345, 500), (100, 108)])
        for i in range(*field):
            if rng.random() < 0.3:
                data[at + i] = rng.choice([0, 0x30, 0x37, 0x2F, 0x2E, 0x41, 0xFF, rng.randrange(256)])
        block = data[at:at + 512]
        block[148:156] = b" " * 8
        data[at + 148:at + 156] = b"%06o\0 " % sum(block)
    return bytes(data)


def test_bundle_reader_fuzz_raises_only_airlock_errors(real: Path, tmp_path: Path) -> None:
    """A bounded, seeded fuzz: every mutation is verified OK or refused with an AirlockError, nothing else."""
    from airlock.bundle.verify import verify_bundle

    good = real.read_bytes()
    rng = random.Random(1107)
    refusals = 0
    for i in range(100):
        bad = tmp_path / f"f{i % 4}.tar"
        bad.write_bytes(_mutations(good, rng))
        try:
            verify_bundle(bad)
        except AirlockError:
            refusals += 1
    assert refusals > 85  # almost every mutation is caught (a flipped mtime bit is harmless)
    # bundle.json and the lock rewritten consistently, so the checks past the hashes are reached
    kinds = ["lock", "manifest", "sbom", "layout", "kubespray", "file", "image-index", "image-manifest",
             "image-config", "image-layer", "rpm", "deb", "deb-index", "wheel", "nonsense"]
    for _ in range(40):
        t = Tampered.load(real)
        entries = t.index["entries"]
        pick = rng.randrange(len(entries))
        field = rng.choice(["kind", "serves", "size", "path", "lock"])

        def edit(doc: dict[str, object], pick: int = pick, field: str = field) -> None:
            e = doc["entries"][pick]  # type: ignore[index]  # a bundle.json document: entries is a list
            if field == "kind":
                e["kind"] = rng.choice(kinds)
            elif field == "serves":
                e["serves"] = rng.choice([[], ["kubespray"], ["image:x"], e["serves"] * 2, ["file:kubelet:amd64"]])
            elif field == "size":
                e["size"] = rng.choice([0, 1, e["size"] + 1, 1 << 40, -1])
            elif field == "path":
                e["path"] = rng.choice(["", "/", "blobs", "blobs/sha256/", e["path"] + "x", e["path"].upper()])
        if field == "lock":
            text = bytearray(t.lock_text.encode())
            at = rng.randrange(len(text))
            text[at:at + rng.randint(1, 20)] = rng.choice([b"", b"[[", b"= [[[[", b'"', b"9" * 30, b"\xff"])
            t.item("airlock.lock").data = bytes(text)
        else:
            t.edit_index(edit)
            t.frozen.add(entries[pick]["path"])
        bad = tmp_path / "structured.tar"
        t.write(bad)
        try:
            verify_bundle(bad)
        except AirlockError:
            refusals += 1
    assert refusals > 85 + 30  # some edits change nothing (the same kind drawn again, no serves for metadata)
    # split bundles: the same, through the part reader
    out, data, size = _split(real, tmp_path)
    for i in range(30):
        part = out.with_name(f"bundle.tar.{i % 3:03d}")
        blob = bytearray(data[(i % 3) * size:(i % 3 + 1) * size])
        blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        part.write_bytes(bytes(blob))
        with pytest.raises(AirlockError):
            verify_bundle(out)
        part.write_bytes(data[(i % 3) * size:(i % 3 + 1) * size])
