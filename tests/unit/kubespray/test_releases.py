"""Every supported release plans; unsupported or mismatched trees are refused; forks are followed."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import airlock.cli.plan  # noqa: F401  (registers the command)
from airlock.cli.main import cli
from airlock.manifest import load_manifest
from airlock.plan import build_plan
from tests.conftest import RELEASE_VERSION, VERSIONS, kubespray_dir


def write(tmp_path: Path, version: str, source: Path, body: str = "") -> Path:
    p = tmp_path / "airlock.yaml"
    p.write_text(f'kubespray: {{version: "{version}", source: "{source}"}}\n' + body)
    return p


def tree_copy(tmp_path: Path, release: str, galaxy_version: str | None) -> Path:
    """A copy of a release's tree, with a galaxy.yml stating ``galaxy_version`` as real trees do."""
    dest = tmp_path / f"kubespray-{release}"
    shutil.copytree(kubespray_dir(release), dest)
    if galaxy_version is not None:
        (dest / "galaxy.yml").write_text(f"namespace: kubernetes_sigs\nname: kubespray\nversion: {galaxy_version}\n")
    return dest


def plan_cli(manifest: Path) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, ["plan", "-f", str(manifest), "--json"])
    return res.exit_code, res.stdout, res.stderr


@pytest.mark.parametrize("release", VERSIONS)
def test_every_release_plans_with_its_own_kube_version(tmp_path: Path, release: str) -> None:
    version = RELEASE_VERSION.get(release, release)
    p = build_plan(load_manifest(write(tmp_path, version, kubespray_dir(release), "arch: [amd64, arm64]\n")))
    assert not p.kube_version.startswith("v")
    kubeadm_tags = {i.ref.rsplit(":", 1)[1] for i in p.images if "/kube-apiserver:" in i.ref}
    assert kubeadm_tags == {f"v{p.kube_version}"}
    assert {f.name for f in p.files} >= {"kubelet", "kubeadm", "kubectl"}
    assert all(f.checksum and f.checksum.startswith("sha256:") for f in p.files)


def test_2_27_keeps_the_v_in_kube_version_and_checksum_keys(tmp_path: Path) -> None:
    src = kubespray_dir("2.27.1")
    for written in ("1.30.4", "v1.30.4"):
        p = build_plan(load_manifest(write(tmp_path, "2.27.1", src, f'kube_version: "{written}"\n')))
        assert p.kube_version == "1.30.4"
        kubelet = next(f for f in p.files if f.name == "kubelet")
        assert "/release/v1.30.4/" in kubelet.url
        assert "kube-apiserver:v1.30.4" in " ".join(i.ref for i in p.images)


def test_2_28_lists_kubeadm_images_from_kube_image_repo(tmp_path: Path) -> None:
    body = "vars: {kube_image_repo: registry.example.internal/k8s}\n"
    p = build_plan(load_manifest(write(tmp_path, "2.28.1", kubespray_dir("2.28.1"), body)))
    assert any(i.ref.startswith("registry.example.internal/k8s/kube-apiserver:") for i in p.images)


def test_master_reads_ansible_facts_per_arch(tmp_path: Path) -> None:
    body = "arch: [amd64, arm64]\nvars: {youki_enabled: true, container_manager: crio}\n"
    p = build_plan(load_manifest(write(tmp_path, "2.32.0", kubespray_dir("master"), body)))
    crictl = {f.arch: f.url for f in p.files if f.name == "crictl"}
    assert crictl["amd64"].endswith("-linux-amd64.tar.gz") and crictl["arm64"].endswith("-linux-arm64.tar.gz")
    youki = {f.arch: f.url for f in p.files if f.name == "youki"}
    assert "x86_64" in youki["amd64"] and "aarch64" in youki["arm64"]


def test_tree_of_another_release_is_refused(tmp_path: Path) -> None:
    src = tree_copy(tmp_path, "2.30.0", "2.30.0")
    code, out, err = plan_cli(write(tmp_path, "2.99.0", src))
    assert code == 2 and out == "" and "Traceback" not in err
    assert "version 2.30.0" in err and "2.27.0 through" in err


def test_unsupported_release_is_refused(tmp_path: Path) -> None:
    src = tree_copy(tmp_path, "2.27.1", "2.26.0")
    code, _, err = plan_cli(write(tmp_path, "2.26.0", src))
    assert code == 2 and "Kubespray 2.26.0 is not supported" in err and "2.27.0 through" in err


def test_newer_untested_master_plans_with_a_warning(tmp_path: Path) -> None:
    src = tree_copy(tmp_path, "master", "2.33.0")
    code, out, err = plan_cli(write(tmp_path, "2.33.0", src))
    assert code == 0, err
    assert "warning: Kubespray 2.33.0 is newer than the releases airlock is tested on" in err
    assert json.loads(out)["kubespray"]["version"] == "2.33.0"


def test_git_checkout_of_a_fork_with_a_changed_default(tmp_path: Path) -> None:
    fork = tree_copy(tmp_path, "2.30.0", "2.30.0")
    download = fork / "roles/kubespray_defaults/defaults/main/download.yml"
    text = download.read_text()
    assert 'kube_image_repo: "registry.k8s.io"' in text
    download.write_text(text.replace('kube_image_repo: "registry.k8s.io"',
                                     'kube_image_repo: "registry.fork.example/k8s"'))
    git = ["git", "-C", str(fork), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fork: our registry"], check=True)
    code, out, err = plan_cli(write(tmp_path, "2.30.0", fork))
    assert code == 0, err
    refs = [i["ref"] for i in json.loads(out)["images"]]
    assert any(r.startswith("registry.fork.example/k8s/kube-apiserver:v1.34.3") for r in refs)
    assert not any(r.startswith("registry.k8s.io/kube-") for r in refs)


def test_unsupported_release_is_refused_before_downloading(tmp_path: Path) -> None:
    p = tmp_path / "airlock.yaml"
    p.write_text('kubespray: {version: "2.26.0"}\n')  # default source: a GitHub URL, never fetched
    code, _, err = plan_cli(p)
    assert code == 2 and "Kubespray 2.26.0 is not supported" in err and "airlock.yaml:1" in err


def test_an_older_tree_lacking_the_new_layout_is_named_by_its_version(tmp_path: Path) -> None:
    src = tree_copy(tmp_path, "2.27.1", "2.20.0")
    shutil.rmtree(src / "roles" / "kubespray-defaults")  # an older layout airlock cannot read
    code, out, err = plan_cli(write(tmp_path, "2.30.0", src))
    assert code == 2 and out == "" and "Traceback" not in err
    assert "version 2.20.0" in err and "2.27.0 through" in err and "lacks" not in err


def test_a_tree_that_is_not_kubespray_names_the_supported_range(tmp_path: Path) -> None:
    src = tmp_path / "not-kubespray"
    (src / "roles").mkdir(parents=True)
    code, out, err = plan_cli(write(tmp_path, "2.30.0", src))
    assert code == 2 and out == "" and "Traceback" not in err
    assert "lacks roles/kubespray_defaults/defaults/main" in err and "2.27.0 through" in err


def test_the_seeded_fuzz_draws_every_release() -> None:
    # tests/integration/test_oracle_fuzz.py (network: real ansible-core) must exercise all six releases
    from tests.integration.test_oracle_fuzz import SEEDS, config

    drawn = {config(seed)[0] for seed in SEEDS}
    assert drawn == set(VERSIONS)
