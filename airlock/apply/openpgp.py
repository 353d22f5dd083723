"""The few OpenPGP packets the site's signatures need (RFC 4880, EdDSA as in RFC 4880bis / GnuPG): an ed25519
public key with one user ID, and binary and cleartext signatures. Written here, with ``cryptography``'s
Ed25519, so that apply needs no gpg on the admin host (a minimal Debian carries only gpgv). Ed25519 and a
signature time fixed to the key's creation make every signature deterministic.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_ED25519_OID = bytes.fromhex("2b06010401da470f01")
_EDDSA, _SHA512 = 22, 10
_BINARY, _TEXT, _CERT = 0x00, 0x01, 0x13


def _packet(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 192:
        head = bytes([n])
    elif n < 8384:
        n -= 192
        head = bytes([(n >> 8) + 192, n & 0xFF])
    else:
        head = b"\xff" + struct.pack(">I", n)
    return bytes([0xC0 | tag]) + head + body


def _mpi(value: bytes) -> bytes:
    value = value.lstrip(b"\x00")
    bits = (len(value) - 1) * 8 + value[0].bit_length() if value else 0
    return struct.pack(">H", bits) + value


def _sub(kind: int, data: bytes) -> bytes:
    return bytes([len(data) + 1, kind]) + data


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    created: int
    uid: str

    def _key_body(self) -> bytes:
        # lazy: cryptography's serialization takes ~20 ms to import; only a deb site's key needs it
        from cryptography.hazmat.primitives import serialization

        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return (b"\x04" + struct.pack(">I", self.created) + bytes([_EDDSA, len(_ED25519_OID)]) + _ED25519_OID
                + _mpi(b"\x40" + raw))

    @property
    def fingerprint(self) -> bytes:
        body = self._key_body()
        return hashlib.sha1(b"\x99" + struct.pack(">H", len(body)) + body).digest()  # v4 fingerprint: SHA-1

    def _signature(self, kind: int, hashed_data: bytes, extra: bytes = b"") -> bytes:
        hashed = _sub(2, struct.pack(">I", self.created)) + _sub(33, b"\x04" + self.fingerprint) + extra
        head = bytes([4, kind, _EDDSA, _SHA512]) + struct.pack(">H", len(hashed)) + hashed
        digest = hashlib.sha512(hashed_data + head + b"\x04\xff" + struct.pack(">I", len(head))).digest()
        sig = self.private.sign(digest)  # EdDSA signs the digest (as GnuPG does)
        unhashed = _sub(16, self.fingerprint[-8:])
        return _packet(2, head + struct.pack(">H", len(unhashed)) + unhashed + digest[:2]
                       + _mpi(sig[:32]) + _mpi(sig[32:]))

    def public_key(self) -> bytes:
        """The transferable public key (binary): key, user ID, self-signature — what signed-by= reads."""
        body, uid = self._key_body(), self.uid.encode()
        cert = b"\x99" + struct.pack(">H", len(body)) + body + b"\xb4" + struct.pack(">I", len(uid)) + uid
        return _packet(6, body) + _packet(13, uid) + self._signature(_CERT, cert, _sub(27, b"\x03"))

    def detached(self, data: bytes) -> bytes:
        return armor("SIGNATURE", self._signature(_BINARY, data))

    def clearsign(self, text: bytes) -> bytes:
        lines = text.decode("utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        canonical = "\r\n".join(line.rstrip(" \t") for line in lines).encode()
        escaped = "".join(("- " + line if line.startswith("-") else line) + "\n" for line in lines)
        return (b"-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n" + escaped.encode()
                + armor("SIGNATURE", self._signature(_TEXT, canonical)))


def _crc24(data: bytes) -> int:
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(kind: str, data: bytes) -> bytes:
    b64 = base64.b64encode(data).decode()
    body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    crc = base64.b64encode(_crc24(data).to_bytes(3, "big")).decode()
    return f"-----BEGIN PGP {kind}-----\n\n{body}\n={crc}\n-----END PGP {kind}-----\n".encode()
