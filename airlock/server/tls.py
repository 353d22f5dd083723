"""TLS for ``airlock serve --tls-cert F --tls-key F``: the server's SSL context.

Why in the server and not a proxy in front: nodes pull images and packages from the admin host, and
the one process that already serves them is the simplest thing to run over HTTPS. Files still go
out through asyncio's ``loop.sendfile``; over TLS it copies through user space (the kernel cannot
encrypt for us), which costs CPU but no protocol change.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from airlock.errors import UsageError


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """TLS 1.2 and later, HTTP/1.1 over ALPN; CERT may hold the chain after the server certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            with open(path, "rb") as f:
                f.read(1)
        except OSError as exc:
            raise UsageError(f"{flag} {path}: {exc.strerror or exc}",
                             hint="give the PEM files of the server certificate and its private key") from None
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        raise UsageError(f"--tls-cert {cert} / --tls-key {key}: not a usable certificate and key ({exc.reason or exc})",
                         hint="both must be PEM, the key unencrypted and belonging to the certificate "
                              "(`airlock apply --tls-generate` makes a pair)") from None
    return ctx
