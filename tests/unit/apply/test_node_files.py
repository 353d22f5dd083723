"""node/'s provisioning files: parseable, deterministic, and chrony.conf only with ntp:."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import yaml

from airlock.apply.node import REGISTRIES_CONF, node_setup_files

CRIO = [{"prefix": "10.0.0.5:8080", "location": "10.0.0.5:8080", "insecure": True, "blocked": False,
         "unqualified": False},
        {"prefix": "quay.io", "location": "quay.io", "insecure": False, "blocked": False, "unqualified": False,
         "mirrors": [{"location": "10.0.0.5:8080/quay.io", "insecure": True}]}]


def test_files_parse_and_are_deterministic(tmp_path: Path) -> None:
    files = node_setup_files(CRIO, ["10.0.0.5"])
    assert files == node_setup_files(CRIO, ["10.0.0.5"])
    conf = tomllib.loads(files[REGISTRIES_CONF].decode())
    assert conf["registry"][0] == {"prefix": "10.0.0.5:8080", "location": "10.0.0.5:8080", "insecure": True,
                                   "blocked": False}
    assert conf["registry"][1]["mirror"] == [{"location": "10.0.0.5:8080/quay.io", "insecure": True}]
    play = yaml.safe_load(files["node/site.yml"])
    assert play[0]["hosts"] == "all" and all("name" in t for t in play[0]["tasks"])
    script = tmp_path / "setup.sh"
    script.write_bytes(files["node/setup.sh"])
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    assert files["node/chrony.conf"].decode().splitlines()[1] == "server 10.0.0.5 iburst"


def test_no_chrony_conf_without_ntp() -> None:
    assert "node/chrony.conf" not in node_setup_files(CRIO, [])
