"""airlock.yaml is untrusted input: bounded in size, nesting and alias expansion, with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.errors import ManifestError
from airlock.manifest import load_manifest
from tests.unit.manifest.files import manifest_writer

HEAD = 'kubespray: {version: "2.30.0"}\n'

write = manifest_writer(HEAD)


def test_alias_bomb_is_refused_at_its_line(tmp_path: Path) -> None:
    # 10 levels of 10 aliases: 10^10 values from ~600 bytes (it took 1.1 GB before the bound).
    lines = ["vars:", "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    p = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match="expands to more than 100000 values") as info:
        load_manifest(p)
    line = int(str(info.value.where).rsplit(":", 1)[1])
    assert 4 <= line <= 12 and str(info.value.where).startswith(str(p))


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    lines = ['lol0: &l0 "lol"'] + [f"lol{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)]
    p = tmp_path / "airlock.yaml"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match="expands to more than"):
        load_manifest(p)


def test_moderate_aliases_still_work(tmp_path: Path) -> None:
    p = write(tmp_path, "vars:\n  a: &a {x: 1, y: [1, 2]}\n  b: *a\n")
    assert load_manifest(p).manifest.vars["b"] == {"x": 1, "y": [1, 2]}


def test_deep_nesting_is_refused_with_a_line(tmp_path: Path) -> None:
    p = write(tmp_path, "vars:\n  deep: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ManifestError, match="nested deeper than 64 levels") as info:
        load_manifest(p)
    assert info.value.where == f"{p}:3"
    p = write(tmp_path, "vars:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(100)) + "  " * 101 + "x\n")
    with pytest.raises(ManifestError, match="nested deeper"):
        load_manifest(p)


def test_a_huge_manifest_is_refused_without_reading_it(tmp_path: Path) -> None:
    p = tmp_path / "airlock.yaml"
    with p.open("wb") as f:
        f.truncate(1 << 30)
    with pytest.raises(ManifestError, match="larger than 4 MiB"):
        load_manifest(p)


@pytest.mark.parametrize(("body", "message"), [
    ('images: ["registry.k8s.io/../etc:1"]\n', "is not an image reference"),
    ('images: ["r/a:1\\n[x]"]\n', "is not an image reference"),
    ('files: [{url: "https://example.org/a/../../../x"}]\n', "not a safe relative path"),
    ('files: [{url: "https://example.org/tool", name: ".."}]\n', "is not a usable file name"),
    ('repos: {rocky-10: [{name: "a/b", url: "https://r.example/"}]}\n', "contains '/'"),
    ('mirrors: {registry.k8s.io: "https://user:s3cret@mirror.example/r"}\n', "must not carry a user or password"),
    ('files: [{url: "https://user:s3cret@example.org/tool"}]\n', "must not carry a user or password"),
    ('python: {index_url: "https://user:s3cret@pypi.example/simple/"}\n', "must not carry a user or password"),
    ('repos: {rocky-10: [{name: a, url: "https://user:s3cret@r.example/"}]}\n', "must not carry a user or password"),
])
def test_values_that_become_paths_or_leak_are_refused(tmp_path: Path, body: str, message: str) -> None:
    p = write(tmp_path, body)
    with pytest.raises(ManifestError, match=message) as info:
        load_manifest(p)
    assert info.value.where == f"{p}:2"
    assert "s3cret" not in info.value.render()


def test_control_characters_and_complex_keys_are_manifest_errors(tmp_path: Path) -> None:
    """Found by the fuzz pass: both crashed the loader with ReaderError / TypeError."""
    p = write(tmp_path, "vars: {a: 1}\nx: \x1f\n")
    with pytest.raises(ManifestError, match="is not allowed in YAML") as info:
        load_manifest(p)
    assert info.value.where == f"{p}:3"
    p = write(tmp_path, "? [a, b]\n: 1\n")
    with pytest.raises(ManifestError, match="a key must be a plain value") as info:
        load_manifest(p)
    assert info.value.where == f"{p}:2"


def test_kubespray_source_url_without_credentials(tmp_path: Path) -> None:
    p = tmp_path / "airlock.yaml"
    p.write_text('kubespray:\n  version: "2.30.0"\n  source: "https://user:s3cret@git.example/ks.tgz"\n')
    with pytest.raises(ManifestError, match="must not carry a user or password") as info:
        load_manifest(p)
    assert info.value.where == f"{p}:3" and "s3cret" not in info.value.render()
