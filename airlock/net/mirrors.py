"""Mirror rewriting: reach an upstream through another endpoint without changing its identity.

``mirrors`` keys are either a registry host (``registry.k8s.io``) or a URL prefix
(``https://github.com``); values are the endpoint to use instead, optionally with a path
prefix. Plans and locks always keep the upstream URL/ref; only the request goes elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from airlock.errors import UsageError
from airlock.names import has_credentials, redact


def rewrite_url(url: str, mirrors: Mapping[str, str]) -> str:
    """The URL to request for ``url``: the longest matching URL-prefix mirror wins."""
    best = ""
    for prefix in mirrors:
        if "://" not in prefix:
            continue
        p = prefix.rstrip("/")
        if (url == p or url.startswith(p + "/")) and len(p) > len(best):
            best = p
    if best:
        return mirrors[best].rstrip("/") + url[len(best):]
    host = urlsplit(url).netloc
    if host in mirrors:  # a bare host key also serves plain file URLs on that host
        return mirrors[host].rstrip("/") + "/" + url.split("://", 1)[1].split("/", 1)[-1]
    return url


def registry_endpoint(host: str, mirrors: Mapping[str, str]) -> tuple[str, str]:
    """(base URL, repository path prefix) to reach registry ``host``."""
    target = mirrors.get(host)
    if target is None:
        return f"https://{host}", ""
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}", parts.path.strip("/")


def parse_mirror(arg: str) -> tuple[str, str]:
    """``--mirror KEY=URL`` as (key, url); a URL with a user or password is refused (it would end up in logs)."""
    key, sep, value = arg.partition("=")
    if not sep:
        raise UsageError(f"--mirror {arg!r} is not KEY=URL")
    if has_credentials(value):
        raise UsageError(f"--mirror {key}={redact(value)}: a mirror URL must not carry a user or password",
                         hint="give registry credentials with AIRLOCK_AUTH_<HOST>, REGISTRY_AUTH_FILE or "
                              "~/.docker/config.json")
    return key, value
