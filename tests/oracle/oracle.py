"""Run Kubespray's evaluation in real Ansible, with the ansible-core the release pins, for one target.

Usage: python oracle.py KUBESPRAY_DIR ARCH OS_NAME VARS_JSON  -> prints JSON
{"files": [[name, url, checksum]...], "images": [[name, ref]...], "packages": [...]}
ansible-playbook comes from a venv per ansible-core version (see ``ansible_playbook_for``), or
$ANSIBLE_PLAYBOOK.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# The `ansible` community package Kubespray's requirements.txt pins -> the ansible-core it brings.
CORE_OF_ANSIBLE = {"9": "2.16", "10": "2.17", "11": "2.18"}
# Where a release keeps the roles the oracle loads, newest layout first (2.27: kubespray-defaults,
# and the package list in kubernetes/preinstall before system_packages existed).
ROLES = (("kubespray_defaults", "kubespray-defaults"), ("system_packages", "kubernetes/preinstall"))


def ansible_core_for(kubespray: Path) -> str:
    """The ansible-core minor version a Kubespray tree pins (via its requirements.txt)."""
    m = re.search(r"^ansible==(\d+)\.", (kubespray / "requirements.txt").read_text(), re.MULTILINE)
    if not m or m.group(1) not in CORE_OF_ANSIBLE:
        raise RuntimeError(f"{kubespray}/requirements.txt pins no ansible release the oracle knows")
    return CORE_OF_ANSIBLE[m.group(1)]


def ansible_playbook_for(core: str, venvs: Path) -> str:
    """ansible-playbook of ansible-core ``core`` in ``venvs/ansible-<core>`` (created from PyPI once)."""
    venv = venvs / f"ansible-{core}"
    playbook = venv / "bin" / "ansible-playbook"
    if not playbook.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"ansible-core=={core}.*"], check=True)
    return str(playbook)


def release_roles(kubespray: Path) -> list[str]:
    out = []
    for names in ROLES:
        found = next((n for n in names if (kubespray / "roles" / n).is_dir()), None)
        if found is None:
            raise RuntimeError(f"{kubespray} has none of roles/{', roles/'.join(names)}")
        out.append(found)
    return out


def target_facts(arch: str, os_name: str | None) -> tuple[dict, dict]:
    """(gathered facts, Kubespray's runtime set_facts) of the declared target."""
    targets = yaml.safe_load((REPO / "manifests" / "targets.yaml").read_text())
    facts = {"ansible_system": "Linux", "ansible_architecture": targets["arches"][arch]["ansible_architecture"],
             "ansible_machine": targets["arches"][arch]["ansible_architecture"]}
    if os_name:
        facts.update(targets["os"][os_name]["facts"])
    return facts, dict(targets["runtime_facts"])


def run(kubespray: Path, arch: str, os_name: str | None, user_vars: dict, ansible_playbook: str) -> dict:
    targets = yaml.safe_load((REPO / "manifests" / "targets.yaml").read_text())
    facts, runtime = target_facts(arch, os_name)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        inv = {"all": {"hosts": {"node1": {"ansible_connection": "local",
                                            "ansible_python_interpreter": sys.executable, **runtime}},
                       "children": {g: {"hosts": {"node1": {}}} for g in targets["cluster_groups"]}}}
        (t / "inventory").mkdir()
        (t / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inv))
        (t / "inventory" / "group_vars").mkdir()
        (t / "inventory" / "group_vars" / "all.yml").write_text(yaml.safe_dump(user_vars or {}))
        playbook = (HERE / "playbook.yml").read_text().replace("roles: ROLES", f"roles: {release_roles(kubespray)}")
        (t / "playbook.yml").write_text(playbook)
        (t / "extra.json").write_text(json.dumps({"oracle_arch": arch, "oracle_out": str(t / "out.json"),
                                                  "oracle_facts": facts}))
        env = dict(os.environ, ANSIBLE_ROLES_PATH=str(kubespray / "roles"), ANSIBLE_LIBRARY=str(HERE / "library"),
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_DEPRECATION_WARNINGS="false", ANSIBLE_COLLECTIONS_PATH=str(t))
        proc = subprocess.run([ansible_playbook, "-i", str(t / "inventory" / "hosts.yml"),
                               str(t / "playbook.yml"), "-e", f"@{t / 'extra.json'}"],
                              capture_output=True, text=True, env=env, cwd=t)
        if proc.returncode != 0:
            raise RuntimeError(f"ansible-playbook failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        out = json.loads((t / "out.json").read_text())
    files, images = [], []
    for m in out["downloads"]:
        if m["container"]:
            images.append([m["key"].removeprefix("kubeadm_"), m["ref"]])
        else:
            files.append([m["key"], m["url"], m["checksum"]])
    return {"files": sorted(files), "images": sorted(images),
            "packages": sorted(out["packages"])}


if __name__ == "__main__":
    ks, arch, os_name, vars_json = sys.argv[1:5]
    print(json.dumps(run(Path(ks), arch, os_name or None, json.loads(vars_json),
                         os.environ.get("ANSIBLE_PLAYBOOK", "ansible-playbook")), indent=1))
