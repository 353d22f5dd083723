"""The pydantic model of airlock.yaml (schema version 1).

Everything but ``kubespray.version`` is optional. Unknown keys are errors (``extra="forbid"``);
values that need Kubespray to be checked (addons, kube_version) are checked by the planner,
which knows the Kubespray tree.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from airlock.names import SafeName, check_rel_path, has_credentials
from airlock.reference import check_image_ref
from airlock.strict import Strict as _Strict
from airlock.targets import targets

SCHEMA_VERSION: Literal[1] = 1

_RELEASE = re.compile(r"^\d+\.\d+\.\d+$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# An NTP server: a host name, an IPv4/IPv6 address, or ``site`` (the host of ``apply --url``).
_NTP_HOST = re.compile(r"^(site|[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*|[0-9a-fA-F:.]+)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _http_url(value: str, *, with_path: bool = False) -> str:
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


def _one_of(value: str, allowed: list[str] | tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; allowed: {', '.join(sorted(allowed))}")
    return value


class KubesprayRef(_Strict):
    version: str
    source: str | None = None

    @field_validator("version")
    @classmethod
    def _release(cls, v: str) -> str:
        if not _RELEASE.match(v):
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
        _http_url(v, with_path=True)
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
        return _http_url(v)

    @field_validator("gpgkey")
    @classmethod
    def _key_url(cls, v: str | None) -> str | None:
        return v if v is None else _http_url(v)


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
        return v if v is None else _http_url(v)

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
        return v if v is None else _one_of(v, ADMIN_OSES, "admin os")

    @field_validator("arch")
    @classmethod
    def _arch(cls, v: str | None) -> str | None:
        return v if v is None else _one_of(v, list(targets().arches), "admin arch")

    @field_validator("python")
    @classmethod
    def _python(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^3\.(1[1-9])$", v):
            raise ValueError(f"{v!r} is not a Python airlock runs on: write \"3.11\", \"3.12\" or newer")
        return v


class Manifest(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    kubespray: KubesprayRef
    kube_version: str | None = None
    arch: list[str] = Field(default_factory=lambda: ["amd64"])
    os: list[str] = Field(default_factory=list)
    network_plugin: str | None = None
    container_manager: str | None = None
    addons: list[str] = Field(default_factory=list)
    vars: dict[str, Any] = Field(default_factory=dict)
    images: list[str] = Field(default_factory=list)
    files: list[ExtraFile] = Field(default_factory=list)
    packages: list[str] = Field(default_factory=list)
    repos: dict[str, list[RepoSpec]] = Field(default_factory=dict)
    base: dict[str, BaseSpec] = Field(default_factory=dict)
    weak_deps: bool = False
    python: PythonSpec = Field(default_factory=PythonSpec)
    mirrors: dict[str, str] = Field(default_factory=dict)
    ntp: list[str] = Field(default_factory=list)
    # Present (even empty: ``admin: {}``): the bundle carries airlock's own runtime in bootstrap/.
    admin: AdminSpec | None = None

    @field_validator("kube_version")
    @classmethod
    def _kube(cls, v: str | None) -> str | None:
        # Written with or without the v (Kubespray 2.27 spells it v1.31.9): kept without it, and
        # the planner spells it the way the release does.
        if v is not None and not _RELEASE.match(v.removeprefix("v")):
            raise ValueError(f"{v!r} is not a Kubernetes version like \"1.34.3\"")
        return v.removeprefix("v") if v is not None else None

    @field_validator("arch", mode="before")
    @classmethod
    def _arch_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("arch")
    @classmethod
    def _arches(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("at least one arch is needed")
        for a in v:
            _one_of(a, list(targets().arches), "arch")
        return sorted(set(v))

    @field_validator("os", mode="before")
    @classmethod
    def _os_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("os")
    @classmethod
    def _oses(cls, v: list[str]) -> list[str]:
        for o in v:
            _one_of(o, list(targets().os), "os")
        return list(dict.fromkeys(v))

    @field_validator("repos")
    @classmethod
    def _repo_oses(cls, v: dict[str, list[RepoSpec]]) -> dict[str, list[RepoSpec]]:
        for o, specs in v.items():
            _one_of(o, list(targets().os), "os in repos")
            for spec in specs:
                if spec.gpgcheck and spec.gpgkey is None:
                    # The distributions sign their repositories: unsigned must be a visible choice.
                    raise ValueError(f"repository {spec.name!r} of {o} has no gpgkey: add `gpgkey: URL` (the "
                                     "distribution's signing key), or `gpgcheck: false` to take it unsigned")
        return v

    @field_validator("base", mode="before")
    @classmethod
    def _base_release(cls, v: Any) -> Any:
        if isinstance(v, dict):  # base: {rocky-9: "9.4"} is base: {rocky-9: {release: "9.4"}}
            return {k: {"release": r} if isinstance(r, str) else r for k, r in v.items()}
        return v

    @field_validator("base")
    @classmethod
    def _base_oses(cls, v: dict[str, BaseSpec]) -> dict[str, BaseSpec]:
        for o in v:
            _one_of(o, list(targets().os), "os in base")
        return v

    @field_validator("container_manager")
    @classmethod
    def _cm(cls, v: str | None) -> str | None:
        return v if v is None else _one_of(v, targets().container_managers, "container_manager")

    @field_validator("addons")
    @classmethod
    def _addon_names(cls, v: list[str]) -> list[str]:
        for a in v:
            if not _IDENT.match(a):
                raise ValueError(f"{a!r} is not an addon name like metrics_server")
        return v

    @field_validator("vars")
    @classmethod
    def _var_names(cls, v: dict[str, Any]) -> dict[str, Any]:
        for k in v:
            if not isinstance(k, str) or not _IDENT.match(k):
                raise ValueError(f"{k!r} is not a Kubespray variable name")
        return v

    @field_validator("images")
    @classmethod
    def _refs(cls, v: list[str]) -> list[str]:
        for ref in v:
            check_image_ref(ref)
        return v

    @field_validator("mirrors")
    @classmethod
    def _mirrors(cls, v: dict[str, str]) -> dict[str, str]:
        for key, target in v.items():
            if not re.match(r"^https?://\S+$", target):
                raise ValueError(f"mirror for {key!r} must be an http(s) URL, got {target!r}")
            _http_url(target)
        return v

    @field_validator("ntp", mode="before")
    @classmethod
    def _ntp_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("ntp")
    @classmethod
    def _ntp_hosts(cls, v: list[str]) -> list[str]:
        for host in v:
            # written into chrony.conf and offline.yml: a space or newline would inject directives
            if len(host) > 253 or not _NTP_HOST.match(host):
                raise ValueError(f"ntp server {host!r} is not a host name or IP address (or `site`, the admin host)")
        return list(dict.fromkeys(v))
