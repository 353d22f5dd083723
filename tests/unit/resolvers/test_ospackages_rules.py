"""A closure solved under older selection rules is not reused: the rules are part of its input hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from airlock.manifest import load_manifest
from airlock.resolvers import ospackages
from tests.conftest import kubespray_dir


def test_rules_change_the_input_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = tmp_path / "airlock.yaml"
    p.write_text(f'kubespray: {{version: "2.30.0", source: "{kubespray_dir("2.30.0")}"}}\nos: [debian-12]\n')
    manifest = load_manifest(p).manifest
    now = ospackages.input_hash(manifest, "debian-12", ["gnupg"])
    assert now == ospackages.input_hash(manifest, "debian-12", ["gnupg"])
    monkeypatch.setattr(ospackages, "RULES", ospackages.RULES - 1)
    assert ospackages.input_hash(manifest, "debian-12", ["gnupg"]) != now
