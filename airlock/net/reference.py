"""Image references with docker's naming rules (docker.io, library/, registry-1.docker.io).

:class:`ImageRef` is meant to become the one parsed form of a reference along the whole pipeline
(plan, lock, fetch, apply, serve, SBOM): parse once with :func:`parse_ref`, then use its fields and
the derived forms (``name``, ``canonical``, ``familiar``) instead of splitting strings again.
"""

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

    @property
    def name(self) -> str:
        """``registry/repository``, fully qualified: ``docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}"

    @property
    def canonical(self) -> str:
        """The fully qualified reference: ``docker.io/library/nginx:1.29``, ``r.k8s.io/pause@sha256:...``."""
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    @property
    def familiar(self) -> str:
        """The short form docker prints: ``nginx:1.29`` for ``docker.io/library/nginx:1.29``."""
        name = self.name
        if self.registry == DOCKER_HUB:
            name = self.repository.removeprefix("library/") if self.repository.count("/") == 1 else self.repository
        return name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.canonical


def parse_ref(ref: str) -> ImageRef:
    name, digest = ref, None
    if "@" in ref:
        name, digest = ref.split("@", 1)
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
