"""The pydantic model of airlock.yaml (schema version 1).

Everything but ``kubespray.version`` is optional. Unknown keys are errors (``extra="forbid"``);
values that need Kubespray to be checked (addons, kube_version) are checked by the planner,
which knows the Kubespray tree. The top level is here; its sections are in :mod:`airlock.manifest.sections`.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from airlock.manifest.sections import (
    RELEASE,
    AdminSpec,
    BaseSpec,
    ExtraFile,
    KubesprayRef,
    PythonSpec,
    RepoSpec,
    http_url,
    one_of,
)
from airlock.reference import check_image_ref
from airlock.strict import Strict as _Strict
from airlock.targets import targets

SCHEMA_VERSION: Literal[1] = 1

# An NTP server: a host name, an IPv4/IPv6 address, or ``site`` (the host of ``apply --url``).
_NTP_HOST = re.compile(r"^(site|[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*|[0-9a-fA-F:.]+)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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
        if v is not None and not RELEASE.match(v.removeprefix("v")):
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
            one_of(a, list(targets().arches), "arch")
        return sorted(set(v))

    @field_validator("os", mode="before")
    @classmethod
    def _os_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("os")
    @classmethod
    def _oses(cls, v: list[str]) -> list[str]:
        for o in v:
            one_of(o, list(targets().os), "os")
        return list(dict.fromkeys(v))

    @field_validator("repos")
    @classmethod
    def _repo_oses(cls, v: dict[str, list[RepoSpec]]) -> dict[str, list[RepoSpec]]:
        for o, specs in v.items():
            one_of(o, list(targets().os), "os in repos")
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
            one_of(o, list(targets().os), "os in base")
        return v

    @field_validator("container_manager")
    @classmethod
    def _cm(cls, v: str | None) -> str | None:
        return v if v is None else one_of(v, targets().container_managers, "container_manager")

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
            http_url(target)
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
