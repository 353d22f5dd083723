"""Configurations checked against Kubespray's own evaluation in Ansible (see oracle.py).

Each case: manifest-level settings turned into Kubespray inventory variables, the arches and
the OS. ``oldest`` picks the oldest kube_version the release has checksums for.
"""

from __future__ import annotations

# Release names as tests/golden/ and ../shared/kubespray name them ("master": its newest snapshot).
VERSIONS = ("2.27.1", "2.28.1", "2.29.1", "2.30.0", "2.31.0", "master")

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
    # -- network plugins, runtimes, addons, arches, etcd, pinning, mirrors, download modes --
    "kube-ovn-crio-multiarch": {
        "arch": ["amd64", "arm64"], "os": "rocky-10",
        "vars": {"kube_network_plugin": "kube-ovn", "container_manager": "crio", "kube_proxy_mode": "iptables"},
    },
    "macvlan-docker-etcd-docker": {
        "arch": ["amd64"], "os": "ubuntu-24.04",
        "vars": {"kube_network_plugin": "macvlan", "container_manager": "docker", "etcd_deployment_type": "docker",
                 "enable_nodelocaldns": True},
    },
    "custom-cni-kubeadm-etcd-arm64": {
        "arch": ["arm64"], "os": "debian-12",
        "vars": {"kube_network_plugin": "custom_cni", "etcd_deployment_type": "kubeadm",
                 "dns_mode": "coredns_dual", "kube_vip_enabled": True},
    },
    "digest-pinning": {
        "arch": ["amd64"], "os": "rocky-9",
        "vars": {"pod_infra_digest_checksum": "1" * 64, "calico_node_digest_checksum": "2" * 64,
                 "nodelocaldns_digest_checksum": "3" * 64, "metrics_server_digest_checksum": "4" * 64,
                 "metrics_server_enabled": True},
    },
    "storage-ingress-addons": {
        "arch": ["amd64"], "os": "ubuntu-22.04",
        "vars": {"local_volume_provisioner_enabled": True, "local_path_provisioner_enabled": True,
                 "ingress_nginx_enabled": True, "registry_enabled": True, "krew_enabled": True,
                 "node_feature_discovery_enabled": True, "cert_manager_enabled": True, "metallb_enabled": True},
    },
    "custom-mirrors": {
        "arch": ["amd64", "arm64"], "os": "alma-9",
        "vars": {"github_url": "https://files.example.internal/github.com",
                 "dl_k8s_io_url": "https://files.example.internal/dl.k8s.io",
                 "storage_googleapis_url": "https://files.example.internal/storage.googleapis.com",
                 "kube_image_repo": "mirror.example.internal/registry.k8s.io",
                 "quay_image_repo": "mirror.example.internal/quay.io",
                 "docker_image_repo": "mirror.example.internal/docker.io",
                 "github_image_repo": "mirror.example.internal/ghcr.io", "helm_enabled": True},
    },
    "download-run-once-localhost": {
        "arch": ["amd64"], "os": "rhel-9",
        "vars": {"download_run_once": True, "download_localhost": True, "kube_network_plugin": "flannel",
                 "etcd_deployment_type": "host", "enable_nodelocaldns": False},
    },
    "oldest-cilium-arm64-gateway": {
        "arch": ["arm64"], "os": "ubuntu-24.04", "oldest": True,
        "vars": {"kube_network_plugin": "cilium", "gateway_api_enabled": True, "cilium_enable_hubble": True,
                 "cilium_hubble_install": True},
    },
    "kube-router-runtimes-arm64": {
        "arch": ["arm64"], "os": "rocky-9",
        "vars": {"kube_network_plugin": "kube-router", "gvisor_enabled": True, "crun_enabled": True,
                 "youki_enabled": True, "kata_containers_enabled": True, "kube_proxy_remove": True},
    },
    "skip-downloads": {"arch": ["amd64"], "os": "debian-12", "vars": {"skip_downloads": True}},
}
