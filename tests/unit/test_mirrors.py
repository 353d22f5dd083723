import pytest

from airlock.errors import UsageError
from airlock.net.mirrors import parse_mirror, registry_endpoint, rewrite_url

MIRRORS = {
    "https://github.com": "http://127.0.0.1:8080/github.com",
    "https://github.com/containerd": "http://127.0.0.1:8081/ctd",
    "registry.k8s.io": "http://127.0.0.1:5000/registry.k8s.io",
}


def test_longest_url_prefix_wins() -> None:
    assert rewrite_url("https://github.com/etcd-io/etcd/x.tgz", MIRRORS) == "http://127.0.0.1:8080/github.com/etcd-io/etcd/x.tgz"
    assert rewrite_url("https://github.com/containerd/c.tgz", MIRRORS) == "http://127.0.0.1:8081/ctd/c.tgz"
    assert rewrite_url("https://github.community/x", MIRRORS) == "https://github.community/x"
    assert rewrite_url("https://dl.k8s.io/a", MIRRORS) == "https://dl.k8s.io/a"


def test_registry_host_mirror_has_path_prefix() -> None:
    assert registry_endpoint("registry.k8s.io", MIRRORS) == ("http://127.0.0.1:5000", "registry.k8s.io")
    assert registry_endpoint("quay.io", MIRRORS) == ("https://quay.io", "")


def test_parse_mirror_takes_key_equals_url_and_refuses_the_rest() -> None:
    assert parse_mirror("registry.k8s.io=https://m.example/k8s=x") == ("registry.k8s.io", "https://m.example/k8s=x")
    with pytest.raises(UsageError, match="is not KEY=URL"):
        parse_mirror("registry.k8s.io")
    with pytest.raises(UsageError, match="must not carry") as info:
        parse_mirror("quay.io=https://u:s3cret@m.example/")
    assert "s3cret" not in str(info.value)
