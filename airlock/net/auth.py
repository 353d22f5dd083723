"""Registry credentials: environment, REGISTRY_AUTH_FILE, containers auth.json, ~/.docker/config.json.

Looked up by the host airlock actually talks to (a mirror's host when a mirror is used).
Credentials are only ever sent to that host and never written to a lock or a log.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path


def _env_key(host: str) -> str:
    return "AIRLOCK_AUTH_" + re.sub(r"[^A-Za-z0-9]", "_", host).upper()


def _auth_files() -> list[Path]:
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    docker_dir = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    files.append(docker_dir / "config.json")
    return files


def credentials(host: str) -> tuple[str, str] | None:
    """(user, password) for ``host``: env ``AIRLOCK_AUTH_<HOST>=user:password`` first, then auth files."""
    env = os.environ.get(_env_key(host))
    if env and ":" in env:
        user, password = env.split(":", 1)
        return user, password
    keys = {host, f"https://{host}", f"http://{host}"}
    if host in ("docker.io", "registry-1.docker.io", "index.docker.io"):
        keys |= {"docker.io", "https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"}
    for path in _auth_files():
        try:
            auths = json.loads(path.read_text()).get("auths", {})
        except (OSError, ValueError, AttributeError):
            continue
        for key, entry in auths.items():
            if key.rstrip("/") in keys or key in keys:
                token = entry.get("auth") if isinstance(entry, dict) else None
                if token:
                    try:
                        user, password = base64.b64decode(token).decode().split(":", 1)
                        return user, password
                    except (ValueError, UnicodeDecodeError):
                        continue
                if isinstance(entry, dict) and entry.get("username"):
                    return entry["username"], entry.get("password", "")
    return None
