"""The command group imports a command's module only when that command runs (that `airlock plan` imports
nothing else is checked in a fresh interpreter: tests/integration/test_cli_process.py)."""

from __future__ import annotations

import importlib

from click.testing import CliRunner

from airlock.cli import main as cli_main


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
