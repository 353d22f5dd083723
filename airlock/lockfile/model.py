"""The airlock.lock model (lock version 1): everything fetch needs, nothing it must decide.

Strict (``extra="forbid"``). Entries are sorted by the writer; see ``writer.py``.

Image references are :class:`ImageRef` values, written in their canonical form
(``docker.io/library/nginx:1.29``); a lock written before that (``nginx:1.29``) reads the same.
Digests are :class:`Digest` values: images' ``digest`` fields are ``sha256:<hex>`` on disk, the other
pins keep a bare-hex ``sha256`` field and give the same type as ``.digest``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from pydantic import AfterValidator, BaseModel, Field, ValidationError, field_validator, model_validator

from airlock.digest import Digest
from airlock.errors import UnusableUpstreamValue
from airlock.names import SafeName, SafeRelPath, check_name, url_basename
from airlock.reference import ImageRef
from airlock.strict import Strict as _Strict

LOCK_VERSION: Literal[1] = 1

_HEX64 = r"^[0-9a-f]{64}$"
# A size or count that fits the integers the OS and the tar format use (a lock is untrusted input).
Size = Annotated[int, Field(ge=0, le=2**63 - 1)]


def _pep440(v: str) -> str:
    try:
        Version(v)
    except InvalidVersion:
        raise ValueError(f"{v!r} is not a PEP 440 version") from None
    return v


Pep440 = Annotated[str, AfterValidator(_pep440)]
# PEP 508 project names: what pypi/simple/<name>/ is made of.
_PROJECT = r"^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$"


class _Hashed:
    """A pin whose content is named by a bare-hex ``sha256`` field (lock version 1's spelling)."""

    @property
    def digest(self) -> Digest:
        return Digest.from_hex(self.sha256)  # type: ignore[attr-defined]  # a mixin: every pin model that uses it has sha256


class Inputs(_Strict):
    manifest_sha256: str = Field(pattern=_HEX64, description="sha256 of the normalized airlock.yaml")
    kubespray_sha256: str = Field(pattern=_HEX64, description="digest of the Kubespray source")


class KubesprayPin(_Strict, _Hashed):
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$", description="the release; DIR/kubespray-<version>/")
    kube_version: str | None = Field(default=None, description="the Kubernetes version the plan evaluated to")
    kind: Literal["url", "tarball", "directory"]
    url: str = Field(description="upstream URL, or a path relative to airlock.yaml")
    sha256: str = Field(pattern=_HEX64, description="of the tarball; for a directory, of its file list")


class FilePin(_Strict, _Hashed):
    name: SafeName
    arch: SafeName
    url: str
    sha256: str = Field(pattern=_HEX64)
    sha512: str | None = Field(default=None, pattern=r"^[0-9a-f]{128}$")
    size: Size
    path: SafeRelPath = Field(description="where the file server serves it: <upstream host>/<path>")
    kubespray_var: str | None = None


class PlatformPin(_Strict):
    arch: SafeName
    os: SafeName = "linux"
    variant: SafeName | None = None
    digest: Digest
    media_type: str
    size: Size = Field(description="config + layers, in bytes")


class ImagePin(_Strict):
    name: SafeName
    ref: ImageRef
    digest: Digest = Field(description="what the tag points to upstream")
    media_type: str
    target: Literal["platform", "upstream-index", "filtered-index"]
    target_digest: Digest = Field(description="what the tag points to in the air gap")
    target_media_type: str
    platforms: list[PlatformPin]


def _package_file(url: str) -> str:
    """The URL's last segment names the package in the site (rpms/<os>/<arch>/<it>)."""
    try:
        check_name(url_basename(url))
    except ValueError as exc:
        raise ValueError(f"url {url!r}: its file name: {exc}") from None
    return url


class RpmPin(_Strict, _Hashed):
    os: SafeName
    name: SafeName
    epoch: int = Field(default=0, ge=0, le=2**32)
    version: SafeName
    release: SafeName
    arch: SafeName
    repo: SafeName
    url: str
    sha256: str = Field(pattern=r"^([0-9a-f]{64})?$", description="empty only while being resolved")
    size: Size

    @field_validator("url")
    @classmethod
    def _file(cls, v: str) -> str:
        return _package_file(v)


class DebPin(_Strict, _Hashed):
    os: SafeName
    name: SafeName
    version: SafeName
    arch: SafeName
    repo: SafeName
    url: str
    sha256: str = Field(pattern=_HEX64)
    size: Size

    @field_validator("url")
    @classmethod
    def _file(cls, v: str) -> str:
        return _package_file(v)


class DebIndexPin(_Strict, _Hashed):
    """A Packages index a deb repo was resolved from (verified against its Release file); apply
    builds the site's Packages from the stanzas of the locked packages in it."""

    os: SafeName
    arch: SafeName
    repo: SafeName
    url: str
    sha256: str = Field(pattern=_HEX64)
    size: Size


class RepoKeyPin(_Strict, _Hashed):
    """A repository's signing key (OpenPGP, as the distribution publishes it): deb Release files were verified
    against it at resolve; rpm nodes check every package with it. Carried in the bundle like every blob."""

    os: SafeName
    repo: SafeName
    url: str
    sha256: str = Field(pattern=_HEX64)
    size: Size


class WheelPin(_Strict, _Hashed):
    """A Python distribution for the admin host's Kubespray venv (PEP 751-style fields)."""

    name: str = Field(pattern=_PROJECT)
    version: Pep440
    filename: SafeName
    url: str
    sha256: str = Field(pattern=_HEX64)
    size: Size
    requires_python: str | None = None
    platforms: list[str] = Field(description="targets it serves: cp312-x86_64 ...")
    via: list[str] = Field(default_factory=list, description="what required it (like pip-tools)")
    sdist: bool = Field(default=False, description="no wheel exists for the target: built at install time")

    @model_validator(mode="after")
    def _filename_matches(self) -> WheelPin:
        """The file name must be a wheel or sdist name of this very project and version (pip checks
        the same when it installs, and it is what pypi/files/<filename> is called)."""
        try:
            if self.filename.endswith(".whl"):
                name, version, _, _ = parse_wheel_filename(self.filename)
            else:
                name, version = parse_sdist_filename(self.filename)
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            raise ValueError(f"filename {self.filename!r} is not a wheel (.whl) or sdist (.tar.gz, .zip) "
                             "file name") from None
        if canonicalize_name(name) != canonicalize_name(self.name) or version != Version(self.version):
            raise ValueError(f"filename {self.filename!r} is not a distribution of {self.name} {self.version}")
        return self


class BootstrapPin(_Strict):
    """The admin host airlock bootstraps itself on (``bootstrap/`` in the bundle); its wheels,
    interpreter packages and their indexes are the ``bootstrap_*`` tables."""

    os: SafeName
    arch: SafeName
    python: str = Field(pattern=r"^3\.\d+$")
    glibc: str = Field(pattern=r"^\d+\.\d+$")
    platform: str = Field(pattern=r"^cp3\d+-[a-z0-9_]+$", description="wheel target: cp311-x86_64 ...")
    airlock: Pep440 = Field(description="the airlock release whose runtime the wheels are")
    requirements: list[str] = Field(description="airlock's runtime requirements (and pip), as resolved")
    interpreter: list[str] = Field(default_factory=list,
                                   description="OS packages giving the Python when the OS's python3 is older")


class Lock(_Strict):
    version: Literal[1] = LOCK_VERSION
    inputs: Inputs
    kubespray: KubesprayPin
    file: list[FilePin] = Field(default_factory=list)
    image: list[ImagePin] = Field(default_factory=list)
    rpm: list[RpmPin] = Field(default_factory=list)
    deb: list[DebPin] = Field(default_factory=list)
    deb_index: list[DebIndexPin] = Field(default_factory=list)
    repo_key: list[RepoKeyPin] = Field(default_factory=list)
    wheel: list[WheelPin] = Field(default_factory=list)
    bootstrap: BootstrapPin | None = None
    bootstrap_wheel: list[WheelPin] = Field(default_factory=list)
    bootstrap_rpm: list[RpmPin] = Field(default_factory=list)
    bootstrap_deb: list[DebPin] = Field(default_factory=list)
    bootstrap_deb_index: list[DebIndexPin] = Field(default_factory=list)
    packages_inputs: dict[str, str] = Field(default_factory=dict,
                                            description="per os (and 'python'): sha256 of what its closure "
                                                        "was resolved from")


_Pin = TypeVar("_Pin", bound=BaseModel)


def upstream_pin(model: type[_Pin], what: str, **fields: Any) -> _Pin:
    """``model(**fields)`` for values that came from an upstream's metadata."""
    try:
        return model(**fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = ".".join(str(p) for p in err["loc"]) or model.__name__
        raise UnusableUpstreamValue(f"{what}: the upstream's {field} is unusable: "
                                    f"{err['msg'].removeprefix('Value error, ')}",
                                    hint="the repository or a mirror serves metadata airlock cannot use "
                                         "safely; check it, or leave the package out") from None
