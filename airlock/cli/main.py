"""The ``airlock`` command group and its single error boundary."""

from __future__ import annotations

import importlib
import os
import select
import sys

import click

from airlock import __version__
from airlock.errors import AirlockError
from airlock.parallel import cap_malloc_arenas

# Command -> the module under airlock/cli/ that defines it. A command's module is imported only when
# that command runs (each module pulls in its own stack: `airlock plan` needs neither the HTTP client
# nor the lock models). A name not listed here is looked for in every module in COMMAND_MODULES.
COMMANDS = {
    "apply": "apply", "serve": "apply", "requirements": "export",
    "fetch": "fetch", "verify": "fetch", "inspect": "fetch",
    "plan": "plan", "resolve": "resolve",
    "diff": "review", "sbom": "review", "sign": "review", "textconv": "review",
}
COMMAND_MODULES = ("apply", "export", "fetch", "plan", "resolve", "review")


def load_commands(*modules: str) -> None:
    """Import command modules (each registers its commands on :data:`cli` when imported)."""
    for module in modules or COMMAND_MODULES:
        importlib.import_module(f"airlock.cli.{module}")


class AirlockGroup(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            load_commands(*([COMMANDS[cmd_name]] if cmd_name in COMMANDS else []))
        if cmd_name not in self.commands:
            load_commands()  # a command this table does not know yet: its module registers it
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_commands()  # `airlock --help` lists every command
        return sorted(self.commands)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except AirlockError as exc:
            click.echo(exc.render(), err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # a bug in airlock, not bad input: say so, keep it short
            if isinstance(exc, BrokenPipeError) and _stdout_gone():
                # `airlock ... | head -1`: the reader has what it wanted; the work itself is done.
                _silence_stdout()
                ctx.exit(0)
            if os.environ.get("AIRLOCK_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
                       "  hint: this is a bug in airlock; rerun with AIRLOCK_DEBUG=1 for a traceback "
                       "and report it", err=True)
            ctx.exit(70)
        return None


def _stdout_gone() -> bool:
    """True when standard output is a pipe whose reader has gone (a socket's EPIPE is an error)."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, 0)  # POLLERR and POLLHUP are always reported
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (AttributeError, OSError, ValueError):
        return False


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not print a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


@click.group(cls=AirlockGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="airlock")
def cli() -> None:
    """Reproducible air-gapped Kubespray installs: airlock.yaml -> airlock.lock -> bundle.tar."""


def main() -> None:
    cap_malloc_arenas()  # before any thread starts: arenas are made as threads first allocate
    try:
        cli.main(prog_name="airlock", standalone_mode=True)
    except SystemExit as exc:
        _leave(exc.code)
    _leave(0)


def _leave(code: object) -> None:
    """Exit without tearing the interpreter down: freeing every module and object took 0.1-0.2 s of
    CPU after a fetch (benchmarks/fetch_wan.py), and each command has closed its files, locks and
    pools by the time it returns (temporary directories are all ``with`` blocks)."""
    if code is not None and not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away (`| head`): nothing left to say
            pass
    os._exit(code or 0)
