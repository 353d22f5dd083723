"""``airlock requirements``: the locked Python packages as a hash-pinned requirements file."""

from __future__ import annotations

from pathlib import Path

import click

from airlock.cli.main import cli
from airlock.errors import UsageError
from airlock.scratch import write_output


@cli.command()
@click.option("--lock", "lock_path", default="airlock.lock", show_default=True, type=click.Path(dir_okay=False))
@click.option("--platform", metavar="cpXY-ARCH", help="Only the wheels for one target, e.g. cp312-x86_64.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
def requirements(lock_path: str, platform: str | None, output: str | None) -> None:
    """Print the lock's Python packages for `pip install --require-hashes -r FILE`."""
    from airlock.apply.pypi import requirements_txt  # lazy: at run time: `airlock --help` imports every command module
    from airlock.lockfile import read_lock  # lazy: (the same: the lock models are slow to load)

    lock = read_lock(Path(lock_path))
    have = sorted({p for w in lock.wheel for p in w.platforms})
    if platform is not None and platform not in have:
        # An empty file would install nothing and look like success.
        raise UsageError(f"{lock_path} has no wheels for {platform}; it has: {', '.join(have) or 'none'}",
                         hint="set admin.python / python.version and arch in airlock.yaml, then `airlock resolve`")
    text = requirements_txt(lock, platform)
    if output:
        write_output(Path(output), text.encode())
    else:
        click.echo(text, nl=False)
