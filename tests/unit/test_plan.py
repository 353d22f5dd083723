"""build_plan: aggregation across arches and OSes, extras, defaults, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airlock.kubespray.source import Source
from airlock.manifest import load_manifest
from airlock.plan import build_plan, open_manifest_source
from tests.conftest import kubespray_dir


def write(tmp_path: Path, body: str, version: str = "2.30.0") -> Path:
    src = kubespray_dir(version)
    p = tmp_path / "airlock.yaml"
    p.write_text(f'kubespray: {{version: "{version}", source: "{src}"}}\n' + body)
    return p


def plan(tmp_path: Path, body: str, version: str = "2.30.0"):
    return build_plan(load_manifest(write(tmp_path, body, version)))


def test_two_arches_give_per_arch_files_and_one_image_with_both(tmp_path: Path) -> None:
    p = plan(tmp_path, "arch: [arm64, amd64]\n")
    kubelets = [f for f in p.files if f.name == "kubelet"]
    assert sorted(f.arch for f in kubelets) == ["amd64", "arm64"]
    assert kubelets[0].url != kubelets[1].url
    apiserver = [i for i in p.images if i.name == "kube-apiserver"]
    assert len(apiserver) == 1 and apiserver[0].arch == ["amd64", "arm64"]
    assert apiserver[0].ref == "registry.k8s.io/kube-apiserver:v1.34.3"
    assert p.arch == ["amd64", "arm64"]


def test_arch_independent_files_are_noarch_once(tmp_path: Path) -> None:
    p = plan(tmp_path, "arch: [amd64, arm64]\naddons: [argocd]\n")
    argocd = [f for f in p.files if f.name == "argocd_install"]
    assert len(argocd) == 1 and argocd[0].arch == "noarch"
    assert argocd[0].path.startswith("raw.githubusercontent.com/argoproj/argo-cd/")


def test_file_fields(tmp_path: Path) -> None:
    p = plan(tmp_path, "kube_version: \"1.34.3\"\n")
    kubelet = next(f for f in p.files if f.name == "kubelet")
    assert kubelet.url == "https://dl.k8s.io/release/v1.34.3/bin/linux/amd64/kubelet"
    assert kubelet.path == "dl.k8s.io/release/v1.34.3/bin/linux/amd64/kubelet"
    assert kubelet.kubespray_var == "kubelet_download_url"
    assert kubelet.checksum is not None and kubelet.checksum.startswith("sha256:")


def test_sha512_checksums_are_kept_as_pinned(tmp_path: Path) -> None:
    p = plan(tmp_path, "addons: [gvisor]\n")
    runsc = next(f for f in p.files if f.name == "gvisor_runsc")
    assert runsc.checksum is not None and runsc.checksum.startswith("sha512:")
    assert runsc.url.endswith("/x86_64/runsc")


def test_extras_packages_python(tmp_path: Path) -> None:
    p = plan(tmp_path, """
