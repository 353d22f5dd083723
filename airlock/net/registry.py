"""A read-only OCI distribution client: manifests and blobs, with the registries' auth flows.

Anonymous and credentialed bearer tokens (``WWW-Authenticate: Bearer realm=...``), basic auth,
mirrors (endpoint + path prefix). Every body is checked against its digest.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from airlock.errors import NetworkError
from airlock.net.auth import credentials
from airlock.net.http import Net
from airlock.net.mirrors import registry_endpoint
from airlock.net.reference import ImageRef

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = ", ".join((OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST))


class RegistryError(NetworkError):
    """A registry answered, but not with what the image needs (unknown tag, auth, bad digest)."""


@dataclass(frozen=True)
class Fetched:
    body: bytes
    media_type: str
    digest: str


def sha256_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class Registry:
    def __init__(self, net: Net, mirrors: Mapping[str, str] | None = None,
                 credentials: tuple[str, str | None] | None = None):
        self.net = net
        self.mirrors = dict(mirrors or {})
        self.explicit_credentials = credentials
        self._tokens: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

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
        digest = sha256_digest(body)
        expected = reference if reference.startswith("sha256:") else resp.headers.get("Docker-Content-Digest")
        if expected and expected != digest:
            raise RegistryError(f"{what}: manifest {reference} has digest {digest}, the registry said {expected}",
                                hint="the registry or a proxy altered the manifest; do not trust this source")
        media_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        from airlock.bounded import load_json

        doc = load_json(body, RegistryError, f"{what}: manifest {reference}")
        declared = doc.get("mediaType") if isinstance(doc, dict) else None
        media_type = declared or media_type
        if media_type not in INDEX_TYPES + MANIFEST_TYPES:
            raise RegistryError(f"{what}: unsupported manifest media type {media_type!r}",
                                hint="airlock handles OCI and Docker v2 schema 2 manifests and indexes")
        return Fetched(body, media_type, digest)

    def blob(self, ref: ImageRef, digest: str, *, what: str) -> bytes:
        resp = self._get(ref, f"blobs/{digest}", what=what, headers={})
        if sha256_digest(resp.content) != digest:
            raise RegistryError(f"{what}: blob {digest} does not match its digest")
        return resp.content

    @contextmanager
    def open_blob(self, ref: ImageRef, digest: str, offset: int, *, what: str) -> Iterator[Any]:
        """Stream a blob (from ``offset`` with a Range request), authorizing first if needed."""
        base, repo = self.endpoint(ref)
        host = base.split("://", 1)[1]
        scope = f"repository:{repo}:pull"
        if (host, scope) not in self._tokens:
            self._get(ref, f"blobs/{digest}", what=what, headers={}, method="HEAD")
        headers = {"Accept-Encoding": "identity"}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        auth = self._tokens.get((host, scope))
        if auth:
            headers["Authorization"] = auth
        with self.net.stream(f"{base}/v2/{repo}/blobs/{digest}", what=what, headers=headers) as resp:
            yield resp

    # -- auth -----------------------------------------------------------------------------

    def _get(self, ref: ImageRef, tail: str, *, what: str, headers: dict[str, str], method: str = "GET") -> Any:
        base, repo = self.endpoint(ref)
        url = f"{base}/v2/{repo}/{tail}"
        host = base.split("://", 1)[1]
        scope = f"repository:{repo}:pull"
        auth = self._tokens.get((host, scope))
        sent = {**headers, **({"Authorization": auth} if auth else {})}
        resp = self.net.request(method, url, what=what, headers=sent)
        if resp.status_code == 401:
            auth = self._authorize(resp, host, scope, what)
            resp = self.net.request(method, url, what=what, headers={**headers, "Authorization": auth})
            if resp.status_code == 401:
                raise RegistryError(f"{what}: {host} refused the credentials (401)",
                                    hint=f"check the credentials for {host}")
        if resp.status_code == 404:
            kind = "tag or manifest" if tail.startswith("manifests/") else "blob"
            raise RegistryError(f"{what}: {kind} {tail.split('/', 1)[1]} not found at {host}/{repo}",
                                hint="check the image reference, or that the mirror holds it")
        if resp.status_code == 403:
            raise RegistryError(f"{what}: {host} denied access to {repo} (403)", hint=f"check the rights for {host}")
        if resp.status_code != 200:
            raise RegistryError(f"{what}: {host} answered HTTP {resp.status_code} for {repo}/{tail}")
        return resp

    def call(self, base: str, repo: str, method: str, tail: str, *, what: str, push: bool = False,
             ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        """Any request to ``<base>/v2/<repo>/<tail>``, authorized for pull (or push) on ``repo``."""
        return self._call(f"{base}/v2/{repo}/{tail}", base.split("://", 1)[1],
                          f"repository:{repo}:{'pull,push' if push else 'pull'}", method, what, ok, kwargs)

    def call_url(self, url: str, repo: str, method: str, *, what: str, ok: tuple[int, ...], **kwargs: Any) -> Any:
        """A request to an upload URL the registry handed out for ``repo`` (same host, same token)."""
        import httpx

        host = httpx.URL(url).netloc.decode()
        return self._call(url, host, f"repository:{repo}:pull,push", method, what, ok, kwargs)

    def _call(self, url: str, host: str, scope: str, method: str, what: str, ok: tuple[int, ...],
              kwargs: dict[str, Any]) -> Any:
        headers = dict(kwargs.pop("headers", None) or {})
        auth = self._tokens.get((host, scope))
        if auth:
            headers["Authorization"] = auth
        resp = self.net.request(method, url, what=what, headers=headers, **kwargs)
        if resp.status_code == 401:
            headers["Authorization"] = self._authorize(resp, host, scope, what)
            resp = self.net.request(method, url, what=what, headers=headers, **kwargs)
        if resp.status_code not in ok:
            detail = resp.text[:300].strip() if method != "HEAD" else ""
            raise RegistryError(f"{what}: {method} {url.split('?')[0]} answered HTTP {resp.status_code}"
                                + (f": {detail}" if detail else ""),
                                hint="check the registry address, credentials and rights")
        return resp

    def _authorize(self, resp: Any, host: str, scope: str, what: str) -> str:
        challenge = resp.headers.get("WWW-Authenticate", "")
        creds = self.explicit_credentials or credentials(host)
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            if not creds:
                raise RegistryError(f"{what}: {host} requires credentials (401)",
                                    hint=f"log in (docker/podman login {host}), set REGISTRY_AUTH_FILE, "
                                         f"or AIRLOCK_AUTH_{re.sub(r'[^A-Za-z0-9]', '_', host).upper()}=user:password")
            value = "Basic " + base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        elif scheme == "bearer":
            params = dict(_CHALLENGE.findall(challenge))
            realm = params.get("realm")
            if not realm:
                raise RegistryError(f"{what}: {host} sent a bearer challenge without realm")
            query = {"service": params.get("service", ""), "scope": params.get("scope", scope)}
            token_headers = {}
            if creds:
                token_headers["Authorization"] = "Basic " + base64.b64encode(
                    f"{creds[0]}:{creds[1]}".encode()).decode()
            tr = self.net.request("GET", realm, what=what, params=query, headers=token_headers)
            if tr.status_code == 401:
                raise RegistryError(f"{what}: the token service of {host} refused "
                                    f"{'the credentials' if creds else 'anonymous access'} (401)",
                                    hint=f"set credentials for {host} (docker/podman login, REGISTRY_AUTH_FILE "
                                         "or AIRLOCK_AUTH_<HOST>)")
            if tr.status_code != 200:
                raise RegistryError(f"{what}: token service {realm} answered HTTP {tr.status_code}")
            from airlock.bounded import load_json

            data = load_json(tr.content, RegistryError, f"{what}: token service {realm}")
            token = (data.get("token") or data.get("access_token")) if isinstance(data, dict) else None
            if not token:
                raise RegistryError(f"{what}: token service {realm} returned no token")
            value = f"Bearer {token}"
        else:
            raise RegistryError(f"{what}: {host} requires authentication of an unknown kind ({scheme or 'none'})")
        with self._lock:
            self._tokens[(host, scope)] = value
        return value


