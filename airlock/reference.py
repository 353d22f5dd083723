"""Image references: THE parsed form of an image name along the whole pipeline.

airlock.yaml, the plan, the lock, fetch, the bundle's OCI layout, apply (site, node config), serve,
push and the SBOM all hold an :class:`ImageRef`, made once by :func:`parse_ref` where a string
enters (a manifest, Kubespray's download list, a lock, an OCI layout annotation). Nothing splits a
reference string by hand: the fields and the derived forms below are the only way to its parts.

The grammar is docker's (the OCI distribution spec's): ``[domain[:port]/]path[:tag][@sha256:hex]``,
with docker's naming rules for Docker Hub: a first component without ``.`` or ``:`` and not
``localhost`` is a path on ``docker.io``, ``index.docker.io``/``registry-1.docker.io`` are
``docker.io``, and a one-component Docker Hub path is under ``library/``. A reference with neither
tag nor digest means ``:latest``. The canonical form (``docker.io/library/nginx:1.29``) is what the
lock stores and what every other form derives from.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from airlock.digest import Digest
from airlock.errors import ReferenceError

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"index.docker.io", "registry-1.docker.io"})
MAX_REF = 1024  # far above any real reference, far below PATH_MAX: references become paths

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{{1,5}})?$")
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
# The grammar as one pattern, for the lock's JSON schema (other tools); parse_ref is the rule.
_PATTERN = (r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
            r"(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
            r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$")
_HINT = "write [registry/]repository[:tag][@sha256:digest], e.g. docker.io/library/nginx:1.29.4"


class ImageRef(str):
    """A parsed image reference. It IS its canonical string (``docker.io/library/nginx:1.29``): it
    keys dicts, sorts, prints and serializes as that, and equals only that spelling. Its parts are
    attributes; build one with :func:`parse_ref` (the constructor takes parts it does not check)."""

    registry: str         # host[:port]; docker.io for Docker Hub
    repository: str       # path on that registry: library/nginx for docker.io/nginx
    tag: str | None
    digest: Digest | None

    def __new__(cls, registry: str, repository: str, tag: str | None = None,
                digest: Digest | None = None) -> ImageRef:
        canonical = f"{registry}/{repository}" + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
        self = super().__new__(cls, canonical)
        for key, value in (("registry", registry), ("repository", repository), ("tag", tag), ("digest", digest)):
            object.__setattr__(self, key, value)
        return self

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError("an ImageRef is immutable")

    def __reduce__(self) -> tuple[Any, ...]:
        return ImageRef, (self.registry, self.repository, self.tag, self.digest)

    def __repr__(self) -> str:
        return f"ImageRef({str(self)!r})"

    # -- derived forms -------------------------------------------------------------------

    @property
    def reference(self) -> str:
        """What to ask the registry for: the digest when pinned by digest, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        """The host serving the registry API (Docker Hub's is not docker.io)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    @property
    def name(self) -> str:
        """``registry/repository``, fully qualified: ``docker.io/library/nginx``. Also the repository
        name under which a mirror (the site, a push target) keeps the image."""
        return f"{self.registry}/{self.repository}"

    @property
    def short_name(self) -> str:
        """The last path component: ``nginx``, ``pause``."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def canonical(self) -> str:
        """The fully qualified reference: ``docker.io/library/nginx:1.29``, ``r.k8s.io/pause@sha256:...``."""
        return str.__str__(self)

    @property
    def familiar(self) -> str:
        """The short form docker prints: ``nginx:1.29`` for ``docker.io/library/nginx:1.29``."""
        name = self.name
        if self.registry == DOCKER_HUB and not _looks_like_registry(self.repository.split("/", 1)[0]):
            name = self.repository.removeprefix("library/") if self.repository.count("/") == 1 else self.repository
        return name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def under(self, prefix: str) -> str:
        """This reference kept under a mirror ``prefix`` (``site:5000/registry.k8s.io/pause:3.10``)."""
        return f"{prefix.rstrip('/')}/{self.canonical}"

    # -- pydantic: a lock field holds an ImageRef, written canonically ----------------------

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        def validate(value: Any) -> ImageRef:
            if isinstance(value, ImageRef):
                return value
            if not isinstance(value, str):
                raise ValueError("an image reference must be a string")
            return parse_ref(value)

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="json"))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "pattern": _PATTERN, "maxLength": MAX_REF,
                "description": "an image reference, canonical: registry/repository[:tag][@sha256:digest]"}


def parse_ref(ref: str) -> ImageRef:
    """``ref`` parsed and normalised; a :class:`ReferenceError` (a ValueError) naming it when it is not one."""
    def bad(why: str) -> ReferenceError:
        return ReferenceError(f"{str(ref)[:120]!r} is not an image reference like registry.k8s.io/pause:3.10 ({why})",
                              hint=_HINT)

    if not isinstance(ref, str) or not ref:
        raise bad("empty")
    if len(ref) > MAX_REF:
        raise bad(f"longer than {MAX_REF} characters")
    name, at, digest_s = ref.partition("@")
    digest = None
    if at:
        try:
            digest = Digest(digest_s)
        except ValueError:
            raise bad("the digest must be sha256:<64 lowercase hex digits>") from None
    tag = None
    head, slash, last = name.rpartition("/")
    if ":" in last:
        last, _, tag = last.partition(":")
        if not _TAG.fullmatch(tag):
            raise bad(f"tag {tag[:40]!r}: letters, digits, '_', '.', '-', at most 128")
        name = head + slash + last
    first, _, rest = name.partition("/")
    if rest and _looks_like_registry(first):
        registry, repository = first, rest
        if not _DOMAIN.fullmatch(registry) or not _port_ok(registry):
            raise bad(f"registry {registry!r} is not host[:port]")
    else:
        registry, repository = DOCKER_HUB, name
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    for component in repository.split("/"):
        if not _COMPONENT.fullmatch(component):
            raise bad(f"path component {component[:40]!r}: lowercase letters and digits, "
                      "separated by '.', '_', '__' or '-'")
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(registry, repository, tag, digest)


def _looks_like_registry(first: str) -> bool:
    """docker's rule for a reference's first component: a registry when it has ``.`` or ``:`` or is
    ``localhost``, else the start of a Docker Hub path."""
    return "." in first or ":" in first or first == "localhost"


def _port_ok(registry: str) -> bool:
    host_port = registry.rsplit("]", 1)[-1]
    if ":" not in host_port:
        return True
    return 0 < int(host_port.rpartition(":")[2]) < 65536


def check_image_ref(value: str) -> str:
    """``value`` unchanged when it parses as an image reference (pydantic validators of user input)."""
    parse_ref(value)
    return value
