"""Real servers on 127.0.0.1 for tests: Debian's docker-registry (CNCF distribution), nginx, a token service.

Each server is a context manager that picks a free port, waits until it answers and stops it
(and its children) on exit. Nothing listens on any other address.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.helpers import HOST, free_port, wait_http


def need(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if not path:
        raise RuntimeError(f"{binary} is not installed (apt-get install -y docker-registry skopeo nginx-light "
                           "apache2-utils openssl)")
    return path


class BackgroundHTTP:
    """A ThreadingHTTPServer on 127.0.0.1 serving ``handler`` from a daemon thread until ``stop()``.
    Port 0 binds a port the kernel picks: read it from ``.port`` (no race for a free port)."""

    def __init__(self, port: int, handler: Callable[..., BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None):
        self.server = ThreadingHTTPServer((HOST, port), handler)
        self.port: int = self.server.server_address[1]
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        # shutdown() waits for the loop to look at its flag: every 0.05 s rather than the default 0.5 s
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed_cert(workdir: Path) -> tuple[Path, Path]:
    workdir.mkdir(parents=True, exist_ok=True)
    cert, key = workdir / "cert.pem", workdir / "key.pem"
    if not cert.exists():
        subprocess.run([need("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class Process:
    def __init__(self, args: list[str], log: Path):
        self.args, self.log = args, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=self.log.open("ab"), stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class DockerRegistry:
    """docker-registry serving ``storage``; mode: plain, basic (htpasswd), tls, token."""

    def __init__(self, workdir: Path, storage: Path, mode: str = "plain", *, users: dict[str, str] | None = None,
                 token_realm: str | None = None, token_cert: Path | None = None, access_log: bool = False):
        self.workdir, self.storage, self.mode = workdir, storage, mode
        self.access_log = access_log
        self.port = free_port()
        self.users = users or {}
        self.token_realm, self.token_cert = token_realm, token_cert
        self.cert: Path | None = None
        self.process: Process | None = None

    @property
    def host(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.mode == 'tls' else 'http'}://{self.host}"

    def __enter__(self) -> "DockerRegistry":
        self.workdir.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": not self.access_log}},
            "storage": {"filesystem": {"rootdirectory": str(self.storage)}, "delete": {"enabled": True}},
            "http": {"addr": self.host, "secret": "airlock-test"},
        }
        if self.mode == "basic":
            htpasswd = self.workdir / "htpasswd"
            for i, (user, password) in enumerate(self.users.items()):
                subprocess.run([need("htpasswd"), "-bB" + ("c" if i == 0 else ""), str(htpasswd), user, password],
                               check=True, capture_output=True)
            config["auth"] = {"htpasswd": {"realm": "airlock-test", "path": str(htpasswd)}}
        if self.mode == "tls":
            self.cert, key = self_signed_cert(self.workdir)
            config["http"]["tls"] = {"certificate": str(self.cert), "key": str(key)}
        if self.mode == "token":
            config["auth"] = {"token": {"realm": self.token_realm, "service": "airlock-test-registry",
                                        "issuer": "airlock-test-issuer", "rootcertbundle": str(self.token_cert)}}
        cfg = self.workdir / "config.yml"
        cfg.write_text(json.dumps(config))  # JSON is YAML
        self.process = Process([need("docker-registry"), "serve", str(cfg)], self.workdir / "registry.log")
        self.process.start()
        wait_http(f"{self.url}/v2/", ca=str(self.cert) if self.cert else None)
        return self

    def requests(self, method: str) -> list[str]:
        """Paths of the ``method`` requests so far (needs ``access_log=True``)."""
        text = (self.workdir / "registry.log").read_text(errors="replace")
        return re.findall(rf'"{method} (/v2/\S*) HTTP', text)

    def __exit__(self, *exc: object) -> None:
        if self.process:
            self.process.stop()


class Nginx:
    """nginx serving ``root`` as static files (HEAD gives Content-Length)."""

    def __init__(self, workdir: Path, root: Path):
        self.workdir, self.root = workdir, root
        self.port = free_port()
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> "Nginx":
        self.workdir.mkdir(parents=True, exist_ok=True)
        for d in ("tmp", "logs"):
            (self.workdir / d).mkdir(exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(f"""
worker_processes 1;
user root root;  # test files live in private temp dirs; ignored when not started as root
pid {self.workdir}/nginx.pid;
error_log {self.workdir}/logs/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {self.workdir}/tmp/body; proxy_temp_path {self.workdir}/tmp/proxy;
  fastcgi_temp_path {self.workdir}/tmp/fcgi; uwsgi_temp_path {self.workdir}/tmp/uwsgi;
  scgi_temp_path {self.workdir}/tmp/scgi;
  types {{ application/octet-stream bin; }}
  default_type application/octet-stream;
  server {{ listen {HOST}:{self.port}; root {self.root}; }}
}}
""")
        self.process = Process([need("nginx"), "-p", str(self.workdir), "-c", str(conf), "-g", "daemon off;"],
                               self.workdir / "logs" / "stdout.log")
        self.process.start()
        wait_http(f"{self.url}/")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process:
            self.process.stop()


_REPO_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")


def parse_scope(scope: str) -> tuple[str, str, list[str]] | None:
    """``type:name:actions`` as the token spec writes it (the name may hold a ``host:port``), or None
    when it is not one scope (two scopes forwarded as one parameter: a space in the name)."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if kind not in ("repository", "registry") or not name or not actions:
        return None
    if kind == "repository" and not _REPO_NAME.match(name):
        return None
    return kind, name, [a for a in actions.split(",") if a]


