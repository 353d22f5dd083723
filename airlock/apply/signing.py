"""The site's own OpenPGP key: apply signs each deb repository's Release with it (InRelease and Release.gpg),
nodes trust it through ``signed-by=`` and nothing else.

The site rebuilds the Packages files from the locked packages, so the distribution's signature cannot cover
them; the distribution's signature was checked at resolve (resolvers/keys.py) and every package is hash-pinned
from there, so the chain is distribution key -> Release -> Packages -> lock -> site key -> node.

The secret key is made once by gpg (ed25519, no passphrase: apply runs unattended) and kept in
``DIR/admin/`` (0600, never served; kept across re-applies, so nodes keep trusting the site). Signatures are
made at the key's creation time and EdDSA is deterministic: the same Release gives the same bytes on every
apply.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airlock.errors import AirlockError
from airlock.lockfile import Lock

SITE_KEY = "admin/site-signing.key"           # armored secret key: 0600, never served (admin/ is not served)
SITE_PUBLIC = "node/keys/airlock-site.gpg"     # binary public key: what apt's signed-by= reads
NODE_APT_KEYRING = "/etc/apt/keyrings/airlock-site.gpg"
UID = "airlock site signing key"              # no host or user name: artifacts carry none


def is_private(path: Path) -> bool:
    """Site files that must stay readable by their owner only (DIR/admin/*.key)."""
    return path.parent.name == "admin" and path.suffix == ".key"


def _gpg() -> str:
    found = shutil.which("gpg")
    if not found:
        raise AirlockError("gpg is not installed; apply signs the site's deb repositories with it",
                           hint="install gnupg (apt-get install gpg, dnf install gnupg2)")
    return found


@contextmanager
def _home() -> Iterator[Path]:
    """A throwaway GNUPGHOME (short path: gpg-agent's socket lives in it); its agent is stopped after."""
    home = Path(tempfile.mkdtemp(prefix="airlock-gpg-"))
    try:
        os.chmod(home, 0o700)
        yield home
    finally:
        subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "all"], capture_output=True, check=False)
        shutil.rmtree(home, ignore_errors=True)


def _run(home: Path, *args: str, data: bytes | None = None) -> bytes:
    res = subprocess.run([_gpg(), "--batch", "--no-tty", "--homedir", str(home), "--pinentry-mode", "loopback",
                          "--passphrase", "", *args], input=data, capture_output=True, timeout=120)
    if res.returncode != 0:
        raise AirlockError(f"gpg {args[0]} failed: {res.stderr.decode('utf-8', 'replace').strip()[-400:]}",
                           hint="check that gpg works on this host (gpg --version)")
    return res.stdout


def site_key(dest: Path) -> bytes:
    """DIR's secret signing key (armored), made on the first apply."""
    path = dest / SITE_KEY
    if path.is_file():
        data = path.read_bytes()
        if data.startswith(b"-----BEGIN PGP PRIVATE KEY BLOCK-----"):
            return data
        raise AirlockError(f"{path} is not an armored OpenPGP secret key",
                           hint=f"restore it from a backup, or remove it (nodes must then fetch {SITE_PUBLIC} again)")
    with _home() as home:
        _run(home, "--quick-generate-key", UID, "ed25519", "sign", "never")
        return _run(home, "--armor", "--export-secret-keys")


def _created(home: Path) -> str:
    for line in _run(home, "--with-colons", "--list-secret-keys").decode().splitlines():
        fields = line.split(":")
        if fields[0] == "sec" and fields[5].isdigit():
            return fields[5]
    raise AirlockError("the site signing key has no creation time", hint=f"remove {SITE_KEY} and apply again")


def public_key(secret: bytes) -> bytes:
    with _home() as home:
        _run(home, "--import", data=secret)
        return _run(home, "--export")


def sign_releases(secret: bytes, releases: dict[str, bytes]) -> dict[str, bytes]:
    """For every ``.../Release``: ``.../InRelease`` (clearsigned) and ``.../Release.gpg`` (detached, armored)."""
    out: dict[str, bytes] = {}
    if not releases:
        return out
    with _home() as home:
        _run(home, "--import", data=secret)
        when = ["--faked-system-time", _created(home) + "!", "--digest-algo", "SHA512"]
        for rel, text in sorted(releases.items()):
            folder = rel.rsplit("/", 1)[0]
            out[f"{folder}/InRelease"] = _run(home, *when, "--clearsign", data=text)
            out[f"{folder}/Release.gpg"] = _run(home, *when, "--armor", "--detach-sign", data=text)
    return out


def signed_site(lock: Lock, dest: Path, outputs: dict[str, bytes]) -> dict[str, bytes]:
    """The signatures of the site's deb Releases in ``outputs``, the public key nodes trust and the secret key
    (kept in DIR/admin/); nothing when the site has no deb repository."""
    releases = {rel: data for rel, data in outputs.items() if rel.startswith("debs/") and rel.endswith("/Release")}
    if not lock.deb or not releases:
        return {}
    secret = site_key(dest)
    return {SITE_KEY: secret, SITE_PUBLIC: public_key(secret), **sign_releases(secret, releases)}
