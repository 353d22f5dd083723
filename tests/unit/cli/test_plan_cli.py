"""`airlock plan` end to end as a user runs it: output, exit codes, error messages.

In-process (tests.helpers.cli): an exception the CLI's error boundary lets through fails the test with
its traceback; one it catches as a bug prints "internal error" and exits 70."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import REPO, kubespray_dir
from tests.helpers import cli


def manifest(tmp_path: Path, body: str, source: str | None = None) -> Path:
    src = source if source is not None else str(kubespray_dir("2.30.0"))
    p = tmp_path / "airlock.yaml"
    p.write_text(f'kubespray:\n  version: "2.30.0"\n  source: "{src}"\n' + body)
    return p


def test_example_plan_human_and_json() -> None:
    kubespray_dir("2.30.0")
    human = cli("plan", "-f", str(REPO / "examples/minimal/airlock.yaml"))
    assert human.returncode == 0, human.stderr
    assert "Files (11)" in human.stdout and "Images (12)" in human.stdout
    assert "OS packages for rocky-10" in human.stdout
    out = cli("plan", "-f", str(REPO / "examples/minimal/airlock.yaml"), "--json")
    doc = json.loads(out.stdout)
    assert doc["kubespray"]["version"] == "2.30.0"
    assert any(f["name"] == "kubelet" for f in doc["files"])


ERROR_CASES = {
    "malformed-yaml": ("os: [rocky-10\n", 4, "malformed YAML"),
    "unknown-key": ("network_plugins: flannel\n", 4, "did you mean 'network_plugin'"),
    "unknown-nested-key": ("python: {verison: \"3.12\"}\n", 4, "did you mean 'version'"),
    "wrong-type": ("kube_version: 1.34\n", 4, "must be a string"),
    "wrong-type-list": ("addons: helm\n", 4, "addons"),
    "unknown-addon": ("addons: [helm, metric_server]\n", 4, "did you mean 'metrics_server'"),
    "unknown-arch": ("arch: [amd64, s390x]\n", 4, "unknown arch 's390x'; allowed: amd64, arm64"),
    "unknown-os": ("os: [rocky-8]\n", 4, "unknown os 'rocky-8'"),
    "unknown-network-plugin": ("network_plugin: weave\n", 4, "unknown network_plugin 'weave'"),
    "kube-version-not-in-checksums": ("kube_version: \"1.31.5\"\n", 4, "use one of: 1.34.3"),
    "duplicate-key": ("os: [rocky-10]\nos: [rocky-9]\n", 5, "duplicate key 'os'"),
    "conflicting-var": ("network_plugin: flannel\nvars: {kube_network_plugin: cilium}\n", 5, "both in vars"),
    "bad-sha256": ("files: [{url: \"https://example.org/a\", sha256: \"xyz\"}]\n", 4, "64 lowercase hex"),
    "unknown-schema": ("schema_version: 2\n", 4, "unsupported schema_version 2"),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_bad_input_gives_one_clear_message(tmp_path: Path, case: str) -> None:
    body, line, text = ERROR_CASES[case]
    path = manifest(tmp_path, body)
    res = cli("plan", "-f", str(path))
    assert res.returncode == 2, res.stderr
    assert "internal error" not in res.stderr and res.stdout == ""
    assert res.stderr.startswith(f"error: {path}:{line}: "), res.stderr
    assert text in res.stderr


def test_missing_kubespray_files(tmp_path: Path) -> None:
    empty = tmp_path / "ks"
    (empty / "roles").mkdir(parents=True)
    path = manifest(tmp_path, "", source=str(empty))
    res = cli("plan", "-f", str(path))
    assert res.returncode == 2 and "internal error" not in res.stderr
    assert f"{path}:3:" in res.stderr and "roles/kubespray_defaults/defaults/main" in res.stderr
    assert "hint:" in res.stderr


def test_missing_manifest_and_bad_flag(tmp_path: Path) -> None:
    res = cli("plan", "-f", str(tmp_path / "nope.yaml"))
    assert res.returncode == 2 and "does not exist" in res.stderr
    res = cli("plan", "--bogus")
    assert res.returncode == 2 and "No such option" in res.stderr


def test_undefined_user_variable_names_the_chain(tmp_path: Path) -> None:
    path = manifest(tmp_path, "vars: {helm_enabled: \"{{ not_defined_anywhere }}\"}\n")
    res = cli("plan", "-f", str(path))
    assert res.returncode == 2 and "internal error" not in res.stderr
    assert "downloads.helm" in res.stderr and "not_defined_anywhere" in res.stderr
