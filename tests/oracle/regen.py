"""Regenerate tests/golden/ from real Ansible:  python tests/oracle/regen.py [RELEASE...]

For every release (default: all of cases.VERSIONS) and case, runs Kubespray's selection per arch in
the ansible-core the release pins (venvs under $AIRLOCK_ANSIBLE_VENVS, default
~/.cache/airlock-oracle, created from PyPI on first use) and writes
tests/golden/<release>/<case>.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import CASES, VERSIONS  # noqa: E402
from oracle import ansible_core_for, ansible_playbook_for, run  # noqa: E402

REPO = HERE.parent.parent
SHARED = REPO.parent / "shared" / "kubespray"


def release_dir(version: str, shared: Path = SHARED) -> Path:
    """../shared/kubespray/<version>; "master" is the newest master-<commit> snapshot there."""
    if version != "master":
        return shared / version
    found = sorted(shared.glob("master-*"))
    if not found:
        raise FileNotFoundError(f"no master-* snapshot in {shared}")
    return found[-1]


def venvs_dir() -> Path:
    return Path(os.environ.get("AIRLOCK_ANSIBLE_VENVS", Path.home() / ".cache" / "airlock-oracle"))


def checksum_table(kubespray: Path) -> dict:
    import yaml

    for rel in ("roles/kubespray_defaults/vars/main/checksums.yml",
                "roles/kubespray-defaults/defaults/main/checksums.yml"):  # 2.27
        if (kubespray / rel).is_file():
            return yaml.safe_load((kubespray / rel).read_text())
    raise FileNotFoundError(f"no checksums.yml in {kubespray}")


def oldest_kube_version(kubespray: Path) -> str:
    from packaging.version import Version

    return str(min((str(k) for k in checksum_table(kubespray)["kubelet_checksums"]["amd64"]), key=Version))


def case_vars(kubespray: Path, case: dict) -> dict:
    v = dict(case["vars"])
    if case.get("oldest"):
        v["kube_version"] = oldest_kube_version(kubespray)
    return v


def main(versions: list[str]) -> None:
    for version in versions:
        ks = release_dir(version)
        core = ansible_core_for(ks)
        playbook = os.environ.get("ANSIBLE_PLAYBOOK") or ansible_playbook_for(core, venvs_dir())
        out_dir = REPO / "tests" / "golden" / version
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, case in CASES.items():
            result = {arch: run(ks, arch, case["os"], case_vars(ks, case), playbook) for arch in case["arch"]}
            doc = {"_generated_by": f"python tests/oracle/regen.py (ansible-core {core} evaluating Kubespray)",
                   "case": case, "vars": case_vars(ks, case), "by_arch": result}
            (out_dir / f"{name}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
            print(f"{version} {name}: ok", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:] or list(VERSIONS))
