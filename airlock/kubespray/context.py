"""Build an :class:`Evaluator` for one target node: its arch, its OS, the user's variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airlock.kubespray.evaluator import Evaluator
from airlock.kubespray.tree import KubesprayTree
from airlock.targets import targets

NODE = "node1"


@dataclass(frozen=True)
class Target:
    """One kind of node: ``arch`` (amd64/arm64) and optionally an OS name from targets.yaml."""

    arch: str
    os: str | None = None
    groups: tuple[str, ...] = field(default_factory=lambda: targets().cluster_groups)


def facts_for(target: Target) -> dict[str, Any]:
    """Ansible facts of such a node: from the declared target, never from this machine."""
    facts: dict[str, Any] = {
        "ansible_system": "Linux",
        "ansible_architecture": targets().arches[target.arch]["ansible_architecture"],
        "ansible_machine": targets().arches[target.arch]["ansible_architecture"],
    }
    if target.os:
        facts.update(targets().os[target.os]["facts"])
    # Gathered facts are also in the ``ansible_facts`` dict without their prefix (Kubespray's
    # newer releases read ``ansible_facts['architecture']``); Kubespray's set_facts are not.
    facts["ansible_facts"] = {k.removeprefix("ansible_"): v for k, v in facts.items()}
    facts.update(targets().runtime_facts)
    return facts


def magic_vars(target: Target) -> dict[str, Any]:
    """Inventory magic variables for a cluster whose nodes together fill ``target.groups``."""
    groups = {g: [NODE] for g in target.groups}
    groups["all"] = [NODE]
    groups.setdefault("ungrouped", [])
    return {
        "inventory_hostname": NODE,
        "inventory_hostname_short": NODE,
        "group_names": sorted(target.groups),
        "groups": groups,
        "play_hosts": [NODE],
        "ansible_play_hosts": [NODE],
        "ansible_play_batch": [NODE],
        "omit": "__omit_place_holder__",
    }


def make_evaluator(tree: KubesprayTree, roles: tuple[str, ...], inventory: Mapping[str, Any],
                   target: Target) -> Evaluator:
    defaults, role_vars = tree.layers(roles)
    set_facts = {
        # Kubespray's own set_fact: architecture_groups maps x86_64 -> amd64, aarch64 -> arm64.
        "host_architecture": target.arch,
    }
    return Evaluator(
        [defaults, dict(inventory), facts_for(target), role_vars, set_facts, magic_vars(target)],
        source=f"Kubespray {tree.version} ({target.arch}{', ' + target.os if target.os else ''})",
        frozen=tree.frozen,
    )