os: [rocky-10, ubuntu-24.04]
images: ["docker.io/library/nginx:1.29.4"]
files: [{url: "https://example.org/tools/tool.tgz", sha256: "%s"}]
packages: [nfs-utils]
python: {requirements: ["ansible-lint==25.1.0"]}
""" % ("ab" * 32))
    assert any(i.ref == "docker.io/library/nginx:1.29.4" and i.arch == ["amd64"] for i in p.images)
    tool = next(f for f in p.files if f.name == "tool.tgz")
    assert tool.checksum == "sha256:" + "ab" * 32 and tool.path == "example.org/tools/tool.tgz"
    assert set(p.packages) == {"rocky-10", "ubuntu-24.04"}
    assert "nfs-utils" in p.packages["rocky-10"] and "container-selinux" in p.packages["rocky-10"]
    assert "apparmor" in p.packages["ubuntu-24.04"] and "container-selinux" not in p.packages["ubuntu-24.04"]
    assert p.python_version == "3.12"
    assert p.python_requirements[0] == "ansible==10.7.0" and p.python_requirements[-1] == "ansible-lint==25.1.0"


def test_python_version_follows_first_os_unless_given(tmp_path: Path) -> None:
    assert plan(tmp_path, "os: [ubuntu-22.04]\n").python_version == "3.10"
    assert plan(tmp_path, "os: [ubuntu-22.04]\npython: {version: \"3.11\"}\n").python_version == "3.11"


def test_ipvs_decides_ipvsadm_vs_ipset(tmp_path: Path) -> None:
    ipvs = plan(tmp_path, "os: [rocky-9]\n").packages["rocky-9"]
    iptables = plan(tmp_path, "os: [rocky-9]\nvars: {kube_proxy_mode: iptables}\n").packages["rocky-9"]
    assert "ipvsadm" in ipvs and "ipset" not in ipvs
    assert "ipset" in iptables and "ipvsadm" not in iptables


def test_duplicate_image_refs_collapse(tmp_path: Path) -> None:
    p = plan(tmp_path, "vars: {etcd_deployment_type: kubeadm}\n")
    refs = [i.ref for i in p.images]
    assert len(refs) == len(set(refs))
    assert sum(1 for r in refs if r.startswith("quay.io/coreos/etcd:")) == 1
    assert not any(f.name == "etcd" for f in p.files)  # etcd runs as a container then


@pytest.mark.parametrize(("version", "by_digest"), [("2.27.1", True), ("2.30.0", False)])
def test_digest_pins_are_followed_as_kubespray_does(tmp_path: Path, version: str, by_digest: bool) -> None:
    # set_container_facts.yml pulls by digest when the item has a `sha256`; since 2.28 the
    # *_digest_checksum variables land in `checksum` instead, so Kubespray pulls by tag.
    digest = "c" * 64
    p = plan(tmp_path, f"vars: {{pod_infra_digest_checksum: \"{digest}\"}}\n", version)
    pause = [i.ref for i in p.images if i.ref.startswith("registry.k8s.io/pause")]
    assert pause == ([f"registry.k8s.io/pause@sha256:{digest}"] if by_digest else [pause[0].split("@")[0]])
    assert ("@" in pause[0]) is by_digest


@pytest.mark.parametrize("version", ["2.29.1", "2.30.0", "2.31.0"])
def test_default_kube_version_is_kubesprays(tmp_path: Path, version: str) -> None:
    p = plan(tmp_path, "", version)
    want = {"2.29.1": "1.33.7", "2.30.0": "1.34.3", "2.31.0": "1.35.4"}[version]
    assert p.kube_version == want


def test_json_is_deterministic_and_sorted(tmp_path: Path) -> None:
    body = "arch: [arm64, amd64]\nos: [rocky-10]\naddons: [helm, metrics_server]\n"
    a = json.dumps(plan(tmp_path, body).to_json())
    b = json.dumps(plan(tmp_path, body).to_json())
    assert a == b
    doc = json.loads(a)
    assert [i["ref"] for i in doc["images"]] == sorted(i["ref"] for i in doc["images"])
    assert set(doc) >= {"kubespray", "files", "images", "packages", "python"}
    assert set(doc["files"][0]) == {"name", "arch", "url", "checksum", "kubespray_var", "path"}


GOLDENS = sorted(p for p in (Path(__file__).resolve().parents[1] / "golden").glob("*/*.json")
                 if p.parent.name != "diff")
# Every golden of a release names the same kubespray source: it is opened (and its tree's role layers
# read) once per release, through the manifest path `airlock plan` takes, not once per case.
_SOURCES: dict[str, Source] = {}


@pytest.mark.parametrize("golden", GOLDENS, ids=[f"{p.parent.name}-{p.stem}" for p in GOLDENS])
def test_plan_equals_kubesprays_own_evaluation(tmp_path: Path, golden: Path) -> None:
    """`airlock plan` as a whole (every arch, noarch merging, the CLI's manifest path) against the
    goldens Ansible wrote: files by url + checksum, images by ref and the arches that pull them."""
    from tests.conftest import RELEASE_VERSION

    doc = json.loads(golden.read_text())
    release, arches, os_name = golden.parent.name, doc["case"]["arch"], doc["case"]["os"]
    manifest = tmp_path / "airlock.yaml"  # JSON is YAML: the variables keep their exact types
    manifest.write_text(json.dumps({
        "kubespray": {"version": RELEASE_VERSION.get(release, release), "source": str(kubespray_dir(release))},
        "arch": arches, "os": [os_name], "vars": doc["vars"]}))
    loaded = load_manifest(manifest)
    source = _SOURCES.get(release) or _SOURCES.setdefault(release, open_manifest_source(loaded))
    p = build_plan(loaded, source=source)
    by_arch = doc["by_arch"]
    assert {(f.url, f.checksum or "") for f in p.files} == {(u, c) for a in arches for _n, u, c in by_arch[a]["files"]}
    for f in p.files:
        pulled_by = [a for a in arches if any(u == f.url for _n, u, _c in by_arch[a]["files"])]
        assert (f.arch == "noarch" and pulled_by == arches) or [f.arch] == pulled_by, f
    want_images: dict[str, set[str]] = {}  # one ref may be two downloads (etcd, kubeadm's etcd): one image
    for a in arches:
        for _n, ref in by_arch[a]["images"]:
            want_images.setdefault(ref, set()).add(a)
    assert {i.ref: i.arch for i in p.images} == {r: sorted(a) for r, a in want_images.items()}
    assert p.packages[os_name] == by_arch[arches[0]]["packages"]
