"""The site's own certificate authority and the server certificate of ``airlock serve``
(``airlock apply --url https://... --tls-generate NAME[,NAME...]``).

Layout (DIR/admin/ is never served, neither by ``airlock serve`` nor by the nginx configuration)::

    DIR/admin/tls/            mode 0700
        ca.crt  ca.key        the site CA (key 0600); kept so that a new host name needs no new trust
        server.crt server.key the server certificate for the names (key 0600)
    DIR/node/ca.crt           the CA certificate for the nodes (served at URL/node/ca.crt)

Keys are random, so none of this is reproducible and none of it is in a bundle; to keep the site
stable, apply reuses what is there: the CA while it is valid for another year, the server
certificate while it names exactly the same hosts, is signed by that CA and valid for 30 days more.
Node provisioning reads the CA file through :data:`NODE_CA` / :func:`node_ca_file` only.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airlock.errors import UsageError
from airlock.scratch import write_atomic
from airlock.server.tls import server_context

if TYPE_CHECKING:  # cryptography is imported only when TLS is used: it is slow to load
    from cryptography.x509 import Certificate  # cryptography is slow to load: only TLS uses it

TLS_DIR = "admin/tls"
NODE_CA = "node/ca.crt"   # site-relative path of the CA certificate nodes trust
CA_DAYS = 3650
SERVER_DAYS = 825
_DNS = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def node_ca_file(dest: Path) -> Path:
    """The CA certificate (PEM) nodes must trust to reach DIR's HTTPS site; present when apply made one."""
    return dest / NODE_CA


def server_files(dest: Path) -> tuple[Path, Path]:
    """(certificate, key) of the generated server certificate."""
    return dest / TLS_DIR / "server.crt", dest / TLS_DIR / "server.key"


def tls_names(url_host: str, given: str) -> list[str]:
    """The names the server certificate carries: the --url host first, then --tls-generate's, each once."""
    names: list[str] = []
    for raw in [url_host, *given.split(",")]:
        name = raw.strip().strip("[]").lower()
        if not name:
            continue
        try:
            name = str(ipaddress.ip_address(name))
        except ValueError:
            if not _DNS.match(name):
                raise UsageError(f"--tls-generate: {raw.strip()!r} is neither a host name nor an IP address",
                                 hint="e.g. --tls-generate admin.example,10.0.0.5") from None
        if name not in names:
            names.append(name)
    return names


