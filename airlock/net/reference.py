"""Image references with docker's naming rules (docker.io, library/, registry-1.docker.io)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from airlock.errors import AirlockError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    registry: str      # as written (docker.io for Docker Hub)
    repository: str    # library/nginx for docker.io/nginx
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when pinned by digest, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry


def parse_ref(ref: str) -> ImageRef:
    name, digest = (ref.split("@", 1) + [None])[:2] if "@" in ref else (ref, None)
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry in ("index.docker.io", "registry-1.docker.io"):
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if not repository or repository != repository.lower() or (tag and not _TAG.match(tag)) \
            or (digest and not _DIGEST.match(digest)):
        raise AirlockError(f"{ref!r} is not a valid image reference",
                           hint="write registry/repository:tag, e.g. docker.io/library/nginx:1.29.4")
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(registry, repository, tag, digest)
