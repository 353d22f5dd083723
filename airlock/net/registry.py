"""An OCI distribution client: manifests and blobs (and, for push, any call), with the registries' auth flows.

Anonymous and credentialed bearer tokens (``WWW-Authenticate: Bearer realm=...``, see
:mod:`airlock.net.tokens`), basic auth, mirrors (endpoint + path prefix). Every body is checked
against its digest. A blob redirected to another host (a CDN) never gets the registry's
``Authorization`` (httpx drops it on a cross-origin redirect).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from airlock.bounded import load_json
from airlock.digest import Digest, parse_digest
from airlock.errors import RegistryError
from airlock.net.auth import credentials
from airlock.net.http import Net
from airlock.net.mirrors import registry_endpoint
from airlock.net.tokens import Authorizer, rate_limited
from airlock.oci import ACCEPT, INDEX_TYPES, MANIFEST_TYPES
from airlock.reference import ImageRef


@dataclass(frozen=True)
class Fetched:
    body: bytes
    media_type: str
    digest: Digest


class Registry:
    def __init__(self, net: Net, mirrors: Mapping[str, str] | None = None,
                 credentials: tuple[str, str | None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.net = net
        self.mirrors = dict(mirrors or {})
        self.explicit_credentials = credentials
        self._creds: dict[str, tuple[str, str] | None] = {}
        self._lock = threading.Lock()
        self.auth = Authorizer(net.request, self._credentials, clock)

    def endpoint(self, ref: ImageRef) -> tuple[str, str]:
        """(base URL, repository path at that endpoint)."""
        if ref.registry in self.mirrors:
            base, prefix = registry_endpoint(ref.registry, self.mirrors)
            return base, f"{prefix}/{ref.repository}" if prefix else ref.repository
        host = ref.api_host
        return f"{self.net.scheme(host)}://{host}", ref.repository

    def manifest(self, ref: ImageRef, reference: str, *, what: str) -> Fetched:
        resp = self._get(ref, f"manifests/{reference}", what=what, headers={"Accept": ACCEPT})
        body = resp.content
        digest = Digest.of(body)
        expected = parse_digest(reference) or resp.headers.get("Docker-Content-Digest")
        if expected and expected != digest:
            raise RegistryError(f"{what}: manifest {reference} has digest {digest}, the registry said {expected}",
                                hint="the registry or a proxy altered the manifest; do not trust this source")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()

        doc = load_json(body, RegistryError, f"{what}: manifest {reference}")
        declared = doc.get("mediaType") if isinstance(doc, dict) else None
        media_type = declared or media_type
        if media_type not in INDEX_TYPES + MANIFEST_TYPES:
            raise RegistryError(f"{what}: unsupported manifest media type {media_type!r}",
                                hint="airlock handles OCI and Docker v2 schema 2 manifests and indexes")
        return Fetched(body, media_type, digest)

    def blob(self, ref: ImageRef, digest: str, *, what: str) -> bytes:
        resp = self._get(ref, f"blobs/{digest}", what=what, headers={})
        if Digest.of(resp.content) != digest:
            raise RegistryError(f"{what}: blob {digest} does not match its digest")
        return resp.content

    @contextmanager
    def open_blob(self, ref: ImageRef, digest: str, offset: int, *, what: str) -> Iterator[Any]:
        """Stream a blob (from ``offset`` with a Range request). The lock gives its size and digest,
        so there is no HEAD first: an expired or missing token shows as a 401, renewed once."""
        base, repo = self.endpoint(ref)
        host = base.split("://", 1)[1]
        need = f"repository:{repo}:pull"
        headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={offset}-"} if offset else {})}
        url = f"{base}/v2/{repo}/blobs/{digest}"
        sent = self.auth.header(base, need, what)
        for attempt in range(2):
            auth = {"Authorization": sent} if sent else {}
            with self.net.stream(url, what=what, headers={**headers, **auth}) as resp:
                if resp.status_code == 401 and attempt == 0:
                    retry_with = self.auth.refused(resp, host, need, sent, what)
                else:
                    _check_auth_status(resp.status_code, host, repo, what, self._display(ref, host))
                    yield resp
                    return
            sent = retry_with

    # -- requests -------------------------------------------------------------------------

    def _display(self, ref: ImageRef | None, host: str) -> str:
        return ref.registry if ref is not None and ref.registry not in self.mirrors else host

    def _send(self, method: str, url: str, host: str, need: str, what: str, kwargs: dict[str, Any],
              display: str | None = None) -> Any:
        """One request with the token ``need`` calls for; after a 401, one retry with a new token."""
        headers = dict(kwargs.pop("headers", None) or {})
        sent = self.auth.header(f"{url.split('://', 1)[0]}://{host}", need, what)
        if sent:
            headers["Authorization"] = sent
        resp = self.net.request(method, url, what=what, headers=headers, **kwargs)
        if resp.status_code == 401:
            headers["Authorization"] = self.auth.refused(resp, host, need, sent, what)
            resp = self.net.request(method, url, what=what, headers=headers, **kwargs)
        _check_auth_status(resp.status_code, host, url.split("/v2/", 1)[-1].split("/", 1)[0], what, display or host)
        return resp

    def _get(self, ref: ImageRef, tail: str, *, what: str, headers: dict[str, str], method: str = "GET") -> Any:
        base, repo = self.endpoint(ref)
        host = base.split("://", 1)[1]
        resp = self._send(method, f"{base}/v2/{repo}/{tail}", host, f"repository:{repo}:pull", what,
                          {"headers": headers}, self._display(ref, host))
        if resp.status_code == 404:
            kind = "tag or manifest" if tail.startswith("manifests/") else "blob"
            raise RegistryError(f"{what}: {kind} {tail.split('/', 1)[1]} not found at {host}/{repo}",
                                hint="check the image reference, or that the mirror holds it")
        if resp.status_code != 200:
            raise RegistryError(f"{what}: {host} answered HTTP {resp.status_code} for {repo}/{tail}")
        return resp

    def call(self, base: str, repo: str, method: str, tail: str, *, what: str, push: bool = False,
             also: tuple[str, ...] = (), ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        """Any request to ``<base>/v2/<repo>/<tail>``, authorized for pull (or push) on ``repo``;
        ``also``: further scopes it needs (pull on the source repository of a mount)."""
        need = " ".join([f"repository:{repo}:{'pull,push' if push else 'pull'}", *also])
        return self._check_ok(self._send(method, f"{base}/v2/{repo}/{tail}", base.split("://", 1)[1], need,
                                         what, kwargs), method, what, ok)

    def call_url(self, url: str, repo: str, method: str, *, what: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        """A request to an upload URL the registry handed out for ``repo`` (same host, same token)."""
        import httpx  # lazy: httpx takes ~0.1 s to import; only a request needs it

        host = httpx.URL(url).netloc.decode()
        return self._check_ok(self._send(method, url, host, f"repository:{repo}:pull,push", what, kwargs),
                              method, what, ok, url)

    @staticmethod
    def _check_ok(resp: Any, method: str, what: str, ok: tuple[int, ...], url: str | None = None) -> Any:
        if resp.status_code not in ok:
            detail = resp.text[:300].strip() if method != "HEAD" else ""
            where = (url or str(resp.request.url)).split("?")[0]
            raise RegistryError(f"{what}: {method} {where} answered HTTP {resp.status_code}"
                                + (f": {detail}" if detail else ""),
                                hint="check the registry address, credentials and rights")
        return resp

    def _credentials(self, host: str) -> tuple[str, str] | None:
        if self.explicit_credentials:
            return self.explicit_credentials[0], self.explicit_credentials[1] or ""
        with self._lock:
            if host not in self._creds:  # a credential helper runs once per host, not per token
                self._creds[host] = credentials(host)
            return self._creds[host]


def _check_auth_status(status: int, host: str, repo: str, what: str, display: str) -> None:
    if status == 401:
        raise RegistryError(f"{what}: {host} refused the credentials (401)", hint=f"check the credentials for {host}")
    if status == 403:
        raise RegistryError(f"{what}: {host} denied access to {repo} (403)", hint=f"check the rights for {host}")
    if status == 429:
        raise rate_limited(what, display)
