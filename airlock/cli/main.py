"""The ``airlock`` command group and its single error boundary."""

from __future__ import annotations

import os
import sys

import click

from airlock import __version__
from airlock.errors import AirlockError


class AirlockGroup(click.Group):
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
            if os.environ.get("AIRLOCK_DEBUG"):
                raise
            click.echo(f"internal error: {type(exc).__name__}: {exc}\n"
                       "  hint: this is a bug in airlock; rerun with AIRLOCK_DEBUG=1 for a traceback "
                       "and report it", err=True)
            ctx.exit(70)
        return None


@click.group(cls=AirlockGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="airlock")
def cli() -> None:
    """Reproducible air-gapped Kubespray installs: airlock.yaml -> airlock.lock -> bundle.tar."""


def main() -> None:
    from airlock.cli import apply, export, fetch, plan, resolve, review  # noqa: F401  (registers the commands)

    try:
        cli.main(prog_name="airlock", standalone_mode=True)
    except SystemExit as exc:
        sys.exit(exc.code)
