"""offline.yml for every runtime and NTP: the variables exist in each release's own defaults, insecure
entries appear only for a plain-HTTP site, and Kubespray's own templates (from a git copy of the
repository; skipped when absent) render them into configs that name the site."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

import jinja2
import pytest

from airlock.errors import KubesprayError
from airlock.kubespray.offline import ntp_vars, offline_variables, runtime_vars
from airlock.kubespray.tree import KubesprayTree
from tests.conftest import RELEASE_VERSION, VERSIONS, kubespray_dir
from tests.kubespray_repo import template
from tests.unit.kubespray.test_offline_every_release import lock_for


class Plain:
    files_repo = "http://10.1.2.3:8080/files"
    registry = "10.1.2.3:8080"
    registry_plain = True
    registry_ca = None


class Tls:
    files_repo = "https://site.example/files"
    registry = "registry.example:5000/airlock"
    registry_plain = False
    registry_ca = None


UPSTREAMS = ["docker.io", "quay.io", "registry.k8s.io"]


@cache  # one tree per release for the module: the functions under test only read it
def tree(release: str) -> KubesprayTree:
    return KubesprayTree(kubespray_dir(release), RELEASE_VERSION.get(release, release))


def render(text: str, **variables: object) -> str:
    # StrictUndefined, as Ansible: a variable the template reads and offline.yml lacks is an error here
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(text).render(**variables)


@pytest.mark.parametrize("release", VERSIONS)
def test_crio_registries_name_the_site_insecure_only_over_plain_http(release: str) -> None:
    plain = runtime_vars(tree(release), Plain(), "crio", UPSTREAMS)
    tls = runtime_vars(tree(release), Tls(), "crio", UPSTREAMS)
    assert plain["crio_registries"][0] == {"prefix": "10.1.2.3:8080", "location": "10.1.2.3:8080",
                                           "insecure": True, "blocked": False, "unqualified": False}
    assert tls["crio_registries"][0]["location"] == "registry.example:5000" and not tls["crio_registries"][0]["insecure"]
    k8s = next(r for r in tls["crio_registries"] if r["prefix"] == "registry.k8s.io")
    assert k8s["mirrors"] == [{"location": "registry.example:5000/airlock/registry.k8s.io", "insecure": False}]
    assert all(not m["insecure"] for r in tls["crio_registries"] for m in r.get("mirrors", []))
    assert "docker_insecure_registries" not in plain and "containerd_registries_mirrors" in plain


@pytest.mark.parametrize("release", VERSIONS)
def test_docker_daemon_options(release: str) -> None:
    plain = runtime_vars(tree(release), Plain(), "docker", UPSTREAMS)
    assert plain["docker_insecure_registries"] == ["10.1.2.3:8080"] and plain["docker_registry_mirrors"] == []
    tls = runtime_vars(tree(release), Tls(), "docker", UPSTREAMS)
    assert tls["docker_insecure_registries"] == [] and "crio_registries" not in tls


def test_containerd_gets_no_crio_or_docker_entries() -> None:
    got = runtime_vars(tree("2.30.0"), Plain(), "containerd", UPSTREAMS)
    assert set(got) == {"containerd_registries_mirrors"}


@pytest.mark.parametrize("release", VERSIONS)
def test_ntp_vars_are_the_preinstall_roles(release: str) -> None:
    got = ntp_vars(tree(release), ["10.1.2.3", "ntp.example"])
    assert got == {"ntp_enabled": True, "ntp_package": "chrony", "ntp_manage_config": True,
                   "ntp_servers": ["10.1.2.3 iburst", "ntp.example iburst"]}
    assert ntp_vars(tree(release), []) == {}


def test_a_release_without_the_variable_is_refused(tmp_path: Path) -> None:
    (tmp_path / "roles" / "kubespray_defaults" / "defaults").mkdir(parents=True)
    (tmp_path / "roles" / "kubespray_defaults" / "defaults" / "main.yml").write_text("x: 1\n")
    with pytest.raises(KubesprayError, match="no crio_registries"):
        runtime_vars(KubesprayTree(tmp_path, "2.30.0"), Plain(), "crio", UPSTREAMS)
    with pytest.raises(KubesprayError, match="no ntp_enabled"):
        ntp_vars(KubesprayTree(tmp_path, "2.30.0"), ["10.0.0.1"])


@pytest.mark.parametrize("cm", ["crio", "docker"])
def test_offline_yml_carries_the_runtime_of_the_manifest(tmp_path: Path, cm: str) -> None:
    lock, ks_tree, user = lock_for(tmp_path, "2.30.0", f"os: [rocky-10]\ncontainer_manager: {cm}\n")
    offline = offline_variables(ks_tree, lock, user, ["amd64"], ["rocky-10"], Plain())  # type: ignore[arg-type]  # a stand-in Site with the fields offline_variables reads
    assert ("crio_registries" in offline) == (cm == "crio")
    assert ("docker_insecure_registries" in offline) == (cm == "docker")


# -- Kubespray's own templates ---------------------------------------------------------------------------

@pytest.mark.parametrize("release", VERSIONS)
@pytest.mark.parametrize("site", [Plain(), Tls()], ids=["http", "tls"])
def test_kubesprays_crio_templates_render_the_site(release: str, site: object) -> None:
    crio = runtime_vars(tree(release), site, "crio", UPSTREAMS)  # type: ignore[arg-type]  # site is a Plain or Tls stand-in
    registry = template(release, "roles/container-engine/cri-o/templates/registry.conf.j2")
    host = site.registry.split("/", 1)[0]  # type: ignore[attr-defined]  # site is a Plain or Tls stand-in
    plain = site.registry_plain  # type: ignore[attr-defined]  # site is a Plain or Tls stand-in
    files = [tomllib.loads(render(registry, item=item)) for item in crio["crio_registries"]]
    assert files[0]["registry"] == [{"prefix": host, "location": host, "insecure": plain, "blocked": False}]
    for upstream, conf in zip(UPSTREAMS, files[1:], strict=True):
        assert conf["registry"][0]["location"] == upstream
        assert conf["registry"][0]["mirror"] == [{"location": f"{site.registry}/{upstream}",  # type: ignore[attr-defined]  # site is a Plain or Tls stand-in
                                                   "insecure": plain}]
    unqualified = template(release, "roles/container-engine/cri-o/templates/unqualified.conf.j2")
    assert tomllib.loads(render(unqualified, **crio)) == {"unqualified-search-registries": []}


@pytest.mark.parametrize("release", VERSIONS)
@pytest.mark.parametrize("site", [Plain(), Tls()], ids=["http", "tls"])
def test_kubesprays_docker_options_list_the_site(release: str, site: object) -> None:
    docker = runtime_vars(tree(release), site, "docker", UPSTREAMS)  # type: ignore[arg-type]  # site is a Plain or Tls stand-in
    text = template(release, "roles/container-engine/docker/templates/docker-options.conf.j2")
    out = render(text, ansible_os_family="RedHat", ansible_facts={"os_family": "RedHat"}, docker_cgroup_driver="systemd", docker_daemon_graph="/var/lib/docker",
                 docker_log_opts="--log-opt max-size=50m", **docker)
    opts = out.split('DOCKER_OPTS=', 1)[1]
    if site.registry_plain:  # type: ignore[attr-defined]  # site is a Plain or Tls stand-in
        assert "--insecure-registry=10.1.2.3:8080 " in opts
    else:
        assert "--insecure-registry" not in opts
    assert "--registry-mirror" not in opts
