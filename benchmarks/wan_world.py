"""The worlds of benchmarks/fetch_wan.py: images in a docker-registry, files and a PEP 503 index of
wheels on nginx, an airlock.yaml whose mirrors point at them, and the servers themselves, started
inside the shaped link's namespace (listening on its address only) with access logs to count requests.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import random
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tests.world import wheels
from tests.world.images import build_image, shared_layer
from tests.world.servers import DockerRegistry, need, wait_http

MB = 1_000_000
REPO = Path(__file__).resolve().parent.parent
KUBESPRAY = REPO.parent / "shared" / "kubespray" / "2.30.0"
REG_PORT, WEB_PORT = 5000, 8080


@dataclass(frozen=True)
class WorldSpec:
    name: str
    images: int
    layers: int  # own layers per image besides its base layer
    layer_size: int
    base_size: int  # one layer shared by every image (0: none)
    files: int
    file_size: int
    wheel_sizes: tuple[tuple[str, str, int], ...]  # Kubespray's requirements, padded to these sizes


KUBESPRAY_WHEELS = (("ansible", "10.7.0", 16 * MB), ("cryptography", "46.0.3", 4 * MB),
                    ("jmespath", "1.1.0", 30_000), ("netaddr", "1.3.0", 2 * MB))
LARGE = WorldSpec("large", images=12, layers=1, layer_size=11 * MB, base_size=2 * MB, files=11, file_size=4 * MB,
                  wheel_sizes=KUBESPRAY_WHEELS)
LATENCY = WorldSpec("latency", images=40, layers=4, layer_size=100_000, base_size=0, files=20, file_size=100_000,
                    wheel_sizes=tuple((n, v, 100_000) for n, v, _ in KUBESPRAY_WHEELS))


@dataclass
class Built:
    spec: WorldSpec
    root: Path
    refs: list[str]
    file_urls: list[str]
    wheel_files: list[str]

    @property
    def storage(self) -> Path:
        return self.root / "registry"

    @property
    def web(self) -> Path:
        return self.root / "web"


def build(spec: WorldSpec, root: Path) -> Built:
    """Generate the world under ``root`` and push its images through a registry on 127.0.0.1."""
    root.mkdir(parents=True, exist_ok=True)
    refs = [f"bench.example/{spec.name}/app{i}:1.0" for i in range(spec.images)]
    base = (shared_layer(f"{spec.name}-base", spec.base_size, level=0),) if spec.base_size else ()
    with DockerRegistry(root / "reg-build", root / "registry") as reg:
        for ref in refs:
            name, tag = ref.rsplit(":", 1)
            src = build_image(root / "img", "oci-index", seed=ref, tag=tag, arches=("amd64",), layers=spec.layers,
                              layer_size=spec.layer_size, shared_layers=base, level=0)
            subprocess.run([need("skopeo"), "copy", "--quiet", "--all", "--preserve-digests",
                            "--dest-tls-verify=false", src, f"docker://{reg.host}/{name}:{tag}"],
                           check=True, capture_output=True)
            shutil.rmtree(root / "img")
    web = root / "web"
    urls = []
    for i in range(spec.files):
        dest = web / "files.bench.example" / f"{spec.name}-{i}.bin"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(random.Random(f"{spec.name}-file-{i}").randbytes(spec.file_size))
        urls.append(f"https://files.bench.example/{dest.name}")
    names = _wheel_index(web / "pypi.bench.example", spec.wheel_sizes)
    return Built(spec, root, refs, urls, names)


def _wheel_index(root: Path, sizes: tuple[tuple[str, str, int], ...]) -> list[str]:
    """A PEP 503 index (with PEP 658 metadata) of stand-in wheels padded to real-world sizes."""
    out = []
    for name, version, size in sizes:
        filename, data, metadata = wheels.build_wheel(wheels.Wheel(name, version))
        buf = io.BytesIO(data)
        with zipfile.ZipFile(buf, "a", zipfile.ZIP_STORED) as z:
            pad = zipfile.ZipInfo(f"{name.replace('-', '_')}/_pad.bin", date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(pad, random.Random(name).randbytes(max(0, size - len(data))))
        data = buf.getvalue()
        (root / "files").mkdir(parents=True, exist_ok=True)
        (root / "files" / filename).write_bytes(data)
        (root / "files" / (filename + ".metadata")).write_text(metadata)
        sha, meta_sha = hashlib.sha256(data).hexdigest(), hashlib.sha256(metadata.encode()).hexdigest()
        d = root / "simple" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "index.html").write_text(f'<!DOCTYPE html><html><body>\n<a href="../../files/{html.escape(filename)}'
                                      f'#sha256={sha}" data-core-metadata="sha256={meta_sha}">{filename}</a>\n'
                                      "</body></html>\n")
        out.append(filename)
    return out


def manifest(world: Built, path: Path, reg_url: str, web_url: str) -> Path:
    files = ", ".join(f'{{url: "{u}", sha256: "{_sha(world, u)}"}}' for u in world.file_urls)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'kubespray: {{version: "2.30.0", source: "{KUBESPRAY}"}}\narch: [amd64]\n'
                    f"vars: {{skip_downloads: true}}\nimages: [{', '.join(world.refs)}]\nfiles: [{files}]\n"
                    'python: {index_url: "https://pypi.bench.example/simple/"}\n'
                    + "mirrors:\n" + "".join(f'  "{k}": "{v}"\n' for k, v in mirrors(reg_url, web_url).items()))
    return path


def mirrors(reg_url: str, web_url: str) -> dict[str, str]:
    return {"bench.example": f"{reg_url}/bench.example",
            "https://files.bench.example": f"{web_url}/files.bench.example",
            "https://pypi.bench.example": f"{web_url}/pypi.bench.example"}


def _sha(world: Built, url: str) -> str:
    return hashlib.sha256((world.web / "files.bench.example" / url.rsplit("/", 1)[1]).read_bytes()).hexdigest()


class Servers:
    """docker-registry and nginx serving ``world`` on ``addr``, started through ``prefix``
    (``ip netns exec NS`` or nothing), each with an access log to count requests."""

    def __init__(self, world: Built, workdir: Path, addr: str, prefix: list[str], ports: tuple[int, int] = (REG_PORT,
                                                                                                      WEB_PORT)):
        self.world, self.workdir, self.addr, self.prefix = world, workdir, addr, prefix
        self.reg_port, self.web_port = ports
        self.procs: list[subprocess.Popen[bytes]] = []
        self.reg_log, self.web_log = workdir / "registry.log", workdir / "access.log"

    @property
    def reg_url(self) -> str:
        return f"http://{self.addr}:{self.reg_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.addr}:{self.web_port}"

    def __enter__(self) -> Self:
        w = self.workdir
        (w / "tmp").mkdir(parents=True, exist_ok=True)
        cfg = {"version": 0.1, "log": {"level": "error", "accesslog": {"disabled": False}},
               "storage": {"filesystem": {"rootdirectory": str(self.world.storage)}},
               "http": {"addr": f"{self.addr}:{self.reg_port}", "secret": "airlock-bench"}}
        (w / "registry.yml").write_text(json.dumps(cfg))
        (w / "nginx.conf").write_text(
            f"worker_processes 1;\nuser root root;\npid {w}/nginx.pid;\nerror_log {w}/error.log warn;\n"
            "events { worker_connections 1024; }\nhttp {\n"
            f"  access_log {self.web_log};\n  client_body_temp_path {w}/tmp/body; proxy_temp_path {w}/tmp/proxy;\n"
            f"  fastcgi_temp_path {w}/tmp/fcgi; uwsgi_temp_path {w}/tmp/uwsgi; scgi_temp_path {w}/tmp/scgi;\n"
            "  default_type application/octet-stream; sendfile on;\n"
            f"  server {{ listen {self.addr}:{self.web_port}; root {self.world.web}; }}\n}}\n")
        self._start([need("docker-registry"), "serve", str(w / "registry.yml")], self.reg_log)
        self._start([need("nginx"), "-p", str(w), "-c", str(w / "nginx.conf"), "-g", "daemon off;"],
                    w / "nginx.out")
        wait_http(f"{self.reg_url}/v2/")
        wait_http(f"{self.web_url}/")
        return self

    def _start(self, cmd: list[str], log: Path) -> None:
        # The servers stand for remote hosts: like the delay line, they must not wait for this
        # machine's CPU behind other work (they serve airlock and the peer loop alike).
        self.procs.append(subprocess.Popen(self.prefix + ["nice", "-n", "-10", *cmd], stdout=log.open("ab"),
                                           stderr=subprocess.STDOUT, start_new_session=True))

    def requests_by_method(self) -> dict[str, int]:
        """Requests served so far by both servers (access-log lines), by HTTP method."""
        out: dict[str, int] = {}
        for log in (self.reg_log, self.web_log):
            for method, n in count_requests(log.read_text(errors="replace") if log.exists() else "").items():
                out[method] = out.get(method, 0) + n
        return out

    def requests(self) -> int:
        return sum(self.requests_by_method().values())

    def __exit__(self, *exc: object) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def count_requests(log: str) -> dict[str, int]:
    """Access-log lines (combined format: ``... "GET /path HTTP/1.1" 200 ...``) in ``log``, by method."""
    out: dict[str, int] = {}
    for line in log.splitlines():
        _, quote, rest = line.partition('"')
        method = rest.split(" ", 1)[0] if quote else ""
        if method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
            out[method] = out.get(method, 0) + 1
    return out
