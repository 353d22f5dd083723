"""Release signatures (gpgv against the pinned key) and key pinning across resolves."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from airlock.errors import SignatureError
from airlock.lockfile.model import Inputs, KubesprayPin, Lock, RepoKeyPin
from airlock.manifest.model import Manifest, RepoSpec
from airlock.resolvers.keys import verified_release
from airlock.resolvers.ospackages import Keys
from tests.world.signing import ThrowawayKey

RELEASE = b"Origin: fixture\nSuite: stable\nSHA256:\n 00 1 main/binary-amd64/Packages\n"


@pytest.fixture(scope="module")
def keys() -> Iterator[tuple[ThrowawayKey, ThrowawayKey]]:
    a, b = ThrowawayKey("archive", "ed25519"), ThrowawayKey("someone else", "ed25519")
    yield a, b
    a.close()
    b.close()


def test_inrelease_signed_by_the_key_gives_the_signed_text_only(keys: tuple[ThrowawayKey, ThrowawayKey]) -> None:
    archive, _ = keys
    signed = b"junk before the signed part\n" + archive.clearsign(RELEASE)
    assert verified_release(archive.public_armored(), "main", "u", inrelease=signed) == RELEASE
    binary = archive._gpg("--export", archive.fingerprint)  # a binary keyring (Ubuntu publishes .gpg) works too
    assert verified_release(binary, "main", "u", inrelease=signed) == RELEASE


def test_detached_release_gpg(keys: tuple[ThrowawayKey, ThrowawayKey]) -> None:
    archive, _ = keys
    sig = archive._gpg("--local-user", archive.fingerprint, "--armor", "--detach-sign", data=RELEASE)
    assert verified_release(archive.public_armored(), "main", "u", release=RELEASE, signature=sig) == RELEASE
    with pytest.raises(SignatureError, match="signature is bad"):
        verified_release(archive.public_armored(), "main", "u", release=RELEASE + b"x", signature=sig)


@pytest.mark.parametrize(("change", "reason"), [("other-key", "not signed by the pinned key"),
                                                ("tampered", "signature is bad"),
                                                ("unsigned", "not signed")])
def test_refusals_name_the_repo_and_the_fix(keys: tuple[ThrowawayKey, ThrowawayKey], change: str, reason: str) -> None:
    archive, other = keys
    if change == "other-key":
        kwargs: dict[str, Any] = {"inrelease": other.clearsign(RELEASE)}
    elif change == "tampered":
        kwargs = {"inrelease": archive.clearsign(RELEASE).replace(b"Suite: stable", b"Suite: stabl3")}
    else:
        kwargs = {"release": RELEASE}
    with pytest.raises(SignatureError, match=reason) as err:
        verified_release(archive.public_armored(), "security", "http://x/InRelease", **kwargs)
    assert "repo security" in err.value.message and err.value.hint and "gpg" in err.value.hint


def test_a_file_that_is_not_a_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="not an OpenPGP key"):
        verified_release(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64!\n-----END PGP PUBLIC KEY BLOCK-----\n",
                         "main", "u", inrelease=b"x")


class _Net:
    def __init__(self, body: bytes):
        self.body, self.calls = body, 0

    def request(self, method: str, url: str, *, what: str) -> Any:
        self.calls += 1
        return SimpleNamespace(status_code=200, content=self.body)


def _lock(sha: str) -> Lock:
    return Lock(inputs=Inputs(manifest_sha256="0" * 64, kubespray_sha256="0" * 64),
                kubespray=KubesprayPin(version="2.30.0", kind="url", url="https://x/", sha256="0" * 64),
                repo_key=[RepoKeyPin(os="rocky-10", repo="baseos", url="https://k/KEY", sha256=sha, size=3)])


def test_a_key_that_changed_since_the_lock_needs_upgrade() -> None:
    manifest = Manifest(kubespray={"version": "2.30.0"})  # type: ignore[arg-type]
    spec = RepoSpec(name="baseos", url="https://r/", gpgkey="https://k/KEY")
    net = _Net(b"new")
    with pytest.raises(SignatureError, match="lock pins") as err:
        Keys(net, manifest, _lock("a" * 64), upgrade=False).of("rocky-10", [spec])  # type: ignore[arg-type]
    assert err.value.hint and "--upgrade" in err.value.hint
    keys = Keys(net, manifest, _lock("a" * 64), upgrade=True)  # type: ignore[arg-type]
    assert keys.of("rocky-10", [spec, spec.model_copy(update={"name": "appstream"})]) == {"baseos": b"new",
                                                                                          "appstream": b"new"}
    assert net.calls == 2  # once per URL and run (the first Keys refused; this one fetched once for both repos)
    assert {(k.repo, k.sha256) for k in keys.pins.values()} == {("baseos", hashlib.sha256(b"new").hexdigest()),
                                                               ("appstream", hashlib.sha256(b"new").hexdigest())}
    same = Keys(_Net(b"new"), manifest, _lock(hashlib.sha256(b"new").hexdigest()), upgrade=False)  # type: ignore[arg-type]
    assert same.of("rocky-10", [spec]) == {"baseos": b"new"}
    unsigned = spec.model_copy(update={"gpgkey": None, "gpgcheck": False})
    assert Keys(_Net(b""), manifest, None, upgrade=False).of("rocky-10", [unsigned]) == {}  # type: ignore[arg-type]


def test_dearmor_matches_gpgs_binary_export(keys: tuple[ThrowawayKey, ThrowawayKey]) -> None:
    """Resolving needs gpgv only (a minimal Debian has no gpg): armored keys are dearmored here."""
    from airlock.resolvers.keys import dearmor

    archive, other = keys
    binary = archive._gpg("--export", archive.fingerprint)
    armored = archive.public_armored()
    with_header = armored.replace(b"-----\n\n", b"-----\nVersion: GnuPG v2\nComment: fixture\n\n", 1)
    assert dearmor(armored) == dearmor(with_header) == binary and dearmor(binary) == binary
    both = dearmor(armored + other.public_armored())  # Debian ships several keys in one file
    assert both == binary + other._gpg("--export", other.fingerprint)
