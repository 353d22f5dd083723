"""Seeded random configurations: airlock's evaluation against Kubespray's own in real ansible-core.

Every configuration draws a release (all six supported ones, each in the ansible-core it pins), arch, OS, network plugin, container manager, etcd deployment,
proxy mode, a few addons and switches. Needs PyPI for ansible-core, hence the `network` marker.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from airlock.kubespray.tree import KubesprayTree
from tests.conftest import REPO, VERSIONS, kubespray_dir
from tests.unit.kubespray.test_against_ansible_goldens import evaluate

sys.path.insert(0, str(REPO / "tests" / "oracle"))
from oracle import run  # noqa: E402

pytestmark = pytest.mark.network
OSES = ["rocky-9", "rocky-10", "rhel-9", "rhel-10", "alma-9", "ubuntu-22.04", "ubuntu-24.04", "debian-12"]
SWITCHES = ("enable_nodelocaldns", "download_container", "skip_kubeadm_images", "kube_network_plugin_multus",
            "cilium_enable_hubble", "loadbalancer_apiserver_localhost", "download_run_once", "ntp_enabled",
            "enable_network_policy")
SEEDS = range(36)  # draws every release (tests/unit/kubespray/test_releases.py checks)


def config(seed: int) -> tuple[str, str, str, dict]:
    rng = random.Random(seed)
    version = rng.choice(VERSIONS)
    defaults, _ = KubesprayTree(kubespray_dir(version), version).layers(("kubespray_defaults",))
    addons = sorted(k for k, v in defaults.items() if k.endswith("_enabled") and isinstance(v, bool))
    user = {a: rng.random() < 0.3 for a in rng.sample(addons, 8)}
    user["kube_network_plugin"] = rng.choice(["calico", "flannel", "cilium", "kube-ovn", "kube-router", "macvlan",
                                              "none", "custom_cni"])
    user["container_manager"] = rng.choice(["containerd", "crio", "docker"])
    user["etcd_deployment_type"] = rng.choice(["host", "kubeadm", "docker"])
    user["kube_proxy_mode"] = rng.choice(["ipvs", "iptables", "nftables"])
    for k in SWITCHES:
        if rng.random() < 0.3:
            user[k] = rng.random() < 0.5
    if rng.random() < 0.3:
        user["dns_mode"] = rng.choice(["coredns", "coredns_dual", "manual", "none"])
    return version, rng.choice(["amd64", "arm64"]), rng.choice(OSES), user


@pytest.mark.parametrize("seed", SEEDS)
def test_random_configuration_agrees(ansible_for: Callable[[Path], str], seed: int) -> None:
    version, arch, os_name, user = config(seed)
    ks = Path(kubespray_dir(version))
    want = run(ks, arch, os_name, user, ansible_for(ks))
    assert evaluate(version, arch, os_name, user) == want, (version, arch, os_name, user)
