"""Read the parts of a Kubespray source tree airlock evaluates: role defaults/vars and requirements.

Ansible loads a role's ``defaults/main.yml`` or every file of ``defaults/main/`` (sorted by
name, later files replacing earlier top-level keys); the same for ``vars/``.

Callers name roles by their current (2.28+) names; :data:`ROLE_DIRS` lists where older releases
keep the same variables (2.27: ``kubespray-defaults``, and the package list in
``kubernetes/preinstall`` before ``system_packages`` existed). The first directory that exists wins.
"""

from __future__ import annotations

import hashlib
import marshal
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airlock.bounded import check_yaml
from airlock.cache import cache_root
from airlock.errors import KubesprayError
from airlock.kubespray.releases import SUPPORTED
from airlock.scratch import replacing_locked

try:  # libyaml parses checksums.yml ~10x faster; same YAML 1.1 rules as Ansible's loader
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - only without libyaml
    _Loader = yaml.SafeLoader

# Roles whose variables are in scope where Kubespray's download role and system_packages run.
DOWNLOAD_ROLES = ("kubespray_defaults",)
PACKAGE_ROLES = ("kubespray_defaults", "system_packages")
# Logical role -> the directories (under roles/) that hold it, newest layout first.
ROLE_DIRS: dict[str, tuple[str, ...]] = {
    "kubespray_defaults": ("kubespray_defaults", "kubespray-defaults"),
    "system_packages": ("system_packages", "kubernetes/preinstall"),
}
_MARKER = {"kubespray_defaults": "defaults/main", "system_packages": "vars/main.yml"}  # named in errors


@dataclass
class KubesprayTree:
    root: Path
    version: str
    _layers: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, Any]]] = field(
        default_factory=dict, repr=False, compare=False)
    # Template-free variable values frozen once and shared by every evaluator of this tree
    # (Evaluator's ``frozen`` memo): it lives as long as the layers it points into.
    frozen: dict[int, tuple[Any, Any]] = field(default_factory=dict, repr=False, compare=False)

    def check(self) -> None:
        missing = [" or ".join(f"roles/{d}/{_MARKER[role]}" for d in dirs) for role, dirs in ROLE_DIRS.items()
                   if self.role_dir(role) is None]
        if not (self.root / "requirements.txt").is_file():
            missing.append("requirements.txt")
        if missing:
            raise KubesprayError(
                f"the Kubespray tree at {self.root} lacks {', '.join(missing)}",
                hint=f"point kubespray.source at a Kubespray {self.version} source tree or tarball "
                     f"(airlock evaluates Kubespray {SUPPORTED})")

    def role_dir(self, role: str) -> Path | None:
        """The directory of a logical role in this release's layout (None when it has none)."""
        for name in ROLE_DIRS.get(role, (role,)):
            path = self.root / "roles" / name
            if (path / "defaults").is_dir() or (path / "vars").is_dir():
                return path
        return None

    def own_version(self) -> str | None:
        """The release the tree says it is (galaxy.yml ``version``), None when it does not say."""
        path = self.root / "galaxy.yml"
        if not path.is_file():
            return None
        data = self._load(path)
        version = data.get("version")
        return str(version) if version is not None else None

    def role_layer(self, role: str, kind: str) -> dict[str, Any]:
        """Merged ``defaults`` or ``vars`` of one role (empty when the role has none)."""
        role_dir = self.role_dir(role)
        if role_dir is None:
            return {}
        base = role_dir / kind
        files: list[Path] = []
        if (base / "main").is_dir():
            files = sorted(p for p in (base / "main").iterdir() if p.suffix in (".yml", ".yaml", ""))
        for name in ("main.yml", "main.yaml"):
            if (base / name).is_file():
                files.append(base / name)
        out: dict[str, Any] = {}
        for f in files:
            out.update(self._load(f))
        return out

    def layers(self, roles: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(defaults, vars) of ``roles`` merged in order. Callers must not mutate them."""
        if roles not in self._layers:
            self._layers[roles] = self._merge(roles)
        return self._layers[roles]

    def _merge(self, roles: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        defaults: dict[str, Any] = {}
        role_vars: dict[str, Any] = {}
        for role in roles:
            defaults.update(self.role_layer(role, "defaults"))
            role_vars.update(self.role_layer(role, "vars"))
        return defaults, role_vars

    def requirements(self) -> list[str]:
        path = self.root / "requirements.txt"
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise KubesprayError(f"cannot read {path}: {exc}") from None
        reqs = []
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line:
                reqs.append(line)
        return reqs

    def _load(self, path: Path) -> dict[str, Any]:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise KubesprayError(f"cannot read {path}: {exc}") from None
        # Parsed files are cached by content hash: checksums.yml alone takes ~60 ms to construct.
        cached = cache_root() / "yaml" / (hashlib.sha256(raw).hexdigest() + ".marshal")
        try:
            return marshal.loads(cached.read_bytes())
        except (OSError, EOFError, ValueError, TypeError):
            pass
        data = self._parse(path, raw)
        try:
            blob = marshal.dumps(data)
            with replacing_locked(cached) as f:
                f.write(blob)
        except (OSError, ValueError):  # a read-only cache or a non-marshallable value: just parse next time
            pass
        return data

    def _parse(self, path: Path, raw: bytes) -> dict[str, Any]:
        # A Kubespray tree can come out of a bundle: bound it like any untrusted YAML.
        check_yaml(raw, KubesprayError, str(path), max_bytes=16 << 20)
        try:
            data = yaml.load(raw, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else 0
            raise KubesprayError(f"malformed YAML: {exc.problem}", where=f"{path}:{line}") from None
        except yaml.YAMLError as exc:
            raise KubesprayError(f"cannot read {path}: {exc}") from None
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise KubesprayError(f"{path} is not a mapping of variables", where=str(path))
        return data
