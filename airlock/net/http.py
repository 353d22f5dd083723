"""The one place that builds HTTP clients: TLS trust, plain-HTTP opt-in, retries, injectable transport.

Trust for a host: the OS trust store (see :func:`system_trust`), plus ``--ca-file``, plus a
per-registry ``ca.crt`` found in ``certs.d/<host[:port]>/`` under ``$AIRLOCK_CERTS_D``,
``~/.config/airlock/certs.d``, ``/etc/containers/certs.d`` or ``/etc/docker/certs.d`` (the layout
docker and podman use). Plain HTTP is used only for hosts named with ``--insecure-registry`` or
mirrors written ``http://``.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airlock import __version__
from airlock.errors import NetworkError

USER_AGENT = f"airlock/{__version__}"
TRANSIENT_STATUS = {429, 500, 502, 503, 504}

# Where distributions keep the OS trust store as one PEM bundle: Debian/Ubuntu/Alpine, Fedora/RHEL,
# openSUSE, RHEL's extracted bundle, and the BSD/macOS-style path. Only consulted when the
# OpenSSL Python was built against has no default store of its own (a self-built or bundled OpenSSL).
SYSTEM_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                  "/etc/ssl/ca-bundle.pem", "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                  "/etc/ssl/cert.pem")


def system_trust() -> ssl.SSLContext:
    """A client context trusting the OS store, the way curl, skopeo and Python's ``ssl`` find it.

    httpx on its own trusts certifi's Mozilla list only, which misses the private CAs enterprises
    install in the OS store. Order: ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, else OpenSSL's
    default paths (the OS store for a distribution's Python), else the first distribution bundle
    in :data:`SYSTEM_BUNDLES`, and certifi only when the machine has no store at all.
    """
    ctx = ssl.create_default_context()  # loads OpenSSL's default paths, honouring SSL_CERT_FILE/DIR
    paths = ssl.get_default_verify_paths()  # cafile/capath are None when they do not exist
    if paths.cafile or (paths.capath and any(Path(paths.capath).iterdir())):
        return ctx
    for bundle in SYSTEM_BUNDLES:
        if os.path.isfile(bundle):
            ctx.load_verify_locations(cafile=bundle)
            return ctx
    try:
        import certifi  # lazy: ~25 ms, and only a machine without an OS trust store needs it
    except ImportError:  # pragma: no cover - httpx depends on certifi
        return ctx
    ctx.load_verify_locations(cafile=certifi.where())
    return ctx


def pool_limits(concurrency: int) -> Any:
    """The connection pool for one host when ``concurrency`` requests may be in flight at once.

    Every connection a finished request hands back is kept alive, so a download never pays a new
    TCP (and TLS) handshake while the same number of threads keep going: httpx's default keeps 20,
    and at 32 parallel downloads over 50 ms it opened 521 connections for 544 requests. The total
    has room above ``concurrency`` because a thread holding a 401 response asks for a token while
    it still holds that connection, and the token service may be this host.
    """
    import httpx  # lazy: httpx takes ~0.1 s to import; only a request needs it

    n = max(1, concurrency)
    return httpx.Limits(max_connections=2 * n, max_keepalive_connections=n)


def http_client(transport: Any = None, *, timeout: float = 60.0, verify: Any = True, concurrency: int = 8) -> Any:
    import httpx  # lazy: httpx takes ~0.1 s to import; only a request needs it

    return httpx.Client(
        transport=transport,
        verify=verify,
        follow_redirects=True,
        timeout=httpx.Timeout(timeout, connect=15.0),
        limits=pool_limits(concurrency),
        headers={"User-Agent": USER_AGENT},
    )


def _certs_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("AIRLOCK_CERTS_D"):
        dirs.append(Path(os.environ["AIRLOCK_CERTS_D"]))
    dirs += [Path.home() / ".config" / "airlock" / "certs.d", Path("/etc/containers/certs.d"),
             Path("/etc/docker/certs.d")]
    return dirs


@dataclass
class Net:
    """Shared network settings and clients for one command run (thread-safe)."""

    ca_file: str | None = None
    insecure_hosts: frozenset[str] = frozenset()
    transport: Any = None
    concurrency: int = 8  # requests one command may have in flight: each host's pool keeps that many alive
    retries: int = field(default_factory=lambda: int(os.environ.get("AIRLOCK_RETRIES", "4")))
    backoff: float = field(default_factory=lambda: float(os.environ.get("AIRLOCK_BACKOFF", "0.5")))
    _clients: dict[str, Any] = field(default_factory=dict, repr=False)
    _trust: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def scheme(self, host: str) -> str:
        return "http" if host in self.insecure_hosts else "https"

    def client(self, host: str) -> Any:
        """The client for ``host``: one per host, so each upstream gets a pool of its own sized to
        the concurrency (a pool shared by hosts would let one host's idle connections push out
        another's). Hosts with the same trust share one SSL context: loading a store is slow."""
        with self._lock:
            if host not in self._clients:
                verify: Any = True
                if self.transport is None:  # an injected transport makes its own connections: httpx ignores verify
                    ca = self._host_ca(host)
                    if (ca or "") not in self._trust:
                        self._trust[ca or ""] = self._verify(ca)
                    verify = self._trust[ca or ""]
                self._clients[host] = http_client(self.transport, verify=verify, concurrency=self.concurrency)
            return self._clients[host]

    def _host_ca(self, host: str) -> str | None:
        for base in _certs_dirs():
            candidate = base / host / "ca.crt"
            if candidate.is_file():
                return str(candidate)
        return None

    def _verify(self, host_ca: str | None) -> Any:
        ctx = system_trust()
        for ca in (self.ca_file, host_ca):
            if ca:
                try:
                    ctx.load_verify_locations(cafile=ca)
                except (OSError, ssl.SSLError) as exc:
                    raise NetworkError(f"cannot load CA file {ca}: {exc}",
                                       hint="pass a PEM file with --ca-file") from None
        return ctx

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()

    def request(self, method: str, url: str, *, what: str, **kwargs: Any) -> Any:
        """Send with retries on connect errors, timeouts, 5xx and 429 (honouring Retry-After)."""
        import httpx  # lazy: httpx takes ~0.1 s to import; only a request needs it

        host = httpx.URL(url).netloc.decode()
        last: str = ""
        for attempt in range(self.retries + 1):
            try:
                resp = self.client(host).request(method, url, **kwargs)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                _refuse_untrusted(exc, host, what)
            else:
                if resp.status_code not in TRANSIENT_STATUS:
                    return resp
                last = f"HTTP {resp.status_code}"
                if attempt < self.retries:
                    time.sleep(self._delay(attempt, resp.headers.get("Retry-After")))
                    continue
                return resp
            if attempt < self.retries:
                time.sleep(self._delay(attempt, None))
        raise NetworkError(f"{what}: {_safe(url)} unreachable after {self.retries + 1} attempts ({last})",
                           hint="check the host, mirrors and proxy settings")

    @contextmanager
    def stream(self, url: str, *, what: str, headers: dict[str, str] | None = None) -> Iterator[Any]:
        """GET a body as a stream. Retries apply to getting the response, not to reading the body
        (the caller resumes that, e.g. with Range)."""
        import httpx  # lazy: httpx takes ~0.1 s to import; only a request needs it

        host = httpx.URL(url).netloc.decode()
        for attempt in range(self.retries + 1):
            try:
                cm = self.client(host).stream("GET", url, headers=headers)
                resp = cm.__enter__()
            except httpx.TransportError as exc:
                _refuse_untrusted(exc, host, what)
                if attempt >= self.retries:
                    raise NetworkError(f"{what}: {_safe(url)} unreachable after {self.retries + 1} attempts "
                                       f"({type(exc).__name__})", hint="check the host and mirrors") from None
                time.sleep(self._delay(attempt, None))
                continue
            if resp.status_code in TRANSIENT_STATUS and attempt < self.retries:
                cm.__exit__(None, None, None)
                time.sleep(self._delay(attempt, resp.headers.get("Retry-After")))
                continue
            try:
                yield resp
            finally:
                cm.__exit__(None, None, None)
            return

    def download(self, url: str, *, what: str, write: Callable[[bytes], object], restart: Callable[[], None],
                 check: Callable[[int], None] | None = None) -> int:
        """GET ``url`` into ``write``, resuming with Range after a dropped connection or a truncated
        chunked body (the case a missing Content-Length cannot detect otherwise). ``restart`` is
        called when the server ignores Range, so the caller starts over. ``check`` sees every status
        that is not 200/206 and should raise. Errors raised by ``write`` (a full disk) pass through
        untouched: they are not network errors. Returns the number of bytes written.
        """
        import httpx  # lazy: httpx takes ~0.1 s to import; only a request needs it

        offset, last = 0, ""
        for attempt in range(self.retries + 1):
            headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
            with self.stream(url, what=what, headers=headers) as resp:
                if offset and resp.status_code in (200, 416):  # Range ignored or refused: start over
                    restart()
                    offset = 0
                    if resp.status_code == 416:
                        continue
                elif resp.status_code not in (200, 206):
                    if check:
                        check(resp.status_code)
                    raise NetworkError(f"{what}: {_safe(url)} answered HTTP {resp.status_code}")
                try:
                    for chunk in resp.iter_raw():  # as it arrives: bytes before a drop are kept
                        write(chunk)
                        offset += len(chunk)
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                else:
                    return offset
            if attempt < self.retries:
                time.sleep(self._delay(attempt, None))
        raise NetworkError(f"{what}: downloading {_safe(url)} kept failing after {self.retries + 1} attempts "
                           f"({last})", hint="check the host and mirrors, then run the command again")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after), 30.0)
        return min(self.backoff * (2 ** attempt), 8.0)


def _refuse_untrusted(exc: Exception, host: str, what: str) -> None:
    """A certificate that does not verify will not verify on a retry: say so at once."""
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        raise NetworkError(f"{what}: TLS certificate of {host} is not trusted ({exc})",
                           hint="install its CA in the OS trust store, pass --ca-file, "
                                "or put ca.crt in certs.d/<host>/") from None


def _safe(url: str) -> str:
    """A URL without userinfo, for messages."""
    if "@" in url.split("/", 3)[2] if url.count("/") >= 2 else False:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return url


def transport_errors() -> tuple[type[Exception], ...]:
    """What a dropped connection or a truncated body raises while a response is read, for code outside
    net/ that resumes a download (the store): it catches these, not every Exception, so a bug such as
    a TypeError surfaces as itself instead of being retried into "download kept failing"."""
    import httpx  # lazy: httpx takes ~0.1 s to import; only a request needs it

    return (httpx.TransportError,)
