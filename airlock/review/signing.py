"""Bundle signatures: OpenSSH signatures (``ssh-keygen -Y sign``, the SSHSIG format git also uses).

Why this scheme: it is verifiable fully offline with a stock OpenSSH (>= 8.0) on any admin host,
keys are ordinary ssh keys (ed25519, ecdsa, rsa, or on a hardware token via ``sk-`` keys) that a
security team already manages, the signature names its purpose (namespace ``airlock-bundle``, so
a signature made for git or for login cannot be replayed here), and there is no online
transparency log or CA to reach from inside an air gap.

What is signed: ``bundle.json``, byte for byte. It names the lock's sha256 and every entry's sha256
and size, and ``airlock verify`` checks every byte of the bundle against it, so the signature
covers the whole bundle. The signature sits beside the bundle as ``<bundle>.sig``.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from airlock.bundle.tarstream import iter_members, open_bundle
from airlock.errors import AirlockError, BundleError
from airlock.scratch import new_file_mode, write_atomic

NAMESPACE = "airlock-bundle"


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if not found:
        raise AirlockError("ssh-keygen is not installed", hint="install OpenSSH (apt/dnf install openssh-clients)")
    return found


def bundle_index_bytes(bundle: Path) -> bytes:
    with open_bundle(bundle) as stream:
        for member, data in iter_members(stream, str(bundle)):
            if member.name == "bundle.json" and data is not None:
                return data.read()
            break
    raise BundleError(f"{bundle}: the first entry is not bundle.json", hint="this is not an airlock bundle")


def signature_path(bundle: Path) -> Path:
    return bundle.with_name(bundle.name + ".sig")


def sign(bundle: Path, key: Path) -> Path:
    data = bundle_index_bytes(bundle)
    with tempfile.TemporaryDirectory() as tmp:
        msg = Path(tmp) / "bundle.json"
        msg.write_bytes(data)
        res = subprocess.run([_ssh_keygen(), "-Y", "sign", "-q", "-f", str(key), "-n", NAMESPACE, str(msg)],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if res.returncode != 0:
            raise AirlockError(f"signing with {key} failed: {res.stderr.strip()}",
                               hint="pass a private ssh key without a passphrase, or load it into ssh-agent")
        out = signature_path(bundle)
        write_atomic(out, Path(str(msg) + ".sig").read_bytes(), mode=new_file_mode())
    return out


def verify_signature(bundle: Path, public_key: Path) -> None:
    sig = signature_path(bundle)
    if not sig.is_file():
        raise BundleError(f"{bundle} is not signed (no {sig.name})", hint="sign it with `airlock sign`, or drop --key")
    try:
        pub = public_key.read_text().split()
    except OSError as exc:
        raise AirlockError(f"cannot read public key {public_key}: {exc}") from None
    if len(pub) < 2:
        raise AirlockError(f"{public_key} is not an ssh public key", hint="pass the .pub file")
    data = bundle_index_bytes(bundle)
    with tempfile.TemporaryDirectory() as tmp:
        signers = Path(tmp) / "allowed_signers"
        signers.write_text(f"airlock {pub[0]} {pub[1]}\n")
        res = subprocess.run([_ssh_keygen(), "-Y", "verify", "-f", str(signers), "-I", "airlock", "-n", NAMESPACE,
                              "-s", str(sig)], input=data, capture_output=True)
    if res.returncode != 0:
        raise BundleError(f"{bundle}: the signature in {sig.name} does not match {public_key.name} for this bundle",
                          hint="the bundle was changed after signing, or it was signed with another key")
