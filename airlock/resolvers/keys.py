"""Repository signing keys: fetched from the distribution's published URL, pinned by sha256 in the lock, and
the check of a Debian Release file's OpenPGP signature against one (gpgv, in a throwaway directory).

Signature checking follows apt's rule: the Release is accepted when at least one signature on it is good
(``GOODSIG``, made by a key of the keyring, not expired or revoked) and none is bad; signatures by keys the
keyring does not hold (Debian signs with several) are ignored. Only the signed text is used afterwards, never
the bytes around a clearsigned InRelease.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from airlock.errors import AirlockError, MetadataError, SignatureError
from airlock.lockfile.model import RepoKeyPin, upstream_pin
from airlock.net.http import Net
from airlock.net.mirrors import rewrite_url

MAX_KEY_BYTES = 1 << 20        # a distribution's keyring is a few KiB
MAX_RELEASE_BYTES = 32 << 20   # Ubuntu's largest InRelease is well under 1 MiB


def fetch_key(net: Net, mirrors: Mapping[str, str], os_name: str, repo: str, url: str) -> tuple[RepoKeyPin, bytes]:
    what = f"signing key of repo {repo} ({os_name})"
    resp = net.request("GET", rewrite_url(url, mirrors), what=what)
    if resp.status_code != 200:
        raise MetadataError(f"{what}: {url} answered HTTP {resp.status_code}",
                            hint="check gpgkey: of that repository in airlock.yaml (or the mirrors)")
    data = resp.content
    if not data or len(data) > MAX_KEY_BYTES:
        raise MetadataError(f"{what}: {url} is {len(data)} bytes, not an OpenPGP key",
                            hint="gpgkey: must name the distribution's public key file")
    pin = upstream_pin(RepoKeyPin, what, os=os_name, repo=repo, url=url, sha256=hashlib.sha256(data).hexdigest(),
                       size=len(data))
    return pin, data


def gpgv_binary() -> str:
    found = shutil.which("gpgv")
    if not found:
        raise AirlockError("gpgv is not installed; it checks the repositories' Release signatures",
                           hint="install it (apt-get install gpgv, dnf install gnupg2)")
    return found


def dearmor(key: bytes) -> bytes:
    """The binary OpenPGP packets of an ASCII-armored key (RFC 4880 section 6), every armored block joined;
    binary input is returned as it is. Done here so that resolving needs only gpgv (gpg is often absent)."""
    if not key.lstrip().startswith(b"-----BEGIN PGP"):
        return key
    out: list[bytes] = []
    body: list[str] = []
    inside = headers = False
    for raw in key.decode("ascii", "replace").splitlines():
        line = raw.strip()
        if line.startswith("-----BEGIN PGP"):
            inside, body, headers = True, [], True
        elif line.startswith("-----END PGP"):
            inside = False
            try:
                out.append(base64.b64decode("".join(body), validate=True))
            except (binascii.Error, ValueError):
                raise SignatureError("the pinned signing key is not an OpenPGP key (bad armor)",
                                     hint="point gpgkey: at the distribution's public key file") from None
        elif inside and headers:
            headers = bool(line)  # armor headers (Version: ...) end at the first empty line
            if line and ":" not in line:  # no header block at all: this is already data
                headers = False
                body.append(line)
        elif inside and not line.startswith("="):  # "=XXXX" is the CRC24 line
            body.append(line)
    if not out or not all(out):
        raise SignatureError("the pinned signing key is not an OpenPGP key", hint="point gpgkey: at the "
                             "distribution's public key file")
    return b"".join(out)


def _keyring(work: Path, key: bytes) -> Path:
    """A binary keyring file gpgv reads."""
    ring = work / "keyring.gpg"
    ring.write_bytes(dearmor(key))
    return ring


def verified_release(key: bytes, repo: str, url: str, *, inrelease: bytes | None = None,
                     release: bytes | None = None, signature: bytes | None = None) -> bytes:
    """The signed text of ``inrelease`` (clearsigned), or ``release`` checked against the detached
    ``signature``; a SignatureError naming ``repo`` unless a key of ``key`` made a good signature."""
    fix = ("if the repository changed its key, check the new one and point gpgkey: at it (then resolve "
           "--upgrade); if a mirror serves it, the mirror is not faithful")
    for part in (inrelease, release, signature):
        if part is not None and len(part) > MAX_RELEASE_BYTES:
            raise SignatureError(f"repo {repo}: the Release at {url} is larger than {MAX_RELEASE_BYTES} bytes")
    with tempfile.TemporaryDirectory(prefix="airlock-gpgv-") as tmp:
        work = Path(tmp)
        ring = _keyring(work, key)
        out = work / "signed"
        if inrelease is not None:
            (work / "InRelease").write_bytes(inrelease)
            args = ["--output", str(out), str(work / "InRelease")]
        elif release is not None and signature is not None:
            (work / "Release").write_bytes(release)
            (work / "Release.gpg").write_bytes(signature)
            args = [str(work / "Release.gpg"), str(work / "Release")]
        else:
            raise SignatureError(f"repo {repo}: {url} has no InRelease and no Release.gpg: it is not signed",
                                 hint="set gpgcheck: false on that repository to take it unsigned")
        res = subprocess.run([gpgv_binary(), "--homedir", str(work), "--status-fd", "1", "--keyring", str(ring),
                              *args], capture_output=True, timeout=120)
        status = [line.split()[1:2] for line in res.stdout.decode("utf-8", "replace").splitlines()
                  if line.startswith("[GNUPG:] ")]
        kinds = {s[0] for s in status if s}
        if "BADSIG" in kinds or "GOODSIG" not in kinds or "VALIDSIG" not in kinds:
            reason = ("a signature is bad (the file was altered)" if "BADSIG" in kinds else
                      "it is not signed by the pinned key" if kinds & {"ERRSIG", "NO_PUBKEY"} else
                      "its signing key expired or was revoked" if kinds & {"EXPKEYSIG", "REVKEYSIG", "EXPSIG"} else
                      "no valid signature")
            raise SignatureError(f"repo {repo}: the Release at {url} fails its signature check: {reason}", hint=fix)
        if inrelease is not None:
            return out.read_bytes()
        assert release is not None
        return release
