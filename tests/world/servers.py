"""Real servers on 127.0.0.1 for tests: Debian's docker-registry (CNCF distribution), nginx, a token service.

Each server is a context manager that picks a free port, waits until it answers and stops it
(and its children) on exit. Nothing listens on any other address.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def need(binary: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if Path(f"/usr/sbin/{binary}").exists() else None)
    if not path:
        raise RuntimeError(f"{binary} is not installed (apt-get install -y docker-registry skopeo nginx-light "
                           "apache2-utils openssl)")
    return path


def wait_http(url: str, ca: str | None = None, timeout: float = 15.0) -> None:
    ctx = ssl.create_default_context(cafile=ca) if ca else None
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=1, context=ctx)
            return
        except urllib.error.HTTPError:
            return  # it answered (401 for an auth-protected registry)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up") from None
            time.sleep(0.05)


class BackgroundHTTP:
    """A ThreadingHTTPServer on 127.0.0.1 serving ``handler`` from a daemon thread until ``stop()``."""

    def __init__(self, port: int, handler: type[BaseHTTPRequestHandler]):
        self.server = ThreadingHTTPServer((HOST, port), handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

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
                 token_realm: str | None = None, token_cert: Path | None = None):
        self.workdir, self.storage, self.mode = workdir, storage, mode
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
            "version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": True}},
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


class TokenService:
    """The token endpoint of distribution's token auth: RS256 JWTs with an x5c chain.

    Anonymous pulls get a token unless ``users`` is set; then basic credentials are required.
    """

    def __init__(self, workdir: Path, users: dict[str, str] | None = None):
        self.workdir, self.users = workdir, users or {}
        self.port = free_port()
        self.cert, self.key = self_signed_cert(workdir)
        self.requests: list[dict[str, Any]] = []
        self._server: BackgroundHTTP | None = None

    @property
    def realm(self) -> str:
        return f"http://{HOST}:{self.port}/token"

    def token(self, scope: str, subject: str) -> str:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        key = serialization.load_pem_private_key(self.key.read_bytes(), password=None)
        now = int(time.time())
        access = []
        if scope:
            kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else ("repository", scope, "pull")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})

        def b64(data: bytes) -> str:
            return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

        header = {"alg": "RS256", "typ": "JWT",
                  "x5c": [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]}
        claims = {"iss": "airlock-test-issuer", "sub": subject, "aud": "airlock-test-registry", "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(now) + scope, "access": access}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
        return f"{signing_input}.{b64(sig)}"

    def __enter__(self) -> "TokenService":
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                q = parse_qs(urlsplit(self.path).query)
                auth = self.headers.get("Authorization", "")
                user = ""
                if auth.startswith("Basic "):
                    user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    if service.users.get(user) != password:
                        user = "!"
                service.requests.append({"user": user, "scope": q.get("scope", [""])[0],
                                         "authorization": bool(auth)})
                if (service.users and user not in service.users) or user == "!":
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({"token": service.token(q.get("scope", [""])[0], user or "anonymous")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = BackgroundHTTP(self.port, Handler)
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
