"""``airlock apply`` and ``airlock serve``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from airlock.cli.fetch import expect_lock_option
from airlock.cli.main import cli
from airlock.errors import UsageError

if TYPE_CHECKING:
    from airlock.apply.options import ApplyOptions, ApplyReport


@cli.command()
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--dest", required=True, type=click.Path(file_okay=False), help="The site directory.")
@click.option("--url", required=True, help="How nodes reach this host's `airlock serve`: http(s)://ADMIN:PORT.")
@click.option("--push", metavar="REGISTRY[/PREFIX]", help="Also copy every image to this registry.")
@click.option("--registry-user", help="User for --push (else the credentials airlock finds, as for resolve).")
@click.option("--registry-password-stdin", is_flag=True, help="Read the --push password from standard input.")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA certificates of the --push registry.")
@click.option("--insecure-registry", is_flag=True, help="Plain HTTP to the --push registry.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option("--key", type=click.Path(exists=True, dir_okay=False),
              help="Public ssh key: refuse the bundle unless BUNDLE.sig is a valid signature by it.")
@expect_lock_option
@click.option("--dry-run", is_flag=True, help="Verify and report what would change; change nothing.")
@click.option("--no-venv", is_flag=True, help="Do not create Kubespray's venv (DIR/venv) from the site's wheels.")
@click.option("--tls-generate", metavar="NAME[,NAME...]", help="With --url https://: make a site CA (DIR/node/ca.crt "
              "for the nodes) and a server certificate for the --url host and these names (DIR/admin/tls).")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="With --url https://: your server certificate "
              "(PEM), named in DIR/admin/airlock-serve.service and the nginx configuration.")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="The private key of --tls-cert.")
@click.option("--tls-ca", type=click.Path(dir_okay=False), help="The CA of --tls-cert, copied to DIR/node/ca.crt.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON; with --dry-run also the plan.")
def apply(bundle: str, dest: str, url: str, push: str | None, registry_user: str | None,
          registry_password_stdin: bool, ca_file: str | None, insecure_registry: bool, concurrency: int,
          key: str | None, expect_lock: str | None, dry_run: bool, no_venv: bool, tls_generate: str | None,
          tls_cert: str | None, tls_key: str | None, tls_ca: str | None, as_json: bool) -> None:
    """Verify BUNDLE, then lay out the site in DIR: files, images, Kubespray, offline.yml, node/."""
    from airlock.apply.execute import ApplyOptions, apply_bundle, site_for  # lazy: command core, not for --help

    opts = ApplyOptions(dest=Path(dest), url=url, push=push, insecure_registry=insecure_registry, dry_run=dry_run,
                        expect_lock=expect_lock, venv=not no_venv, tls_generate=tls_generate,
                        tls_cert=Path(tls_cert) if tls_cert else None, tls_key=Path(tls_key) if tls_key else None,
                        tls_ca=Path(tls_ca) if tls_ca else None)
    site_for(opts)  # refuse a bad --url or --push (or one carrying a password) before reading anything
    password = None
    if registry_password_stdin:
        if not registry_user:
            raise UsageError("--registry-password-stdin needs --registry-user")
        password = sys.stdin.readline().rstrip("\n")
    elif registry_user:
        raise UsageError("--registry-user needs --registry-password-stdin (passwords are never taken as flags)")
    if (registry_user or ca_file or insecure_registry) and not push:
        raise UsageError("--registry-user, --ca-file and --insecure-registry only apply with --push")
    pushing = None
    if push:
        from airlock.apply.push import PushOptions  # lazy: only with --push: it loads the registry client

        pushing = PushOptions(target=push, user=registry_user, password=password, ca_file=ca_file,
                              insecure=insecure_registry, concurrency=concurrency)
    report = apply_bundle(Path(bundle), opts, key=Path(key) if key else None, push=pushing)
    if as_json:
        click.echo(json.dumps(_report_json(report, dry_run), indent=2, sort_keys=dry_run))
    else:
        _render(report, opts)


def _report_json(report: ApplyReport, dry_run: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "dest": str(report.dest), "dry_run": dry_run, "changed": report.changed, "unchanged": report.unchanged,
        "blobs_added": report.blobs_added, "lock_sha256": report.lock_sha256}
    if dry_run:  # the plan, and nothing that differs between two runs (no timings)
        from airlock.apply.plan import plan_json  # lazy: command core, not for --help

        doc["plan"] = plan_json(report.plan) if report.plan is not None else None
        return doc
    return {**doc, "pushed": report.pushed, "seconds": round(report.seconds, 3),
            "push_seconds": round(report.push_seconds, 3) if report.push_seconds is not None else None}


def _render(report: ApplyReport, opts: ApplyOptions) -> None:
    seconds = report.seconds
    verb = "would change" if opts.dry_run else "changed"
    if not report.changed:
        click.echo(f"{report.dest}: up to date, nothing changed ({report.unchanged} items checked, {seconds:.2f} s)")
    else:
        click.echo(f"{report.dest}: {verb} {len(report.changed)} items, {report.unchanged} unchanged "
                   f"({seconds:.2f} s)")
        for item in report.changed[:20]:
            click.echo(f"  {item}")
        if len(report.changed) > 20:
            click.echo(f"  ... and {len(report.changed) - 20} more")
    if opts.dry_run and report.plan is not None and report.plan.repodata:
        # Not among the changes above: createrepo_c runs only in a real apply, after the files are in place,
        # and its index is kept where it comes out the same. The same list as the plan's `repodata` (--json).
        repos = sorted(report.plan.repodata)
        click.echo(f"repodata: createrepo_c would index {len(repos)} RPM repositories (kept where unchanged)")
        for repo_dir in repos:
            click.echo(f"  {repo_dir}/repodata")
    pushed = report.pushed
    if pushed:
        click.echo(f"pushed {pushed['images']} images to {opts.push}: {pushed['blobs_uploaded']} blobs uploaded, "
                   f"{pushed['blobs_mounted']} mounted, {pushed['blobs_present']} already there")
    if report.site and not opts.dry_run:
        dest = report.dest
        click.echo(f"offline.yml: {dest / 'inventory/group_vars/all/offline.yml'}")
        click.echo(f"nodes: ansible-playbook -i <your inventory> -b {dest / 'node/site.yml'} before cluster.yml,"
                   f" or node/setup.sh on one host (see {dest / 'node/README.md'})")
        if opts.tls_generate is not None or opts.tls_cert:
            from airlock.apply.tls import NODE_CA, server_files  # lazy: command core, not for --help

            generated = opts.tls_generate is not None
            files = server_files(dest) if generated else (Path(opts.tls_cert or ""), Path(opts.tls_key or ""))
            ca = f"nodes trust {dest / NODE_CA}" if generated or opts.tls_ca else "nodes must trust your CA"
            click.echo(f"https: {ca}; airlock serve {dest} --tls-cert {files[0]} --tls-key {files[1]} "
                       f"(or {dest / 'admin/airlock-serve.service'})")


@cli.command()
@click.argument("site", type=click.Path(exists=True, file_okay=False))
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT")
@click.option("--idle-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Close a kept-alive connection that sends no request for this long.")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              metavar="SECONDS", help="Answer 408 and close when a request head takes longer than this.")
@click.option("--max-connections", default=1024, show_default=True, type=click.IntRange(1, 65536),
              help="Open connections at most (idle ones are closed first, then 503).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes sharing the listening socket, each one event loop.")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="Serve HTTPS: the server certificate (PEM, "
              "chain after it), e.g. DIR/admin/tls/server.crt of `apply --tls-generate`.")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="The private key of --tls-cert (PEM).")
def serve(site: str, listen: str, idle_timeout: float, header_timeout: float, max_connections: int,
          workers: int, tls_cert: str | None, tls_key: str | None) -> None:
    """Serve SITE: /files/..., /node/..., the package indexes and a read-only OCI registry at /v2/ (Ctrl-C or
    SIGTERM stops it)."""
    from airlock.server.http import serve as run  # lazy: command core, not for --help
    from airlock.server.protocol import Limits  # lazy: command core, not for --help

    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) < 65536:  # 0: the kernel picks; serve prints it
        raise UsageError(f"--listen {listen!r} must be HOST:PORT with a port from 1 to 65535, or 0 for any free one",
                         hint="e.g. --listen 0.0.0.0:8080 or --listen [::]:8080")
    if not (Path(site) / ".airlock" / "state.json").is_file():
        raise UsageError(f"{site} is not a site `airlock apply` made (no .airlock/state.json)",
                         hint="run `airlock apply BUNDLE --dest DIR --url ...` first, then serve that DIR")
    tls = None
    if tls_cert or tls_key:
        if not (tls_cert and tls_key):
            raise UsageError("--tls-cert and --tls-key go together", hint="give both, or neither for plain HTTP")
        from airlock.server.tls import server_context  # lazy: command core, not for --help

        tls = server_context(Path(tls_cert), Path(tls_key))
    try:
        run(Path(site), host.strip("[]"), int(port), limits=Limits(
            idle_timeout=idle_timeout, header_timeout=header_timeout, max_connections=max_connections), workers=workers,
            tls=tls)
    except OSError as exc:
        raise UsageError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
