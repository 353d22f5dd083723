"""``airlock plan``: print the artifact set for airlock.yaml (no network but the Kubespray source)."""

from __future__ import annotations

import json

import click

from airlock.cli.main import cli


@cli.command()
@click.option("-f", "--file", "manifest", default="airlock.yaml", show_default=True,
              type=click.Path(dir_okay=False), help="The manifest to plan.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
def plan(manifest: str, as_json: bool) -> None:
    """Show every file, image, OS package and Python requirement the target needs."""
    from airlock.manifest import load_manifest  # lazy: command core, not for --help
    from airlock.plan import build_plan  # lazy: command core, not for --help

    result = build_plan(load_manifest(manifest))
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=False))
    else:
        from airlock.cli.render import render_plan  # lazy: only without --json

        click.echo(render_plan(result), nl=False)
