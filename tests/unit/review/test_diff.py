"""Lock diffs on synthetic locks: bumps, additions, removals, and moved tags reported first."""

from __future__ import annotations

import json

from airlock.lockfile import FilePin, ImagePin, Inputs, KubesprayPin, Lock, PlatformPin
from airlock.review import render
from airlock.review.diff import diff_locks

H = "a" * 64


def lock(images: dict[str, tuple[str, str]], files: dict[str, str]) -> Lock:
    return Lock(
        inputs=Inputs(manifest_sha256=H, kubespray_sha256=H),
        kubespray=KubesprayPin(version="2.30.0", kube_version="1.34.3", kind="url", url="u", sha256=H),
        file=[FilePin(name=n, arch="amd64", url=u, sha256=H, size=10, path=u.split("://", 1)[-1])
              for n, u in files.items()],
        image=[ImagePin(name=n, ref=ref, digest=dig, media_type="m", target="platform", target_digest=dig,
                        target_media_type="m", platforms=[PlatformPin(arch="amd64", digest=dig, media_type="m",
                                                                      size=100)])
               for n, (ref, dig) in images.items()])


D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


def test_moved_tag_is_reported_first_and_loudly() -> None:
    old = lock({"pause": ("registry.k8s.io/pause:3.10", D1)}, {})
    new = lock({"pause": ("registry.k8s.io/pause:3.10", D2)}, {})
    d = diff_locks(old, new)
    assert not d.equal and d.moved and not d.bumped
    text = render.text(d, "old", "new")
    assert text.splitlines()[2].startswith("!!! CHANGED CONTENT")
    assert "tag moved upstream" in text and D1 in text and D2 in text
    assert "[!WARNING]" in render.markdown(d, "old", "new")
    assert json.loads(render.as_json(d, "old", "new"))["moved"][0]["name"] == "pause"


def test_bumps_additions_removals_and_sizes() -> None:
    old = lock({"coredns": ("registry.k8s.io/coredns/coredns:v1.12.0", D1), "gone": ("x/y:1", D3)},
               {"kubelet": "https://dl.k8s.io/release/v1.33.7/bin/linux/amd64/kubelet"})
    new = lock({"coredns": ("registry.k8s.io/coredns/coredns:v1.12.1", D2), "new": ("x/z:1", D3)},
               {"kubelet": "https://dl.k8s.io/release/v1.34.3/bin/linux/amd64/kubelet"})
    d = diff_locks(old, new)
    assert [c.detail for c in d.bumped] == ["v1.33.7 -> v1.34.3", "v1.12.0 -> v1.12.1"]
    assert [c.name for c in d.added] == ["new"] and [c.name for c in d.removed] == ["gone"]
    assert d.delta_bytes == 100  # only coredns's new platform manifest is new; z shares D3 with y
    md = render.markdown(d, "a", "b")
    assert md.startswith("**airlock.lock**") and "<details><summary>Images (3 changed)</summary>" in md


def test_equal() -> None:
    a = lock({"pause": ("registry.k8s.io/pause:3.10", D1)}, {})
    assert diff_locks(a, a).equal and render.summary(diff_locks(a, a)) == "no changes"


def test_a_swapped_repository_signing_key_is_reported_as_changed_content() -> None:
    from airlock.lockfile.model import RepoKeyPin

    def with_key(sha: str) -> Lock:
        return lock({}, {}).model_copy(update={"repo_key": [
            RepoKeyPin(os="debian-12", repo="main", url="https://k/archive-key-12.asc", sha256=sha, size=9)]})

    d = diff_locks(with_key("1" * 64), with_key("2" * 64))
    assert [c.name for c in d.moved] == ["signing key of repo main (debian-12)"]
    assert "CHANGED CONTENT" in render.text(d, "old", "new")
    assert diff_locks(with_key("1" * 64), with_key("1" * 64)).equal
