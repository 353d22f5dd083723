"""``airlock fetch``, ``airlock verify``, ``airlock inspect``."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from airlock.cli.main import cli
from airlock.cli.progress import ByteProgress
from airlock.errors import UsageError

MIN_SPLIT = 1 << 20  # smaller parts only multiply files (a 10 GiB bundle in 1-byte parts: 10 billion)


def _size(text: str) -> int:
    m = re.fullmatch(r"(\d+)\s*([KMGT]i?B?|B)?", text.strip(), re.I)
    if not m:
        raise click.BadParameter(f"{text!r} is not a size like 4GiB, 700M or 1048576")
    unit = (m.group(2) or "B").upper().rstrip("B").rstrip("I")
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}[unit]


def _split(text: str) -> int:
    size = _size(text)
    if size < MIN_SPLIT:
        raise UsageError(f"--split {text}: parts must be at least 1 MiB", hint="e.g. --split 4GiB or --split 700M")
    return size


def expect_lock_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--expect-lock SHA256``, shared by verify and apply: pins the reviewed lock."""
    def check(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        hexd = value.strip().lower().removeprefix("sha256:")
        if not re.fullmatch(r"[0-9a-f]{64}", hexd):
            raise click.BadParameter(f"{value!r} is not a sha256 (64 hex digits, e.g. from `sha256sum airlock.lock`)")
        return hexd
    return click.option("--expect-lock", metavar="SHA256", callback=check,
                        help="Refuse the bundle unless its airlock.lock has this sha256 (the reviewed lock).")(f)


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n} B"


@cli.command()
@click.option("--lock", "lock_path", default="airlock.lock", show_default=True, type=click.Path(dir_okay=False),
              help="The lock to follow.")
@click.option("-o", "--output", default="bundle.tar", show_default=True, type=click.Path(dir_okay=False))
@click.option("--cache", type=click.Path(file_okay=False), help="Blob cache [default: $XDG_CACHE_HOME/airlock].")
@click.option("--base", "base_lock", type=click.Path(exists=True, dir_okay=False),
              help="Old lock: write a delta bundle without the blobs it already had.")
@click.option("--split", "split", metavar="SIZE", help="Write parts of at most SIZE (e.g. 4GiB) plus a checksum list.")
@click.option("--concurrency", default=16, show_default=True, type=click.IntRange(1, 64),
              help="Downloads in flight (16: see docs/benchmarks.md).")
@click.option("-f", "--manifest", type=click.Path(dir_okay=False),
              help="Take mirrors from this airlock.yaml [default: the one beside the lock, if any].")
@click.option("--mirror", "mirrors", multiple=True, metavar="KEY=URL", help="Extra mirror (repeatable).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="Extra CA certificates (PEM).")
@click.option("--insecure-registry", "insecure", multiple=True, metavar="HOST[:PORT]")
@click.option("--sbom", "with_sbom", is_flag=True, help="Also put a CycloneDX SBOM (sbom.cdx.json) in the bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
def fetch(lock_path: str, output: str, cache: str | None, base_lock: str | None, split: str | None,
          concurrency: int, manifest: str | None, mirrors: tuple[str, ...], ca_file: str | None,
          insecure: tuple[str, ...], with_sbom: bool, as_json: bool) -> None:
    """Download everything the lock pins (verified) and write one deterministic bundle."""
    from airlock.fetch import FetchOptions, fetch_lock  # lazy: command core, not for --help

    split_bytes = _split(split) if split else None
    opts = FetchOptions(cache=Path(cache) if cache else None, base_lock=Path(base_lock) if base_lock else None,
                        split=split_bytes, concurrency=concurrency, ca_file=ca_file,
                        insecure_registries=frozenset(insecure), sbom=with_sbom)
    with ByteProgress(enabled=not as_json) as progress:
        result = fetch_lock(Path(lock_path), Path(output), opts, manifest=Path(manifest) if manifest else None,
                            mirror_args=mirrors, progress=progress)
    summary = {"bundle": str(result.bundle), "files": [str(p) for p in result.files], "sha256": result.sha256,
               "size": result.size, "artifacts": result.artifacts, "blobs": result.blobs,
               "downloaded_bytes": result.downloaded, "cached_bytes": result.from_cache}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{result.bundle}: {result.artifacts} artifacts, {result.blobs} blobs, {human(result.size)}; "
               f"downloaded {human(result.downloaded)}, from cache {human(result.from_cache)}")
    if len(result.files) > 1:
        click.echo(f"parts: {', '.join(p.name for p in result.files)}")
    click.echo(f"sha256 {result.sha256}")


@cli.command()
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--key", type=click.Path(exists=True, dir_okay=False),
              help="Public ssh key: also require a valid signature (BUNDLE.sig) by it.")
@expect_lock_option
def verify(bundle: str, key: str | None, expect_lock: str | None) -> None:
    """Re-hash every entry of BUNDLE against bundle.json and the lock (split bundles too)."""
    from airlock.bundle.verify import verify_bundle  # lazy: command core, not for --help

    if key:
        from airlock.review.signing import verify_signature  # lazy: command core, not for --help

        verify_signature(Path(bundle), Path(key))
    v = verify_bundle(Path(bundle), expect_lock=expect_lock)
    kind = f"delta of lock {v.index.base_lock_sha256[:12]}" if v.index.base_lock_sha256 else "complete"
    signed = (", signature OK" if key else "") + (", lock as expected" if expect_lock else "")
    click.echo(f"{bundle}: OK — {len(v.index.entries)} entries verified ({kind}{signed}), "
               f"Kubespray {v.lock.kubespray.version}, {len(v.lock.file)} files, {len(v.lock.image)} images, "
               f"{len(v.lock.rpm) + len(v.lock.deb)} OS packages, {len(v.lock.wheel)} wheels")


@cli.command()
@click.argument("bundle", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def inspect(bundle: str, as_json: bool) -> None:
    """Show what BUNDLE holds: per kind, per image, sizes (after verifying it)."""
    from airlock.bundle.verify import inspect_bundle  # lazy: command core, not for --help
    from airlock.cli.render import table  # lazy: command core, not for --help

    info = inspect_bundle(Path(bundle))
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{bundle}: Kubespray {info['kubespray']}, {human(info['total_bytes'])}"
               + (f", delta of lock {info['delta_of'][:12]}" if info["delta_of"] else ""))
    click.echo("\n" + table(["KIND", "COUNT", "SIZE"], [(k, str(v["count"]), human(v["bytes"]))
                                                      for k, v in info["by_kind"].items()]), nl=False)
    click.echo("\n" + table(["IMAGE", "ARCH", "TARGET", "SIZE"],
                            [(i["ref"], ",".join(i["arch"]), i["target"], human(i["bytes"])) for i in info["images"]]),
               nl=False)
    files = [(f["name"], f["arch"], human(f["size"])) for f in info["files"]]
    click.echo("\n" + table(["FILE", "ARCH", "SIZE"], files), nl=False)
