"""The command group imports a command's module only when that command runs."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from airlock.cli import main as cli_main
from tests.conftest import REPO, kubespray_dir


def test_command_table_names_every_command_and_its_module() -> None:
    cli_main.load_commands()
    registered = set(cli_main.cli.commands)
    assert registered == set(cli_main.COMMANDS)
    for name, module in cli_main.COMMANDS.items():
        callback = cli_main.cli.commands[name].callback
        assert callback is not None
        assert importlib.import_module(f"airlock.cli.{module}").__name__ == callback.__module__, name


def test_help_lists_every_command() -> None:
    out = CliRunner().invoke(cli_main.cli, ["--help"])
    assert out.exit_code == 0
    for name in cli_main.COMMANDS:
        assert f"  {name} " in out.output


def test_unknown_command_is_a_usage_error() -> None:
    out = CliRunner().invoke(cli_main.cli, ["no-such-command"])
    assert out.exit_code == 2 and "No such command" in out.output


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