def check_tls_options(opts: Any, scheme: str, host: str) -> None:
    """Refuse TLS flags that do not fit together or --url, before the bundle is read (OPTS: ApplyOptions)."""
    own = opts.tls_cert is not None or opts.tls_key is not None
    if opts.tls_generate is not None and own:
        raise UsageError("--tls-generate makes the certificate; --tls-cert/--tls-key bring one: give one of them")
    if own and (opts.tls_cert is None or opts.tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    if opts.tls_ca is not None and not own:
        raise UsageError("--tls-ca goes with --tls-cert/--tls-key", hint="--tls-generate writes its own CA")
    if scheme == "https" and not own and opts.tls_generate is None:
        raise UsageError("--url https://... needs a server certificate for airlock serve",
                         hint="add --tls-generate NAME[,IP...] (a site CA for the nodes), or --tls-cert F --tls-key F")
    if scheme != "https" and (own or opts.tls_generate is not None):
        raise UsageError("TLS flags need --url https://...", hint=f"e.g. --url https://{host}:8443")
    if opts.tls_generate is not None:
        tls_names(host, opts.tls_generate)
    if own:
        server_context(Path(opts.tls_cert), Path(opts.tls_key))  # a pair serve can load, or exit 2 now
    if opts.tls_ca is not None:
        _check_ca(Path(opts.tls_ca))


def _check_ca(path: Path) -> bytes:
    from cryptography import x509  # lazy: slow to load, only TLS uses it

    try:
        data = path.read_bytes()
        if not x509.load_pem_x509_certificates(data):
            raise ValueError("no certificate")
    except (OSError, ValueError) as exc:
        raise UsageError(f"--tls-ca {path}: not a PEM CA certificate ({exc})",
                         hint="give the CA certificate(s) that signed --tls-cert, PEM") from None
    return data


def site_tls_outputs(opts: Any, dest: Path) -> tuple[SiteTLS | None, tuple[Path, Path] | None, dict[str, bytes]]:
    """(what --tls-generate made, to write after the commit; the certificate and key paths serve and nginx
    use; the site files it adds: node/ca.crt)."""
    if opts.tls_generate is not None:
        made = site_tls(dest, tls_names(urlsplit(opts.url).hostname or "", opts.tls_generate))
        return made, server_files(dest), {NODE_CA: made.ca_cert}
    if opts.tls_cert is not None and opts.tls_key is not None:
        files = (Path(opts.tls_cert).absolute(), Path(opts.tls_key).absolute())
        return None, files, {NODE_CA: _check_ca(Path(opts.tls_ca))} if opts.tls_ca is not None else {}
    return None, None, {}


@dataclass(frozen=True)
class SiteTLS:
    ca_cert: bytes
    ca_key: bytes
    cert: bytes
    key: bytes


def site_tls(dest: Path, names: list[str]) -> SiteTLS:
    """DIR's CA and server certificate for NAMES: reused when still good, made anew (in memory) otherwise."""
    from cryptography.hazmat.primitives import serialization  # lazy: slow to load, only TLS uses it

    now = datetime.datetime.now(datetime.UTC)
    ca = _read_pair(dest, "ca")
    if ca is not None:
        cert, key = ca
        if cert.not_valid_after_utc < now + datetime.timedelta(days=365) or not _matches(cert, key):
            ca = None
    if ca is None:
        ca = _make_ca(now)
    ca_cert, ca_key = ca
    server = _read_pair(dest, "server")
    if server is not None and not _server_ok(server[0], server[1], ca_cert, names, now):
        server = None
    if server is None:
        server = _make_server(ca_cert, ca_key, names, now)

    def key_pem(k: Any) -> bytes:
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    pem = serialization.Encoding.PEM
    return SiteTLS(ca_cert.public_bytes(pem), key_pem(ca_key), server[0].public_bytes(pem), key_pem(server[1]))


def write_tls(dest: Path, tls: SiteTLS) -> bool:
    """Write DIR/admin/tls (keys 0600 from their creation, the directory 0700); True when anything changed."""
    folder = dest / TLS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    changed = False
    # the server key before its certificate: a run killed between them leaves a pair site_tls rejects
    for name, data, mode in (("ca.key", tls.ca_key, 0o600), ("ca.crt", tls.ca_cert, 0o644),
                             ("server.key", tls.key, 0o600), ("server.crt", tls.cert, 0o644)):
        path = folder / name
        try:
            if path.read_bytes() == data and (os.stat(path).st_mode & 0o777) == mode:
                continue
        except OSError:
            pass
        # the temp is 0600 from its creation; `.NAME.xxxxxxxx` (no suffix) is what swap.py cleans up after a kill
        write_atomic(path, data, mode=mode, suffix="")
        changed = True
    return changed


def _read_pair(dest: Path, stem: str) -> tuple[Certificate, Any] | None:
    from cryptography import x509  # lazy: slow to load, only TLS uses it
    from cryptography.hazmat.primitives import serialization  # lazy: slow to load, only TLS uses it

    try:
        cert = x509.load_pem_x509_certificate((dest / TLS_DIR / f"{stem}.crt").read_bytes())
        key = serialization.load_pem_private_key((dest / TLS_DIR / f"{stem}.key").read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None  # missing or damaged: made anew
    return cert, key


def _matches(cert: Certificate, key: Any) -> bool:
    from cryptography.hazmat.primitives import serialization  # lazy: slow to load, only TLS uses it

    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return bool(cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt))


def _server_ok(cert: Certificate, key: Any, ca_cert: Certificate, names: list[str], now: datetime.datetime) -> bool:
    from cryptography import x509  # lazy: slow to load, only TLS uses it

    assert isinstance(cert, x509.Certificate) and isinstance(ca_cert, x509.Certificate)
    try:
        cert.verify_directly_issued_by(ca_cert)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except Exception:  # noqa: BLE001 (a certificate we cannot check is issued anew)
        return False
    have = sorted([*san.get_values_for_type(x509.DNSName), *(str(i) for i in san.get_values_for_type(x509.IPAddress))])
    return have == sorted(names) and _matches(cert, key) and cert.not_valid_after_utc > now + datetime.timedelta(days=30)


def _make_ca(now: datetime.datetime) -> tuple[Certificate, Any]:
    from cryptography import x509  # lazy: slow to load, only TLS uses it
    from cryptography.hazmat.primitives import hashes  # lazy: slow to load, only TLS uses it
    from cryptography.hazmat.primitives.asymmetric import ec  # lazy: slow to load, only TLS uses it
    from cryptography.x509.oid import NameOID  # lazy: slow to load, only TLS uses it

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "airlock site CA")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _make_server(ca_cert: Certificate, ca_key: Any, names: list[str], now: datetime.datetime) -> tuple[Certificate, Any]:
    from cryptography import x509  # lazy: slow to load, only TLS uses it
    from cryptography.hazmat.primitives import hashes  # lazy: slow to load, only TLS uses it
    from cryptography.hazmat.primitives.asymmetric import ec  # lazy: slow to load, only TLS uses it
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # lazy: slow to load, only TLS uses it

    assert isinstance(ca_cert, x509.Certificate)
    key = ec.generate_private_key(ec.SECP256R1())
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(min(now + datetime.timedelta(days=SERVER_DAYS), ca_cert.not_valid_after_utc))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key
