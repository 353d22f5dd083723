"""``airlock apply``'s options, its report, and the site addresses they give (checked before any reading)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airlock.apply.node import NODE_CA_PATH
from airlock.apply.offline import Site
from airlock.apply.tls import check_tls_options
from airlock.errors import UsageError
from airlock.names import check_registry, has_credentials, redact

if TYPE_CHECKING:
    from airlock.apply.plan import SitePlan


@dataclass
class ApplyOptions:
    dest: Path
    url: str
    push: str | None = None
    insecure_registry: bool = False
    dry_run: bool = False
    expect_lock: str | None = None  # the reviewed lock's sha256: any other bundle is refused
    venv: bool = True  # DIR/venv: Kubespray's Ansible from the site's wheels
    tls_generate: str | None = None  # NAME[,NAME...]: make DIR's CA and server certificate (airlock.apply.tls)
    tls_cert: Path | None = None     # or the user's certificate and key, for the systemd unit and nginx
    tls_key: Path | None = None
    tls_ca: Path | None = None       # their CA, copied to node/ca.crt for the nodes


@dataclass
class ApplyReport:
    dest: Path
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0
    blobs_added: int = 0
    lock_sha256: str = ""
    site: Site | None = None
    plan: SitePlan | None = None  # what apply computed (``apply --dry-run --json`` prints it)
    pushed: dict[str, int] | None = None  # push_site's counts, with --push
    seconds: float = 0.0                  # signature check, apply and push
    push_seconds: float | None = None


def site_for(opts: ApplyOptions) -> Site:
    """The site's addresses from --url and --push, refused when malformed or carrying a secret: they
    are written into offline.yml, node/ and --json, so a password in them would leak."""
    if has_credentials(opts.url) or (opts.push and has_credentials(opts.push)):
        flag = "--url" if has_credentials(opts.url) else "--push"
        raise UsageError(f"{flag} {redact(opts.url if flag == '--url' else opts.push or '')!r} carries a user or "
                         "password; it would be written into offline.yml and node/",
                         hint="give --push credentials with --registry-user and --registry-password-stdin"
                              if flag == "--push" else "nodes reach `airlock serve` without credentials")
    try:
        parts = urlsplit(opts.url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/") \
            and not parts.query and not parts.fragment
        ok = ok and parts.port != 0  # raises ValueError for a port out of range; 0 is no address
    except ValueError as exc:
        raise UsageError(f"--url {redact(opts.url)!r} is not a valid URL: {exc}",
                         hint="e.g. --url http://10.0.0.5:8080 or http://[fd00::5]:8080") from None
    if not ok or any(c.isspace() or c in "\"'\\" for c in parts.netloc):
        raise UsageError(f"--url {redact(opts.url)!r} must be http(s)://HOST:PORT",
                         hint="e.g. --url http://10.0.0.5:8080")
    base = f"{parts.scheme}://{parts.netloc}"

    check_tls_options(opts, parts.scheme, parts.hostname or "")

    ca = NODE_CA_PATH if parts.scheme == "https" and (opts.tls_generate is not None or opts.tls_ca is not None) \
        else None  # node/ca.crt exists exactly then (airlock.apply.tls.site_tls_outputs)
    if opts.push:
        if "://" in opts.push:
            raise UsageError("--push takes REGISTRY[/PREFIX] without a scheme",
                             hint="use --insecure-registry for plain HTTP")
        try:
            registry = check_registry(opts.push.rstrip("/"))
        except ValueError as exc:
            raise UsageError(f"--push: {exc}", hint="e.g. --push registry.example:5000/airlock") from None
        return Site(f"{base}/files", registry, opts.insecure_registry, ca=ca)
    return Site(f"{base}/files", parts.netloc, parts.scheme == "http", ca=ca, registry_ca=ca)
