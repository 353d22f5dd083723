"""The user's side of Kubespray: which inventory variables airlock.yaml's shorthands set, and the
choices a release offers (addons, network plugins, kube_version), read from the tree itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airlock.kubespray.releases import kube_version_var, plain_version
from airlock.kubespray.tree import DOWNLOAD_ROLES, KubesprayTree

# airlock.yaml key -> the Kubespray inventory variable it sets.
SHORTHANDS = {"kube_version": "kube_version", "network_plugin": "kube_network_plugin",
              "container_manager": "container_manager"}
# Checksum tables that must know kube_version for every arch (Kubespray fails otherwise).
KUBE_TABLES = ("kubelet_checksums", "kubeadm_checksums", "kubectl_checksums")
# What ``ntp:`` means to Kubespray already at plan time: the preinstall role installs ``ntp_package``
# when ``ntp_enabled`` (system_packages' rule), and airlock's node/chrony.conf is chrony's on every OS.
NTP_PLAN_VARS: dict[str, Any] = {"ntp_enabled": True, "ntp_package": "chrony"}
# Network plugin roles that are not a choice for kube_network_plugin.
_NOT_PLUGINS = {"calico_defaults", "multus"}  # shared defaults, and an add-on meta plugin


def addon_var(addon: str) -> str:
    return f"{addon}_enabled"


def addons(tree: KubesprayTree) -> list[str]:
    """Addons are the boolean ``X_enabled`` switches of Kubespray's defaults."""
    defaults, _ = tree.layers(DOWNLOAD_ROLES)
    return sorted(k[: -len("_enabled")] for k, v in defaults.items()
                  if k.endswith("_enabled") and isinstance(v, bool))


def network_plugins(tree: KubesprayTree) -> list[str]:
    """Kubespray's network plugin roles (roles/network_plugin/<name>), plus 'none'."""
    base = tree.root / "roles" / "network_plugin"
    found = {p.name for p in base.iterdir() if p.is_dir() and p.name not in _NOT_PLUGINS} if base.is_dir() else set()
    return sorted(found | {"none"})


@dataclass(frozen=True)
class Shorthand:
    key: str        # airlock.yaml key (or "addons")
    var: str        # Kubespray variable
    value: Any


def shorthand_vars(tree: KubesprayTree, *, kube_version: str | None, network_plugin: str | None,
                   container_manager: str | None, addon_names: list[str]) -> list[Shorthand]:
    """The inventory variables airlock.yaml's own keys stand for, spelled as this release wants."""
    out = []
    values = {"kube_version": kube_version_var(tree, kube_version) if kube_version else None,
              "network_plugin": network_plugin, "container_manager": container_manager}
    for key, value in values.items():
        if value is not None:
            out.append(Shorthand(key, SHORTHANDS[key], value))
    out += [Shorthand("addons", addon_var(a), True) for a in addon_names]
    return out


def known_kube_versions(tree: KubesprayTree, table: str, arch: str) -> list[str]:
    """kube_versions (without v) a checksum table has for ``arch``: vars since 2.28, defaults in 2.27."""
    defaults, role_vars = tree.layers(DOWNLOAD_ROLES)
    rows = role_vars.get(table) or defaults.get(table) or {}
    return [plain_version(str(k)) for k in (rows.get(arch) or {})]
