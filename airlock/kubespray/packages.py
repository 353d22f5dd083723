"""OS packages Kubespray's ``system_packages`` role installs on a node.

The role installs ``pkgs | dict2items | selectattr('value', 'all') | map(attribute='key')``:
a package whose list of conditions all template to true for that node.
"""

from __future__ import annotations

from airlock.kubespray.evaluator import Evaluator


def select_packages(ev: Evaluator) -> list[str]:
    pkgs = ev.raw("pkgs")
    chosen = []
    for name, conditions in pkgs.items():
        values = ev.template(conditions or [], label=f"pkgs.{name}")
        if all(ev.truthy(v) for v in values):
            chosen.append(str(name))
    return sorted(chosen)