class TokenService:
    """The token endpoint of distribution's token auth, following the token spec.

    Every ``scope`` parameter is one scope; each is granted on its own: anonymous callers get
    ``pull``, users in ``users`` (basic auth) ``pull`` and ``push``. Anonymous calls are refused
    when ``users`` is set and ``anonymous`` is False. Tokens are RS256 JWTs with an x5c chain that
    docker-registry verifies, live ``ttl`` seconds (``expires_in``/``issued_at`` in the answer) and are
    also kept in :attr:`issued` so a simulated registry can check them against a clock it controls.
    With ``tls`` the service listens on HTTPS.
    """

    def __init__(self, workdir: Path, users: dict[str, str] | None = None, *, ttl: int = 300,
                 tls: ssl.SSLContext | None = None, anonymous: bool = False):
        self.workdir, self.users, self.ttl, self.tls = workdir, users or {}, ttl, tls
        self.anonymous = anonymous or not self.users
        self.port = free_port()
        self.cert, self.key = self_signed_cert(workdir)
        self.requests: list[dict[str, Any]] = []
        self.issued: dict[str, dict[str, Any]] = {}   # token -> {"sub", "access", "issued"}
        self.clock = time.time                        # what "issued" is measured in
        self._lock = threading.Lock()
        self._server: BackgroundHTTP | None = None

    @property
    def realm(self) -> str:
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}/token"

    def grant(self, scopes: list[str], user: str) -> list[dict[str, Any]]:
        allowed = {"pull", "push"} if user else {"pull"}
        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue  # not a scope: nothing granted for it
            kind, name, actions = parsed
            granted = sorted(set(actions) & allowed) if "*" not in actions else sorted(allowed)
            if granted:
                access.append({"type": kind, "name": name, "actions": granted})
        return access

    def token(self, access: list[dict[str, Any]], subject: str) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        now = int(time.time())

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = {"alg": "RS256", "typ": "JWT",
                  "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]}
        with self._lock:
            jti = f"{now}-{len(self.issued)}"
        claims = {"iss": "airlock-test-issuer", "sub": subject, "aud": "airlock-test-registry", "exp": now + self.ttl,
                  "nbf": now - 10, "iat": now, "jti": jti, "access": access}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]  # the key loaded is RSA: it has sign()
        token = f"{signing_input}.{b64(sig)}"
        with self._lock:
            self.issued[token] = {"sub": subject, "access": access, "issued": self.clock()}
        return token

    def allows(self, token: str, name: str, action: str) -> str:
        """"ok", "expired" or "denied" for ``token`` on repository ``name`` at :attr:`clock`."""
        with self._lock:
            info = self.issued.get(token)
        if info is None:
            return "denied"
        if self.clock() >= info["issued"] + self.ttl:
            return "expired"
        ok = any(a["type"] == "repository" and a["name"] == name and action in a["actions"] for a in info["access"])
        return "ok" if ok else "denied"

    def __enter__(self) -> "TokenService":
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                q = parse_qs(urlsplit(self.path).query)
                scopes = q.get("scope", [])
                auth = self.headers.get("Authorization", "")
                user = ""
                if auth.startswith("Basic "):
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if service.users.get(user) != password:
                        user = "!"
                with service._lock:
                    service.requests.append({"user": user, "scopes": scopes, "scope": scopes[0] if scopes else "",
                                             "authorization": bool(auth)})
                if user == "!" or (not user and not service.anonymous):
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                token = service.token(service.grant(scopes, user), user or "anonymous")
                issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                body = json.dumps({"token": token, "access_token": token, "expires_in": service.ttl,
                                   "issued_at": issued}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = BackgroundHTTP(self.port, Handler, self.tls)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.stop()


class Containerd:
    """A private containerd (its own socket, root and state under ``workdir``) for `ctr` pulls."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.socket = workdir / "containerd.sock"
        self.process: Process | None = None

    def __enter__(self) -> "Containerd":
        self.workdir.mkdir(parents=True, exist_ok=True)
        cfg = self.workdir / "config.toml"
        cfg.write_text(f'version = 2\nroot = "{self.workdir}/root"\nstate = "{self.workdir}/state"\n'
                       f'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                       f'[grpc]\n  address = "{self.socket}"\n')
        self.process = Process([need("containerd"), "--config", str(cfg)], self.workdir / "containerd.log")
        self.process.start()
        deadline = time.monotonic() + 20
        while not self.socket.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("containerd did not start: " + (self.workdir / "containerd.log").read_text()[-2000:])
            time.sleep(0.05)
        return self

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([need("ctr"), "--address", str(self.socket), *args], capture_output=True, text=True)

    def __exit__(self, *exc: object) -> None:
        if self.process:
            self.process.stop()
