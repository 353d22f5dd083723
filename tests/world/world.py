"""Build the test world: a Kubespray fixture, the files it pins on nginx, its images in a registry.

The Kubespray fixture is ``../shared/kubespray/<version>`` with each planned file's checksum
replaced by the checksum of a generated file (same algorithm), so a whole plan resolves through
``mirrors`` against servers on 127.0.0.1. Images keep their upstream path in the registry
(``<registry>/registry.k8s.io/kube-apiserver:v1.34.3``), rotating through OCI index, Docker
manifest list and OCI index with an attestation entry.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from tests.world.images import build_image
from tests.world.servers import DockerRegistry, Nginx, need

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "kubespray"
KINDS = ("oci-index", "docker-list", "oci-index-attest")

# Images beyond Kubespray's, for the edge cases: (ref, kind, arches)
EXTRA_IMAGES = (
    ("registry.k8s.io/airlock-test/single:1.0", "oci-single", ("amd64",)),
    ("docker.io/library/airlock-docker-single:1.0", "docker-single", ("amd64",)),
    ("quay.io/airlock-test/amd64-only:1.0", "oci-index", ("amd64",)),
    ("ghcr.io/airlock-test/multi:2.0", "oci-index-attest", ("amd64", "arm64")),
)


# kubespray.version -> the directory under ../shared/kubespray holding that release (master's snapshot).
SHARED_NAMES = {"2.32.0": "master"}


def shared_tree(version: str) -> Path:
    name = SHARED_NAMES.get(version, version)
    found = sorted(SHARED.glob("master-*")) if name == "master" else [SHARED / name]
    return found[-1] if found else SHARED / name


@dataclass
class Case:
    version: str
    body: str  # airlock.yaml lines after kubespray:/mirrors (arch, addons, vars...)


@dataclass
class World:
    root: Path
    cases: list[Case]
    checksum_map: dict[str, str] = field(default_factory=dict)
    file_hosts: set[str] = field(default_factory=set)
    images: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    registry: DockerRegistry | None = None
    nginx: Nginx | None = None

    @property
    def storage(self) -> Path:
        return self.root / "registry-storage"

    @property
    def files_root(self) -> Path:
        return self.root / "files"

    def kubespray(self, version: str) -> Path:
        return self.root / "kubespray" / version

    # -- build ----------------------------------------------------------------------------

    def build(self) -> "World":
        from airlock.manifest import load_manifest
        from airlock.plan import build_plan

        for case in self.cases:
            real = self.root / "plans" / f"{case.version}.yaml"
            real.parent.mkdir(parents=True, exist_ok=True)
            real.write_text(f'kubespray: {{version: "{case.version}", source: "{shared_tree(case.version)}"}}\n'
                            + case.body)
            plan = build_plan(load_manifest(real))
            for f in plan.files:
                self._add_file(f.url, f.checksum)
            for img in plan.images:
                kind = self.images.get(img.ref, ("", ()))[0] or KINDS[len(self.images) % len(KINDS)]
                self.images[img.ref] = (kind, ("amd64", "arm64"))
        for ref, kind, arches in EXTRA_IMAGES:
            self.images[ref] = (kind, arches)
        for version in sorted({c.version for c in self.cases}):
            self._fixture(version)
        self._package_repos()
        self._python_index()
        return self

    def _python_index(self) -> None:
        """A PEP 503 index with the Kubespray requirements (as stand-in wheels) and the test structure."""
        from tests.world import wheels

        stand_ins = []
        for version in sorted({c.version for c in self.cases}):
            for line in (shared_tree(version) / "requirements.txt").read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if "==" in line:
                    name, ver = line.split("==", 1)
                    stand_ins.append(wheels.Wheel(name, ver))
                elif "<" in line:  # master's "bcrypt<6": one release just below the bound
                    name, bound = line.split("<", 1)
                    stand_ins.append(wheels.Wheel(name.strip(), f"{int(bound.strip().split('.')[0]) - 1}.0.0"))
        wheels.build_index(self.files_root / "pypi.fixture.example", list(wheels.STRUCTURE) + stand_ins)
        self.file_hosts.add("pypi.fixture.example")

    # OS package repositories: one rpm (rocky-10) and one deb (debian-12) fixture, holding every
    # package Kubespray's system_packages can ask for plus the structure packages of the fixtures.
    PACKAGE_OSES = {"rocky-10": "rpm", "debian-12": "deb"}

    def _package_repos(self) -> None:
        from airlock.kubespray.tree import KubesprayTree
        from airlock.packages import site_packages
        from tests.world import debrepo, rpmrepo

        pkgs: set[str] = set()
        for version in sorted({c.version for c in self.cases} | {"2.30.0"}):
            pkgs |= set(KubesprayTree(shared_tree(version), version).role_layer("system_packages", "vars")["pkgs"])
        for os_name, fam in self.PACKAGE_OSES.items():
            names = sorted(set(pkgs) | set(site_packages(os_name)) | {"nfs-utils", "nfs-common"})
            root = self.files_root / f"{fam}.fixture.example" / os_name
            if fam == "rpm":
                repo = rpmrepo.build_repo(self.root / "pkgbuild" / os_name,
                                          list(rpmrepo.STRUCTURE) + rpmrepo.dummies(names))
            else:
                repo = debrepo.build_repo(self.root / "pkgbuild" / os_name,
                                          list(debrepo.STRUCTURE) + debrepo.dummies(names))
            root.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(repo, root)
        self.file_hosts |= {"rpm.fixture.example", "deb.fixture.example"}

    def repos_yaml(self) -> str:
        lines = ["repos:"]
        for os_name, fam in self.PACKAGE_OSES.items():
            if fam == "rpm":
                lines.append(f'  {os_name}: [{{name: fixture, url: "https://rpm.fixture.example/{os_name}/", '
                             'gpgcheck: false}]')
            else:
                lines.append(f'  {os_name}: [{{name: fixture, url: "https://deb.fixture.example/{os_name}", '
                             'suite: stable, components: [main], gpgcheck: false}]')
        return "\n".join(lines)

    def _add_file(self, url: str, checksum: str | None) -> None:
        parts = urlsplit(url)
        self.file_hosts.add(parts.netloc)
        rng = random.Random(checksum or url)
        data = rng.randbytes(rng.randint(1024, 64 * 1024))
        dest = self.files_root / parts.netloc / parts.path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        if checksum:
            algo = checksum.split(":", 1)[0]
            self.checksum_map[checksum] = f"{algo}:{hashlib.new(algo, data).hexdigest()}"

    def _fixture(self, version: str) -> None:
        dest = self.kubespray(version)
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(shared_tree(version), dest)
        path = next(p for p in (dest / "roles/kubespray_defaults/vars/main/checksums.yml",
                                dest / "roles/kubespray-defaults/defaults/main/checksums.yml") if p.is_file())
        path.chmod(0o644)
        text = path.read_text()
        for old, new in self.checksum_map.items():
            text = text.replace(old, new)
            text = text.replace(f": {old.split(':', 1)[1]}\n", f": {new.split(':', 1)[1]}\n")  # 2.27: bare hex
        path.write_text(text)
        for p in dest.rglob("*"):
            p.chmod(0o755 if p.is_dir() else 0o644)

    def extra_file(self, name: str, size: int) -> tuple[str, str]:
        """Serve a generated file at https://example.org/<name>; returns (url, sha256)."""
        data = random.Random(name).randbytes(size)
        dest = self.files_root / "example.org" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return f"https://example.org/{name}", hashlib.sha256(data).hexdigest()

    def push_images(self, registry: DockerRegistry) -> None:
        skopeo = need("skopeo")
        for ref, (kind, arches) in sorted(self.images.items()):
            name, tag = ref.rsplit(":", 1)
            src = build_image(self.root / "images" / hashlib.sha256(ref.encode()).hexdigest()[:16], kind,
                              seed=ref, tag=tag, arches=arches)
            subprocess.run([skopeo, "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
                            src, f"docker://{registry.host}/{name}:{tag}"], check=True, capture_output=True)

    # -- use ------------------------------------------------------------------------------

    def mirrors(self, registry_url: str | None = None, files_url: str | None = None) -> dict[str, str]:
        assert self.registry and self.nginx, "start() the world first"
        reg = registry_url or self.registry.url
        files = files_url or self.nginx.url
        out = {host: f"{reg}/{host}" for host in sorted({r.split('/', 1)[0] for r in self.images})}
        out.update({f"https://{h}": f"{files}/{h}" for h in sorted(self.file_hosts | {"example.org"})})
        return out

    def manifest(self, path: Path, version: str, body: str = "", *, registry_url: str | None = None,
                 files_url: str | None = None, extra_mirrors: Iterable[tuple[str, str]] = (),
                 relative_source: bool = False) -> Path:
        """Write a manifest resolving through the world. ``relative_source`` writes the Kubespray
        source relative to the manifest, so locks made from it do not depend on temp paths."""
        mirrors = {**self.mirrors(registry_url, files_url), **dict(extra_mirrors)}
        source = os.path.relpath(self.kubespray(version), path.parent) if relative_source else self.kubespray(version)
        lines = [f'kubespray: {{version: "{version}", source: "{source}"}}', body.rstrip()]
        if "repos:" not in body:
            lines.append(self.repos_yaml())
        if "python:" not in body:
            lines.append('python: {index_url: "https://pypi.fixture.example/simple/"}')
        lines.append("mirrors:")
        lines += [f'  "{k}": "{v}"' for k, v in mirrors.items()]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(line for line in lines if line) + "\n")
        return path

    def start(self) -> "World":
        self.registry = DockerRegistry(self.root / "reg-plain", self.storage).__enter__()
        self.nginx = Nginx(self.root / "nginx", self.files_root).__enter__()
        self.push_images(self.registry)
        return self

    def stop(self) -> None:
        for server in (self.nginx, self.registry):
            if server:
                server.__exit__(None, None, None)


DEFAULT_CASES = (
    Case("2.27.1", "os: [rocky-10]\narch: [amd64, arm64]\n"),
    Case("2.32.0", "os: [rocky-10]\narch: [amd64, arm64]\n"),
    Case("2.29.1", "os: [rocky-10]\n"),
    Case("2.30.0", "os: [rocky-10]\narch: [amd64, arm64]\n"),
    Case("2.30.0", "arch: [arm64]\nnetwork_plugin: flannel\naddons: [helm, metrics_server]\n"),
    Case("2.30.0", "arch: [amd64, arm64]\nnetwork_plugin: cilium\naddons: [argocd, gvisor]\n"),
)
