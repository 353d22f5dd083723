"""Regenerate tests/golden/ from real Ansible:  python tests/oracle/regen.py  (needs ansible-core 2.17).

Writes tests/golden/<kubespray version>/<case>.json with Kubespray's selection per arch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, VERSIONS  # noqa: E402
from oracle import run  # noqa: E402

REPO = HERE.parent.parent
SHARED = REPO.parent / "shared" / "kubespray"


def oldest_kube_version(kubespray: Path) -> str:
    import yaml

    checks = yaml.safe_load((kubespray / "roles/kubespray_defaults/vars/main/checksums.yml").read_text())
    from packaging.version import Version

    return str(min((str(k) for k in checks["kubelet_checksums"]["amd64"]), key=Version))


def case_vars(kubespray: Path, case: dict) -> dict:
    v = dict(case["vars"])
    if case.get("oldest"):
        v["kube_version"] = oldest_kube_version(kubespray)
    return v


def main() -> None:
    playbook = os.environ.get("ANSIBLE_PLAYBOOK", "ansible-playbook")
    for version in VERSIONS:
        ks = SHARED / version
        out_dir = REPO / "tests" / "golden" / version
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, case in CASES.items():
            result = {arch: run(ks, arch, case["os"], case_vars(ks, case), playbook) for arch in case["arch"]}
            doc = {"_generated_by": "python tests/oracle/regen.py (ansible-core 2.17 evaluating Kubespray)",
                   "case": case, "vars": case_vars(ks, case), "by_arch": result}
            (out_dir / f"{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
            print(f"{version} {name}: ok")


if __name__ == "__main__":
    main()
