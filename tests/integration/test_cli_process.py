"""airlock as a process, where only a process shows it: which modules a command imports (a fresh
interpreter), and a reader that goes away (a real pipe). Integration tests: they start Python running
airlock (moved from tests/unit/cli)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airlock.lockfile import dumps
from tests.conftest import REPO, kubespray_dir
from tests.unit.lockfile.test_hostile_lock import full

pytestmark = pytest.mark.integration

_PROBE = """
import json, sys
from airlock.cli.main import cli
try:  # cli, not main(): main() leaves with os._exit and nothing after it would run
    cli.main(["plan", "-f", sys.argv[1], "--json"], prog_name="airlock")
except SystemExit as exc:
    assert not exc.code, exc.code
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def test_plan_imports_neither_lock_models_nor_http_nor_other_commands(tmp_path: Path) -> None:
    manifest = tmp_path / "airlock.yaml"
    manifest.write_text(f'kubespray: {{version: "2.30.0", source: "{kubespray_dir("2.30.0")}"}}\nos: [rocky-10]\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    res = subprocess.run([sys.executable, "-c", _PROBE, str(manifest)], capture_output=True, text=True, env=env,
                         check=True)
    assert json.loads(res.stdout)["files"]
    loaded = set(json.loads(res.stderr.strip().splitlines()[-1]))
    for module in ("airlock.lockfile", "airlock.net", "airlock.apply", "airlock.fetch", "airlock.resolve",
                   "airlock.cli.apply", "airlock.cli.fetch", "airlock.cli.review", "httpx"):
        assert module not in loaded, f"`airlock plan` imported {module}"
    assert "airlock.plan" in loaded


def test_a_closed_stdout_exits_cleanly(tmp_path: Path) -> None:
    """`airlock ... | head -1`: the reader goes away; no traceback, no internal error, exit 0."""
    lock = tmp_path / "airlock.lock"
    lock.write_text(dumps(full()))
    proc = subprocess.Popen([sys.executable, "-m", "airlock", "textconv", str(lock)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before airlock writes: its first write gets EPIPE
    err = proc.stderr.read().decode()
    assert proc.wait() == 0, err
    assert err == ""
