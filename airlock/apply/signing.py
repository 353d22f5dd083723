"""The site's own OpenPGP key: apply signs each deb repository's Release with it (InRelease and Release.gpg),
nodes trust it through ``signed-by=`` and nothing else.

The site rebuilds the Packages files from the locked packages, so the distribution's signature cannot cover
them; the distribution's signature was checked at resolve (resolvers/keys.py) and every package is hash-pinned
from there, so the chain is distribution key -> Release -> Packages -> lock -> site key -> node.

The secret key (ed25519, no passphrase: apply runs unattended) is made once and kept in ``DIR/admin/``
(0600, never served; kept across re-applies, so nodes keep trusting the site). The OpenPGP packets are made by
airlock/apply/openpgp.py: no gpg on the admin host. Signatures are made at the key's creation time and EdDSA is
deterministic: the same Release gives the same bytes on every apply.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from airlock.apply.openpgp import SigningKey
from airlock.errors import AirlockError

SITE_KEY = "admin/site-signing.key"           # ed25519 secret key: 0600, never served (admin/ is not served)
SITE_PUBLIC = "node/keys/airlock-site.gpg"     # binary public key: what apt's signed-by= reads
NODE_APT_KEYRING = "/etc/apt/keyrings/airlock-site.gpg"
UID = "airlock site signing key"              # no host or user name: artifacts carry none


def is_private(path: Path) -> bool:
    """Site files that must stay readable by their owner only (DIR/admin/*.key)."""
    return path.parent.name == "admin" and path.suffix == ".key"


_HEADER = re.compile(rb"^airlock site signing key: ed25519, created (\d{1,12})\n")


def site_key(dest: Path) -> bytes:
    """DIR's secret signing key (a header line with its creation time, then PKCS#8 PEM), made on the first apply."""
    # lazy: cryptography's serialization takes ~20 ms to import; only deb sites have a signing key
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = dest / SITE_KEY
    if path.is_file():
        data = path.read_bytes()
        load(data, str(path))
        return data
    pem = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption())
    return f"airlock site signing key: ed25519, created {int(time.time())}\n".encode() + pem


def load(secret: bytes, where: str = SITE_KEY) -> SigningKey:
    # lazy: cryptography's serialization takes ~20 ms to import; only deb sites have a signing key
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    m = _HEADER.match(secret)
    try:
        key = serialization.load_pem_private_key(secret[m.end():], password=None) if m else None
    except ValueError:
        key = None
    if m is None or not isinstance(key, Ed25519PrivateKey):
        raise AirlockError(f"{where} is not airlock's site signing key",
                           hint=f"restore it from a backup, or remove it (nodes must then fetch {SITE_PUBLIC} again)")
    return SigningKey(key, int(m.group(1)), UID)


def public_key(secret: bytes) -> bytes:
    return load(secret).public_key()


def sign_releases(secret: bytes, releases: dict[str, bytes]) -> dict[str, bytes]:
    """For every ``.../Release``: ``.../InRelease`` (clearsigned) and ``.../Release.gpg`` (detached, armored)."""
    key = load(secret) if releases else None
    out: dict[str, bytes] = {}
    for rel, text in sorted(releases.items()):
        assert key is not None
        folder = rel.rsplit("/", 1)[0]
        out[f"{folder}/InRelease"] = key.clearsign(text)
        out[f"{folder}/Release.gpg"] = key.detached(text)
    return out

