"""Run Kubespray's evaluation in real Ansible (ansible-core 2.17) for one target.

Usage: python oracle.py KUBESPRAY_DIR ARCH OS_NAME VARS_JSON  -> prints JSON
{"files": [[name, url, checksum]...], "images": [[name, ref]...], "packages": [...]}
Needs ansible-playbook on PATH (pip install 'ansible-core==2.17.*').
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def run(kubespray: Path, arch: str, os_name: str | None, user_vars: dict, ansible_playbook: str) -> dict:
    targets = yaml.safe_load((REPO / "manifests" / "targets.yaml").read_text())
    facts = {"ansible_system": "Linux", "ansible_architecture": targets["arches"][arch]["ansible_architecture"],
             "ansible_machine": targets["arches"][arch]["ansible_architecture"]}
    if os_name:
        facts.update(targets["os"][os_name]["facts"])
    facts.update(targets["runtime_facts"])
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        inv = {"all": {"hosts": {"node1": {"ansible_connection": "local",
                                            "ansible_python_interpreter": sys.executable, **facts}},
                       "children": {g: {"hosts": {"node1": {}}} for g in targets["cluster_groups"]}}}
        (t / "inventory").mkdir()
        (t / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inv))
        (t / "inventory" / "group_vars").mkdir()
        (t / "inventory" / "group_vars" / "all.yml").write_text(yaml.safe_dump(user_vars or {}))
        env = dict(os.environ, ANSIBLE_ROLES_PATH=str(kubespray / "roles"),
                   ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_DEPRECATION_WARNINGS="false", ANSIBLE_COLLECTIONS_PATH=str(t))
        proc = subprocess.run([ansible_playbook, "-i", str(t / "inventory" / "hosts.yml"),
                               str(HERE / "playbook.yml"), "-e", f"oracle_arch={arch}",
                               "-e", f"oracle_out={t / 'out.json'}"],
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
