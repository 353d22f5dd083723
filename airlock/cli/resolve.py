"""``airlock resolve``: pin every planned artifact into airlock.lock."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from airlock.cli.main import cli
from airlock.cli.progress import Progress
from airlock.errors import UsageError


@cli.command()
@click.option("-f", "--file", "manifest", default="airlock.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The manifest to resolve.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Lock to write [default: beside the manifest].")
@click.option("--check", is_flag=True, help="No network: exit 0 if the lock matches the manifest, 1 if stale.")
@click.option("--upgrade", is_flag=True, help="Re-pin everything, or only the NAMEs given (name, URL or image ref).")
@click.argument("names", nargs=-1, metavar="[NAME...]")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Parallel requests.")
@click.option("--verify-files", is_flag=True, help="Download and hash every file, not just those HEAD cannot size.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="Extra CA certificates (PEM).")
@click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST[:PORT]",
              help="Talk plain HTTP to this registry (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def resolve(manifest: str, output: str | None, check: bool, upgrade: bool, names: tuple[str, ...],
            concurrency: int, verify_files: bool, ca_file: str | None, insecure: tuple[str, ...],
            as_json: bool) -> None:
    """Pin every file (sha256, size) and image (digests per arch) into airlock.lock."""
    from airlock.resolve import ResolveOptions, check_lock, resolve_lock  # lazy: command core, not for --help

    if names and not upgrade:
        raise UsageError(f"unexpected argument {names[0]!r}", hint="names are only taken with --upgrade")
    if check:
        lock_path, reason = check_lock(Path(manifest), Path(output) if output else None)
        if reason:
            click.echo(f"stale: {reason}")
            sys.exit(1)
        click.echo(f"{lock_path} is up to date")
        return
    opts = ResolveOptions(upgrade=upgrade, upgrade_names=frozenset(names), concurrency=concurrency,
                          verify_files=verify_files, ca_file=ca_file, insecure_registries=frozenset(insecure))

    with Progress(enabled=not as_json) as progress:
        result = resolve_lock(Path(manifest), Path(output) if output else None, opts, progress=progress.advance)
    summary = {"lock": str(result.path), "written": result.written, "files": len(result.lock.file),
               "images": len(result.lock.image), "rpms": len(result.lock.rpm), "debs": len(result.lock.deb),
               "wheels": len(result.lock.wheel), "reused": result.reused, "resolved": result.resolved,
               "moved": result.moved}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    for line in result.moved:
        click.echo(f"warning: {line}", err=True)
    state = "written" if result.written else "unchanged"
    packages = "".join(f", {summary[k]} {k}" for k in ("rpms", "debs", "wheels") if summary[k])
    click.echo(f"{result.path}: {state} — {summary['files']} files, {summary['images']} images{packages} "
               f"({result.reused} files/images kept, {result.resolved} resolved)")
