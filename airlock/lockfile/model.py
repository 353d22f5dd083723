"""The airlock.lock model (lock version 1): everything fetch needs, nothing it must decide.

Strict (``extra="forbid"``). Entries are sorted by the writer; see ``writer.py``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LOCK_VERSION = 1

_HEX64 = r"^[0-9a-f]{64}$"
_DIGEST = r"^sha256:[0-9a-f]{64}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Inputs(_Strict):
    manifest_sha256: str = Field(pattern=_HEX64, description="sha256 of the normalized airlock.yaml")
    kubespray_sha256: str = Field(pattern=_HEX64, description="digest of the Kubespray source")


class KubesprayPin(_Strict):
    version: str
    kube_version: str | None = Field(default=None, description="the Kubernetes version the plan evaluated to")
    kind: Literal["url", "tarball", "directory"]
    url: str = Field(description="upstream URL, or a path relative to airlock.yaml")
    sha256: str = Field(pattern=_HEX64, description="of the tarball; for a directory, of its file list")


class FilePin(_Strict):
    name: str
    arch: str
    url: str
    sha256: str = Field(pattern=_HEX64)
    sha512: str | None = Field(default=None, pattern=r"^[0-9a-f]{128}$")
    size: int = Field(ge=0)
    path: str = Field(description="where the file server serves it: <upstream host>/<path>")
    kubespray_var: str | None = None


class PlatformPin(_Strict):
    arch: str
    os: str = "linux"
    variant: str | None = None
    digest: str = Field(pattern=_DIGEST)
    media_type: str
    size: int = Field(ge=0, description="config + layers, in bytes")


class ImagePin(_Strict):
    name: str
    ref: str
    digest: str = Field(pattern=_DIGEST, description="what the tag points to upstream")
    media_type: str
    target: Literal["platform", "upstream-index", "filtered-index"]
    target_digest: str = Field(pattern=_DIGEST, description="what the tag points to in the air gap")
    target_media_type: str
    platforms: list[PlatformPin]


class RpmPin(_Strict):
    os: str
    name: str
    epoch: int = 0
    version: str
    release: str
    arch: str
    repo: str
    url: str
    sha256: str = Field(pattern=r"^([0-9a-f]{64})?$", description="empty only while being resolved")
    size: int = Field(ge=0)


class DebPin(_Strict):
    os: str
    name: str
    version: str
    arch: str
    repo: str
    url: str
    sha256: str = Field(pattern=_HEX64)
    size: int = Field(ge=0)


class DebIndexPin(_Strict):
    """A Packages index a deb repo was resolved from (verified against its Release file); apply
    builds the site's Packages from the stanzas of the locked packages in it."""

    os: str
    arch: str
    repo: str
    url: str
    sha256: str = Field(pattern=_HEX64)
    size: int = Field(ge=0)


class WheelPin(_Strict):
    """A Python distribution for the admin host's Kubespray venv (PEP 751-style fields)."""

    name: str
    version: str
    filename: str
    url: str
    sha256: str = Field(pattern=_HEX64)
    size: int = Field(ge=0)
    requires_python: str | None = None
    platforms: list[str] = Field(description="targets it serves: cp312-x86_64 ...")
    via: list[str] = Field(default_factory=list, description="what required it (like pip-tools)")
    sdist: bool = Field(default=False, description="no wheel exists for the target: built at install time")


class Lock(_Strict):
    version: Literal[1] = LOCK_VERSION
    inputs: Inputs
    kubespray: KubesprayPin
    file: list[FilePin] = Field(default_factory=list)
    image: list[ImagePin] = Field(default_factory=list)
    rpm: list[RpmPin] = Field(default_factory=list)
    deb: list[DebPin] = Field(default_factory=list)
    deb_index: list[DebIndexPin] = Field(default_factory=list)
    wheel: list[WheelPin] = Field(default_factory=list)
    packages_inputs: dict[str, str] = Field(default_factory=dict,
                                            description="per os (and 'python'): sha256 of what its closure "
                                                        "was resolved from")
