"""Configurations checked against Kubespray's own evaluation in Ansible (see oracle.py).

Each case: manifest-level settings turned into Kubespray inventory variables, the arches and
the OS. ``oldest`` picks the oldest kube_version the release has checksums for.
"""

from __future__ import annotations

VERSIONS = ("2.29.1", "2.30.0", "2.31.0")

CASES: dict[str, dict] = {
    "default": {"arch": ["amd64"], "os": "rocky-10", "vars": {}},
    "flannel-arm64-helm-metrics": {
        "arch": ["arm64"], "os": "ubuntu-24.04",
        "vars": {"kube_network_plugin": "flannel", "helm_enabled": True, "metrics_server_enabled": True},
    },
    "cilium-addons": {
        "arch": ["amd64"], "os": "debian-12",
        "vars": {"kube_network_plugin": "cilium", "cert_manager_enabled": True,
                 "local_path_provisioner_enabled": True, "metallb_enabled": True, "argocd_enabled": True},
    },
    "crio-etcd-kubeadm": {
        "arch": ["amd64", "arm64"], "os": "rocky-9",
        "vars": {"container_manager": "crio", "etcd_deployment_type": "kubeadm"},
    },
    "older-kube-version": {"arch": ["amd64"], "os": "ubuntu-22.04", "vars": {}, "oldest": True},
    "edge-truthiness-and-runtimes": {
        "arch": ["amd64"], "os": "alma-9",
        "vars": {
            "helm_enabled": "false",        # a string: truthy in Jinja, so helm IS downloaded
            "registry_enabled": "False",    # converted to bool False by Ansible's templating
            "kube_proxy_mode": "nftables", "enable_nodelocaldns": False, "typha_enabled": True,
            "calico_apiserver_enabled": True, "gvisor_enabled": True, "kata_containers_enabled": True,
            "crun_enabled": True, "youki_enabled": True, "kube_vip_enabled": True,
            "kube_vip_lb_fwdmethod": "masquerade", "loadbalancer_apiserver_type": "haproxy",
            "csi_snapshot_controller_enabled": True, "gateway_api_enabled": True,
            "prometheus_operator_crds_enabled": True, "ntp_enabled": True,
        },
    },
    "docker-no-containers-skip-kubeadm": {
        "arch": ["arm64"], "os": "ubuntu-22.04",
        "vars": {"container_manager": "docker", "download_container": False, "skip_kubeadm_images": True,
                 "kube_network_plugin": "kube-router", "dns_mode": "none"},
    },
    "cilium-hubble-multus-digest": {
        "arch": ["amd64"], "os": "rhel-10",
        "vars": {"kube_network_plugin": "cilium", "cilium_enable_hubble": True,
                 "kube_network_plugin_multus": True, "kube_image_repo": "registry.example.internal/k8s",
                 "loadbalancer_apiserver_localhost": False, "ingress_nginx_enabled": True},
    },
}
