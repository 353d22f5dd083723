"""Which admin host the bundle bootstraps: OS, arch, Python, glibc, and the interpreter packages it lacks."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import yaml

from airlock.errors import AirlockError
from airlock.manifest.model import AdminSpec, Manifest
from airlock.packages import rpm_arch
from airlock.targets import data_dir, targets


@functools.cache
def admin_data() -> dict[str, Any]:
    return yaml.safe_load((data_dir() / "admin.yaml").read_text())


def _minor(v: str) -> tuple[int, int]:
    major, minor = v.split(".")[:2]
    return int(major), int(minor)


@dataclass(frozen=True)
class AdminHost:
    os: str
    arch: str  # amd64 / arm64 (the manifest's naming)
    python: str  # "3.12"
    glibc: str
    family: str  # rpm / deb
    system_python: str  # the OS's own python3
    os_release: str  # "debian 12": ID and VERSION_ID that install.sh accepts

    @property
    def interpreter_packages(self) -> list[str]:
        """The OS packages giving ``python`` when it is not the OS's python3 (python3.12 on Rocky 9)."""
        if self.python == self.system_python:
            return []
        return [f"python{self.python}"]

    @property
    def platform(self) -> str:
        return f"cp{self.python.replace('.', '')}-{rpm_arch(self.arch)}"


def admin_host(manifest: Manifest) -> AdminHost:
    """The admin host with every default applied: the first ``os`` and ``arch``, that OS's Python for
    Kubespray, raised to the Python airlock needs (Ubuntu 22.04's 3.10 becomes 3.11)."""
    data = admin_data()

    spec = manifest.admin or AdminSpec()
    os_name = spec.os or (manifest.os[0] if manifest.os else None)
    if os_name is None or os_name not in data["hosts"]:
        listed = f"the first os {os_name!r} is not one airlock can bootstrap on" if os_name else "no os is given"
        raise AirlockError(f"airlock.yaml: the admin host is unknown: {listed}",
                           hint=f"add admin: {{os: ...}} with one of {', '.join(sorted(data['hosts']))}")
    host = data["hosts"][os_name]
    python = spec.python or manifest.python.version or str(targets().os.get(os_name, host)["python"])
    minimum = str(data["minimum_python"])
    if _minor(python) < _minor(minimum):
        if spec.python:  # the model refuses this; kept for a Python given by python.version
            raise AirlockError(f"airlock.yaml: admin Python {python} is older than airlock needs ({minimum})")
        python = minimum
    return AdminHost(os=os_name, arch=spec.arch or manifest.arch[0], python=python, glibc=str(host["glibc"]),
                     family=str(host["family"]), system_python=str(host["python"]),
                     os_release=str(host["os_release"]))
