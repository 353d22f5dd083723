"""``airlock diff``, ``airlock sbom``, ``airlock sign`` and ``airlock textconv``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from airlock.cli.main import cli
from airlock.scratch import write_output

# Each command imports what it needs when it runs: `airlock sign` needs no lock models, `textconv` (run by git
# for every diff of a lock) no review code, and `airlock --help` neither (the lock models: ~0.5 s to import here).


@cli.command()
@click.argument("old")
@click.argument("new")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text", show_default=True)
def diff(old: str, new: str, fmt: str) -> None:
    """Show what changed between two locks (paths or git:REV:path). Exit 1 when they differ."""
    from airlock.review import render  # lazy: see the top of the module
    from airlock.review.diff import diff_locks  # lazy: see the top of the module
    from airlock.review.locks import load_lock_spec  # lazy: see the top of the module

    d = diff_locks(load_lock_spec(old), load_lock_spec(new))
    out = {"text": render.text, "markdown": render.markdown, "json": render.as_json}[fmt](d, old, new)
    click.echo(out, nl=False)
    sys.exit(0 if d.equal else 1)


@cli.command()
@click.argument("lock", default="airlock.lock", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["cyclonedx-json"]), default="cyclonedx-json", show_default=True)
@click.option("--serial", is_flag=True, help="Add a random serial number (makes output non-deterministic).")
@click.option("--timestamp", is_flag=True, help="Add the current time (makes output non-deterministic).")
@click.option("-o", "--output", type=click.Path(dir_okay=False))
def sbom(lock: str, fmt: str, serial: bool, timestamp: bool, output: str | None) -> None:
    """A CycloneDX SBOM of every artifact LOCK pins."""
    from airlock.lockfile import read_lock  # lazy: see the top of the module
    from airlock.review.sbom import build_sbom  # lazy: see the top of the module

    text = build_sbom(read_lock(Path(lock)), serial=serial, timestamp=timestamp)
    if output:
        write_output(Path(output), text.encode())
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--key", required=True, type=click.Path(exists=True, dir_okay=False), help="Private ssh key.")
def sign(bundle: str, key: str) -> None:
    """Sign BUNDLE's index with an ssh key (writes BUNDLE.sig; verify with `airlock verify --key`)."""
    from airlock.review.signing import sign as do_sign  # lazy: see the top of the module

    out = do_sign(Path(bundle), Path(key))
    click.echo(f"{out}: signature of {bundle} (namespace airlock-bundle)")


@cli.command()
@click.argument("lock", type=click.Path(dir_okay=False))
def textconv(lock: str) -> None:
    """One line per pinned artifact, for `git diff` (a textconv driver, see docs/review.md)."""
    from airlock.lockfile import read_lock  # lazy: see the top of the module

    lk = read_lock(Path(lock))
    lines = [f"kubespray {lk.kubespray.version} kube_version {lk.kubespray.kube_version} {lk.kubespray.digest}"]
    lines += [f"file {f.name} {f.arch} {f.url} {f.digest}" for f in lk.file]
    lines += [f"image {i.name} {i.ref} {i.digest} {','.join(p.arch for p in i.platforms)}" for i in lk.image]
    lines += [f"rpm {r.os} {r.name}-{r.version}-{r.release}.{r.arch} {r.digest}" for r in lk.rpm]
    lines += [f"deb {d.os} {d.name}_{d.version}_{d.arch} {d.digest}" for d in lk.deb]
    lines += [f"wheel {w.filename} {w.digest}" for w in lk.wheel]
    click.echo("\n".join([lines[0], *sorted(lines[1:])]))
