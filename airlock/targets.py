"""Target platform data (arches, OS facts, per-OS defaults) kept in ``manifests/targets.yaml``."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from airlock.errors import AirlockError

# libyaml when present: the pure-Python loader takes ~25 ms for this file, a tenth of `airlock plan`
LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def data_dir() -> Path:
    """Where the ``manifests/`` data lives: inside the wheel, or beside the package in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data", here.parent / "manifests"):
        if (candidate / "targets.yaml").is_file():
            return candidate
    raise AirlockError("airlock's data files (manifests/targets.yaml) are missing",
                       hint="reinstall airlock")


@dataclass(frozen=True)
class Targets:
    arches: dict[str, dict[str, str]]
    os: dict[str, dict[str, Any]]
    default_python: str
    default_glibc: str
    runtime_facts: dict[str, Any]
    cluster_groups: tuple[str, ...]
    container_managers: tuple[str, ...]


@functools.cache
def targets() -> Targets:
    raw = yaml.load((data_dir() / "targets.yaml").read_text(), Loader=LOADER)
    return Targets(
        arches=raw["arches"],
        os=raw["os"],
        default_python=str(raw["default_python"]),
        default_glibc=str(raw["default_glibc"]),
        runtime_facts=raw["runtime_facts"],
        cluster_groups=tuple(raw["cluster_groups"]),
        container_managers=tuple(raw["container_managers"]),
    )
