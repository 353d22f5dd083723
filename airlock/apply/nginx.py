"""DIR/admin/nginx/airlock.conf: nginx serving the static parts of the site, for sites that outgrow one
``airlock serve`` (hundreds of nodes at once), beside ``apply --push`` into Harbor or a CNCF
distribution registry for the images.

It answers what ``airlock serve`` answers for ``files/``, ``rpms/``, ``debs/``, ``pypi/``, ``node/`` and
``inventory/`` and nothing else (DIR/admin, DIR/.airlock and the blob store stay private): the package
index with PEP 691 negotiation (``Accept: application/vnd.pypi.simple.v1+json`` gets ``index.json``,
anything else the PEP 503 ``index.html``, ``Vary: Accept`` either way), symlinks never followed, dot
files never served, byte ranges as nginx does them. It is one ``map`` and one ``server`` block, read
inside nginx's ``http {}`` (``/etc/nginx/conf.d/*.conf``). Same DIR, --url and certificate paths give
the same bytes.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from airlock.pep691 import PYPI_JSON
from airlock.server.site import STATIC_ROOTS

NGINX_CONF = "admin/nginx/airlock.conf"


def _quote(value: str) -> str:
    """An nginx string argument: quoted, backslash and quote escaped (a `$` cannot be: see nginx_conf)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def listen_address(url: str) -> str:
    """An IP literal in --url is where nodes connect, so nginx listens there only; a host name: every address."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        ip = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        return str(port)
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def nginx_conf(dest: Path, url: str, tls: tuple[Path, Path] | None = None) -> bytes:
    root = str(dest)
    if any("$" in p for p in [root, *(str(t) for t in tls or ())]):  # nginx expands variables there, no escape
        return (f"# Written by `airlock apply`: no nginx configuration, because the path {root!r} or a certificate\n"
                "# path holds a '$', which nginx would read as a variable. Use a site directory without one.\n").encode()
    listen = listen_address(url) + (" ssl" if tls else "")
    lines = [
        f"# Written by `airlock apply` for the site in {dest}: nginx for files/, rpms/, debs/, pypi/, node/ and",
        "# inventory/ (images: the registry of `apply --push`). Install and start:",
        f"#   cp {dest}/admin/nginx/airlock.conf /etc/nginx/conf.d/ && nginx -t && systemctl reload nginx",
        "# The user nginx's workers run as must be able to read DIR.",
        "",
        "# PEP 691: pip and uv ask for JSON, browsers and older clients get PEP 503 HTML",
        "map $http_accept $airlock_pypi_index {",
        "    default index.html;",
        '    "~*application/vnd\\.pypi\\.simple\\.v1\\+json" index.json;',
        "}",
        "",
        "server {",
        f"    listen {listen};",
        "    server_name _;",
    ]
    if tls:
        lines += [f"    ssl_certificate {_quote(str(tls[0]))};", f"    ssl_certificate_key {_quote(str(tls[1]))};",
                  "    ssl_protocols TLSv1.2 TLSv1.3;"]
    lines += [
        f"    root {_quote(root)};",
        "    disable_symlinks on;  # as airlock serve: a link in DIR is never followed",
        "    autoindex off;",
        "    server_tokens off;",
        "    types { text/html html; application/json json; }",
        "    default_type application/octet-stream;",
        "",
        "    location / { return 404; }",
        "    location ~ /\\. { return 404; }  # dot files: temp files of a running apply, .airlock/",
    ]
    lines += [f"    location /{top}/ {{ }}" for top in STATIC_ROOTS if top != "pypi"]
    lines += [
        "    location /pypi/ { }",
        "    location /pypi/simple/ {",
        "        index $airlock_pypi_index;",
        "        add_header Vary Accept always;",
        "    }",
        "    location ~ ^/pypi/simple/(.+/)?index\\.json$ {",
        "        types { }",
        f"        default_type {PYPI_JSON};",
        "        add_header Vary Accept always;",
        "    }",
        "}",
    ]
    return ("\n".join(lines) + "\n").encode()
