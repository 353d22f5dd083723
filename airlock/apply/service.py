"""DIR/admin/airlock-serve.service: a systemd unit running `airlock serve` for the site.

The same DIR, --url and airlock location give the same bytes. The airlock it runs is the launcher
bootstrap/install.sh wrote (it sets AIRLOCK_LAUNCHER), else ``airlock`` on PATH, else
/opt/airlock/bin/airlock (the documented prefix).
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_LAUNCHER = "/opt/airlock/bin/airlock"


def launcher() -> str:
    found = os.environ.get("AIRLOCK_LAUNCHER") or shutil.which("airlock") or DEFAULT_LAUNCHER
    return str(Path(found).absolute())


def serve_unit(dest: Path, url: str, tls: tuple[Path, Path] | None = None) -> bytes:
    """With TLS = (certificate, key), serve gets them as systemd credentials: the dynamic user it runs
    as could not read a root-only key (or DIR/admin/tls at all), the credential copy it can."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    args = [launcher(), "serve", str(dest), "--listen", f"0.0.0.0:{port}"]
    creds = ""
    if tls:
        args += ["--tls-cert", "%d/server.crt", "--tls-key", "%d/server.key"]  # %d: $CREDENTIALS_DIRECTORY
        creds = f"LoadCredential=server.crt:{tls[0]}\nLoadCredential=server.key:{tls[1]}\n"
    cmd = shlex.join(args)
    return f"""# Written by `airlock apply`. Install and start:
#   cp {dest}/admin/airlock-serve.service /etc/systemd/system/
#   systemctl daemon-reload && systemctl enable --now airlock-serve
[Unit]
Description=airlock serve: the offline Kubespray site in {dest}
After=network-online.target
Wants=network-online.target

[Service]
ExecStart={cmd}
{creds}Restart=on-failure
DynamicUser=yes
# serve only reads the site; a port below 1024 needs the capability, nothing else does
AmbientCapabilities=CAP_NET_BIND_SERVICE
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
""".encode()
