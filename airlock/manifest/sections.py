"""The sections of airlock.yaml (kubespray, files, repos, base, python, admin) for :mod:`airlock.manifest.model`.

Each is a strict pydantic model; the checks shared with the top level (URLs, names from a list) are here too.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from airlock.names import SafeName, check_rel_path, has_credentials
from airlock.strict import Strict as _Strict
from airlock.targets import targets

RELEASE = re.compile(r"^\d+\.\d+\.\d+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def http_url(value: str, *, with_path: bool = False) -> str:
    pattern = r"^https?://[^/\s]+/\S*$" if with_path else r"^https?://\S+$"
    if not re.match(pattern, value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return _no_credentials(value)


def _no_credentials(value: str) -> str:
    if has_credentials(value):
        # airlock.yaml travels inside the bundle and is copied to the site: a password here leaks.
        raise ValueError(f"{urlsplit(value).hostname}: a URL in airlock.yaml must not carry a user or password "
                         "(the manifest is copied into the bundle and the site); airlock takes registry credentials "
                         "from AIRLOCK_AUTH_<HOST>, REGISTRY_AUTH_FILE or ~/.docker/config.json")
    return value


def one_of(value: str, allowed: list[str] | tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(sorted(allowed))}")
    return value


class KubesprayRef(_Strict):
    version: str
    source: str | None = None

    @field_validator("version")
    @classmethod
    def _release(cls, v: str) -> str:
        if not RELEASE.match(v):
            raise ValueError(f"{v!r} is not a Kubespray release like \"2.30.0\" (write it without the v)")
        return v

    @field_validator("source")
    @classmethod
    def _no_secret(cls, v: str | None) -> str | None:
        return _no_credentials(v) if v and "://" in v else v

    def default_source(self) -> str:
        return f"https://github.com/kubernetes-sigs/kubespray/archive/refs/tags/v{self.version}.tar.gz"


class ExtraFile(_Strict):
    url: str
    sha256: str | None = None
    name: SafeName | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        http_url(v, with_path=True)
        parts = urlsplit(v)
        check_rel_path(parts.netloc + parts.path)  # the site serves it at files/<host>/<path>
        return v

    @field_validator("sha256")
    @classmethod
    def _hex(cls, v: str | None) -> str | None:
        if v is not None and not _HEX64.match(v):
            raise ValueError("sha256 must be 64 lowercase hex digits")
        return v


class RepoSpec(_Strict):
    """An OS package repository: rpm-md (``url`` is the directory holding repodata/) or Debian
    (``url`` is the archive root, with ``suite`` and ``components``). ``{arch}`` is expanded."""

    name: SafeName
    url: str
    suite: str | None = None
    components: list[str] = Field(default_factory=list)
    # The distribution's signing key (armored or binary OpenPGP), pinned in the lock by sha256: deb Release
    # files are verified against it at resolve, rpm nodes check packages with it (gpgcheck=1).
    gpgkey: str | None = None
    # false: the repository is not signed; its packages are taken unverified (nodes get gpgcheck=0).
    gpgcheck: bool = True

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        return http_url(v)

    @field_validator("gpgkey")
    @classmethod
    def _key_url(cls, v: str | None) -> str | None:
        return v if v is None else http_url(v)


class BaseSpec(_Strict):
    """The system nodes already carry before the site's packages go on: usually the OS's minimal install of
    an older point release. The lock then also holds the updates of these packages the set drags in.
    ``base: {rocky-9: "9.4"}`` is ``{release: "9.4"}``: that release's repositories (the distribution's vault,
    manifests/packages.yaml) and its minimal install (the ``core`` group of their comps)."""

    release: str | None = Field(default=None, pattern=r"^\d+\.\d+$")
    repos: list[RepoSpec] = Field(default_factory=list, description="the release's repositories (metadata only)")
    packages: list[str] = Field(default_factory=list, description="the packages installed on the nodes")

    @model_validator(mode="after")
    def _some_repos(self) -> BaseSpec:
        if self.release is None and not self.repos:
            raise ValueError('give the point release ("9.4") or repos: (and packages:)')
        return self

    @field_validator("packages")
    @classmethod
    def _names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not re.match(r"^[A-Za-z0-9][A-Za-z0-9+._~:-]*$", name):
                raise ValueError(f"{name!r} is not a package name")
        return sorted(set(v))


class PythonSpec(_Strict):
    version: str | None = None
    requirements: list[str] = Field(default_factory=list)
    index_url: str | None = None

    @field_validator("index_url")
    @classmethod
    def _index(cls, v: str | None) -> str | None:
        return v if v is None else http_url(v)

    @field_validator("version")
    @classmethod
    def _minor(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^3\.\d+$", v):
            raise ValueError(f"{v!r} is not a Python version like \"3.12\"")
        return v


ADMIN_OSES = ("alma-9", "alma-10", "debian-12", "rhel-9", "rhel-10", "rocky-9", "rocky-10", "ubuntu-22.04",
              "ubuntu-24.04")


class AdminSpec(_Strict):
    """The admin host inside the air gap (runs airlock and Kubespray's Ansible). Unset fields default
    from the manifest: the first ``os`` and ``arch``, that OS's Python for Kubespray."""

    os: str | None = None
    arch: str | None = None
    python: str | None = None

    @field_validator("os")
    @classmethod
    def _os(cls, v: str | None) -> str | None:
        return v if v is None else one_of(v, ADMIN_OSES, "admin os")

    @field_validator("arch")
    @classmethod
    def _arch(cls, v: str | None) -> str | None:
        return v if v is None else one_of(v, list(targets().arches), "admin arch")

    @field_validator("python")
    @classmethod
    def _python(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^3\.(1[1-9])$", v):
            raise ValueError(f"{v!r} is not a Python airlock runs on: write \"3.11\", \"3.12\" or newer")
        return v
