"""The one copy of what many tests need: running airlock (in-process or as a process), waiting for a
server, starting `airlock serve` on a port the kernel picks.

Unit tests call :func:`cli` (click's CliRunner, no interpreter start-up); integration tests call
:func:`airlock` (a real process, as a user or systemd runs it) and :func:`airlock_serve`.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def airlock(*args: str, cache: Path | None = None, env: Mapping[str, str] | None = None, stdin: str | None = None,
            prefix: list[str] | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    """``python -m airlock ARGS`` of this checkout (PYTHONPATH=REPO) as its own process; never raises on an exit
    code. ``cache`` sets AIRLOCK_CACHE; retries back off 10 ms so a test of a dead host stays quick; ``env``
    goes on top of the (already cleaned, see tests/conftest.py) environment; ``prefix`` wraps the command
    (e.g. ``unshare``); other keywords go to :func:`subprocess.run` (cwd, timeout, preexec_fn)."""
    full = {**os.environ, "AIRLOCK_BACKOFF": "0.01",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    if cache is not None:
        full["AIRLOCK_CACHE"] = str(cache)
    full.update(env or {})
    return subprocess.run([*(prefix or []), sys.executable, "-m", "airlock", *args], capture_output=True, text=True,
                          input=stdin, check=False, env=full, **kw)


def cli(*args: str, stdin: str | None = None, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``airlock ARGS`` in this process through click's CliRunner, shaped like :func:`airlock`'s result
    (returncode, stdout, stderr) so a test can use either. The error boundary (cli/main.py) runs as in
    a real process; an exception it does not handle is re-raised with its traceback."""
    from click.testing import CliRunner

    import airlock.cli
    from airlock.cli.main import cli as group

    for mod in pkgutil.iter_modules(airlock.cli.__path__):  # importing a command module registers its commands
        importlib.import_module(f"airlock.cli.{mod.name}")

    res = CliRunner().invoke(group, list(args), input=stdin, env=dict(env or {}), prog_name="airlock")
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    return subprocess.CompletedProcess(["airlock", *args], res.exit_code, res.stdout, res.stderr)


def free_port() -> int:
    """A port that was free a moment ago. Racy (another process may take it before the caller binds):
    use it only where the port must be known before the server starts — a third-party server that
    cannot report a port it picked itself (docker-registry's config, nginx); the test world's Python
    servers (FaultProxy, TokenService, Upstream), whose URLs go into the registry's and the manifests'
    configs before they start; `airlock apply --url`, which writes the URL into the site before
    `airlock serve` runs. Anything that can bind port 0 and say which port it got should (see
    :func:`airlock_serve`, ``BackgroundHTTP(0, ...).port``, :func:`refused_url`)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def refused_url() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` where nothing answers: a socket bound to PORT that never listens, so a
    connection is refused, and no other process can take the port while the caller uses it."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        yield f"http://{HOST}:{s.getsockname()[1]}"


def wait_http(url: str, proc: subprocess.Popen[Any] | None = None, *, ca: str | None = None,
              timeout: float = 15.0) -> None:
    """Wait until ``url`` answers HTTP (any status: a 401 of an auth-protected registry is up); fails at
    once when ``proc``, the server, has exited."""
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1, context=ctx).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.05)


_ANNOUNCED = re.compile(r"^airlock serve: .* on (https?://\S+) \(")


@dataclass(frozen=True)
class Served:
    url: str                          # http(s)://127.0.0.1:PORT, the port serve got
    proc: subprocess.Popen[str]


@contextmanager
def airlock_serve(site: Path, *args: str, log: IO[str] | None = None, listen: str = f"{HOST}:0",
                  prefix: list[str] | None = None, timeout: float = 60.0) -> Iterator[Served]:
    """``airlock serve SITE --listen 127.0.0.1:0 ARGS`` as a process; yields its base URL, read from the
    line it prints once the socket listens (no port race, no polling). Its stderr goes on to ``log``.
    Stopped with SIGTERM on exit; it must then exit 0."""
    proc = subprocess.Popen([*(prefix or []), sys.executable, "-m", "airlock", "serve", str(site), "--listen", listen,
                             *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stderr is not None
    seen: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def pump(stream: IO[str]) -> None:  # keeps reading so the server never blocks on a full pipe
        for line in stream:
            if not found:
                seen.append(line)
                m = _ANNOUNCED.match(line)
                if m:
                    found.append(m.group(1))
                    ready.set()
            if log is not None:
                log.write(line)
                log.flush()
        ready.set()

    reader = threading.Thread(target=pump, args=(proc.stderr,), daemon=True)
    reader.start()
    try:
        if not ready.wait(timeout) or not found:
            raise RuntimeError(f"airlock serve did not announce its address: {''.join(seen)}")
        yield Served(found[0], proc)
    finally:
        proc.terminate()
        code = proc.wait(30)
        reader.join(10)
    assert code == 0, f"airlock serve exited {code}: {''.join(seen)}"
