"""Registry credentials: environment, REGISTRY_AUTH_FILE, containers auth.json, ~/.docker/config.json.

Looked up by the host airlock actually talks to (a mirror's host when a mirror is used). In each
config file, as docker does: ``credHelpers[<host>]`` first, then ``credsStore``, then the inline
``auths`` entry. A helper is the program ``docker-credential-<name>`` on PATH, run as
``docker-credential-<name> get`` with the server on stdin; it prints ``{"Username", "Secret"}``.
A user name ``<token>`` (from a helper, or an ``identitytoken`` entry) marks an identity token,
which the token service exchanges as an OAuth2 refresh token.
Credentials are only ever sent to that host and never written to a lock or a log.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from airlock.errors import CredentialHelperError

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "docker.io", "index.docker.io", "registry-1.docker.io")
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
HELPER_TIMEOUT = 60.0


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


def _is_hub(host: str) -> bool:
    return host in DOCKER_HUB_KEYS


def credentials(host: str) -> tuple[str, str] | None:
    """(user, password) for ``host``: env ``AIRLOCK_AUTH_<HOST>=user:password`` first, then auth files."""
    env = os.environ.get(_env_key(host))
    if env and ":" in env:
        user, password = env.split(":", 1)
        return user, password
    keys = {host, f"https://{host}", f"http://{host}"} | (set(DOCKER_HUB_KEYS) if _is_hub(host) else set())
    for path in _auth_files():
        try:
            config = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(config, dict):
            continue
        found = _from_helpers(config, host, keys, path) or _from_auths(config.get("auths"), keys)
        if found:
            return found
    return None


def _from_helpers(config: dict[str, Any], host: str, keys: set[str], path: Path) -> tuple[str, str] | None:
    helpers = config.get("credHelpers")
    name = None
    if isinstance(helpers, dict):
        name = next((helpers[k] for k in sorted(keys) if isinstance(helpers.get(k), str)), None)
    if name is None and isinstance(config.get("credsStore"), str) and config["credsStore"]:
        name = config["credsStore"]
    if name is None:
        return None
    # docker stores Docker Hub under its v1 URL, every other registry under its host[:port]
    return run_helper(name, DOCKER_HUB_KEYS[0] if _is_hub(host) else host, path)


def _from_auths(auths: Any, keys: set[str]) -> tuple[str, str] | None:
    if not isinstance(auths, dict):
        return None
    for key, entry in auths.items():
        if not isinstance(entry, dict) or (key.rstrip("/") not in keys and key not in keys):
            continue
        identity = entry.get("identitytoken")
        if isinstance(identity, str) and identity:  # used as an OAuth2 refresh token (net.tokens)
            return "<token>", identity
        token = entry.get("auth")
        if isinstance(token, str) and token:
            try:
                user, password = base64.b64decode(token).decode().split(":", 1)
                return user, password
            except (ValueError, UnicodeDecodeError):
                continue
        if isinstance(entry.get("username"), str) and entry["username"]:
            return entry["username"], str(entry.get("password", ""))
    return None


def run_helper(name: str, server: str, config: Path) -> tuple[str, str] | None:
    """``docker-credential-<name> get`` for ``server``; None when the helper has nothing for it."""
    program = f"docker-credential-{name}"
    if not _HELPER_NAME.match(name):
        raise CredentialHelperError(f"{config}: credential helper name {name!r} is not valid",
                                    hint="credsStore/credHelpers name a docker-credential-<name> program")
    exe = shutil.which(program)
    if exe is None:
        raise CredentialHelperError(f"{config} names the credential helper {program}, which is not on PATH",
                                    hint=f"install {program}, or remove it from credsStore/credHelpers")
    try:
        res = subprocess.run([exe, "get"], check=False, input=server, capture_output=True, text=True, timeout=HELPER_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CredentialHelperError(f"credential helper {program} failed for {server}: {exc}",
                                    hint=f"run `echo {server} | {program} get` to see why") from None
    out = res.stdout.strip()
    if res.returncode != 0:
        # the helpers' protocol: "credentials not found in native keychain" means "none stored"
        if "credentials not found" in (out + res.stderr).lower():
            return None
        raise CredentialHelperError(f"credential helper {program} failed for {server} (exit {res.returncode})",
                                    hint=f"run `echo {server} | {program} get` to see why")
    try:
        data = json.loads(out)
        user, secret = data["Username"], data["Secret"]
    except (ValueError, KeyError, TypeError):
        raise CredentialHelperError(f"credential helper {program} printed no Username/Secret JSON for {server}",
                                    hint=f"run `echo {server} | {program} get` to see its output") from None
    if not isinstance(user, str) or not isinstance(secret, str) or not secret:
        return None
    return user, secret
