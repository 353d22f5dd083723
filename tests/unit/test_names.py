"""The one validator of names that become paths, and the apply-side guard behind it."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.names import (
    UnsafePathError,
    check_name,
    check_registry,
    check_rel_path,
    has_credentials,
    inside,
    redact,
    safe_paths,
)
from airlock.reference import check_image_ref

GOOD_NAMES = ["kubelet", "libstdc++", "1:2.3-4.el9", "2.30.0", "python3-libselinux",
              "top_f-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "x86_64", "noarch", "rocky-10", "ubuntu-24.04", "a%20b", ".hidden"]
BAD_NAMES = ["", ".", "..", "a/b", "../x", "a\\b", "a b", "a\nb", "a\x00b", "a\tb", "a\u202eb", "x" * 256]


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_real_names_pass(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_that_could_leave_a_directory_fail(name: str) -> None:
    with pytest.raises(ValueError):
        check_name(name)


@pytest.mark.parametrize("path", ["dl.k8s.io/release/v1.34.3/bin/linux/amd64/kubelet", "127.0.0.1:8080/x.tgz",
                                  "github.com/projectcalico/calico/archive/v3.30.6.tar.gz", "host"])
def test_real_serve_paths_pass(path: str) -> None:
    assert check_rel_path(path) == path


@pytest.mark.parametrize("path", ["/etc/passwd", "../../../X", "a/../../b", "a/./b", "a//b", "a/", "", "a/b\n",
                                  "a/" * 600 + "b"])
def test_paths_that_could_leave_a_directory_fail(path: str) -> None:
    with pytest.raises(ValueError):
        check_rel_path(path)


@pytest.mark.parametrize("ref", ["registry.k8s.io/pause:3.10.1", "127.0.0.1:35427/registry.k8s.io/a/b:1.0",
                                 "nginx", "docker.io/library/nginx:1.28.0-alpine", "r/z:1",
                                 "quay.io/cilium/cilium:v1.18.6@sha256:" + "a" * 64, "ghcr.io/a__b/c-d.e:1"])
def test_real_image_refs_pass(ref: str) -> None:
    assert check_image_ref(ref) == ref


@pytest.mark.parametrize("ref", ["../../x:1", "registry.k8s.io/../x:1", "r/UPPER:1", "r/a:1 ", "r//a", "/r/a",
                                 'r/a:1"\nx', "r/a@sha256:short", "r/a:" + "t" * 200, "r/a:1/b"])
def test_bad_image_refs_fail(ref: str) -> None:
    with pytest.raises(ValueError):
        check_image_ref(ref)


def test_registry_and_credentials() -> None:
    assert check_registry("registry.example:5000/airlock") == "registry.example:5000/airlock"
    assert check_registry("[fd00::1]:5000") == "[fd00::1]:5000"
    for bad in ["user:pw@registry.example/x", "reg:99999", "reg/UP", 'reg/"x', "reg/a b"]:
        with pytest.raises(ValueError) as info:
            check_registry(bad)
        assert "pw" not in str(info.value)
    assert has_credentials("https://u:p@h/x") and has_credentials("u@h/x") and not has_credentials("https://h/a@b")
    assert has_credentials("u:p@http://") and has_credentials("@u:p@")
    assert redact("https://user:s3cret@h:1/x") == "https://***@h:1/x"
    assert redact("user:s3cret@h/p") == "***@h/p" and redact("u:p/s@h") == "***@h" and redact("h/x") == "h/x"


def test_safe_paths_refuses_any_bad_key() -> None:
    assert safe_paths({"files/a/b": 1}) == {"files/a/b": 1}
    with pytest.raises(UnsafePathError, match="refusing to write 'files/../../x'"):
        safe_paths({"files/ok": 1, "files/../../x": 2})


def test_inside_follows_symlinks_and_refuses_leaving(tmp_path: Path) -> None:
    root = tmp_path / "site"
    (root / "files").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "files" / "escape").symlink_to(outside)
    assert inside(root, "files/a/b") == root.resolve() / "files/a/b"
    with pytest.raises(UnsafePathError, match="outside the directory"):
        inside(root, "files/escape/x")
    with pytest.raises(UnsafePathError):
        inside(root, "../x")
