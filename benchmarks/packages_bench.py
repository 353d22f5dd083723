"""RPM closure of kubespray-offline's rhel/10 package list on a fixture repo of EL10's shape.

    python3 benchmarks/packages_bench.py [--packages 6000]

The fixture is metadata only (primary/filelists/repomd, as createrepo_c writes them), with
about EL10 BaseOS+AppStream's size: N packages in x86_64 and noarch, each requiring 2-8 others by
name, soname-style provides or file paths, a few versions of some packages, and every name of the
list present. airlock's resolver (libsolv) runs against it through a loopback nginx; the peer is
dnf resolving the same set against the same repo (`dnf install --assumeno`). Figures printed only.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airlock.manifest.model import RepoSpec  # noqa: E402
from airlock.net.http import Net  # noqa: E402
from airlock.resolvers.rpms import RpmRequest, resolve_rpms  # noqa: E402
from tests.world.servers import Nginx  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "kubespray-offline" / "pkglist" / "rhel"


def wanted() -> list[str]:
    out = []
    for f in (SHARED / "pkgs.txt", SHARED / "10" / "pkgs.txt"):
        for line in f.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(line)
    return sorted(set(out))


def build(repo: Path, n: int, names: list[str]) -> None:
    rng = random.Random(10)
    pkgs = [f"pkg{i:05d}" for i in range(n)]
    pkgs[: len(names)] = names
    primary, files = [], []
    for i, name in enumerate(pkgs):
        arch = "noarch" if i % 4 == 0 else "x86_64"
        versions = ["1.0", "1.1"] if i % 10 == 0 else ["1.0"]
        deps = rng.sample(pkgs[i + 1:], min(len(pkgs) - i - 1, rng.randint(2, 8))) if i < n - 1 else []
        for v in versions:
            checksum = hashlib.sha256(f"{name}-{v}".encode()).hexdigest()
            req = "".join(f'<rpm:entry name="{escape(d)}"/>' if j % 3 else f'<rpm:entry name="lib{d}.so.1()(64bit)"/>'
                          for j, d in enumerate(deps))
            prov = f'<rpm:entry name="{escape(name)}" flags="EQ" epoch="0" ver="{v}" rel="1"/>' \
                   f'<rpm:entry name="lib{escape(name)}.so.1()(64bit)"/>'
            primary.append(
                f'<package type="rpm"><name>{escape(name)}</name><arch>{arch}</arch>'
                f'<version epoch="0" ver="{v}" rel="1"/><checksum type="sha256" pkgid="YES">{checksum}</checksum>'
                f'<size package="{1000 + i}" installed="2000" archive="2000"/>'
                f'<location href="Packages/{escape(name)}-{v}-1.{arch}.rpm"/><format>'
                f'<rpm:provides>{prov}</rpm:provides><rpm:requires>{req}</rpm:requires>'
                f'<file>/usr/bin/{escape(name)}</file></format></package>')
            files.append(f'<package pkgid="{checksum}" name="{escape(name)}" arch="{arch}">'
                         f'<version epoch="0" ver="{v}" rel="1"/><file>/usr/bin/{escape(name)}</file>'
                         f'<file>/usr/share/{escape(name)}/data</file></package>')
    count = len(primary)
    docs = {
        "primary": f'<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common" '
                   f'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{count}">{"".join(primary)}</metadata>',
        "filelists": f'<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="http://linux.duke.edu/metadata/'
                     f'filelists" packages="{count}">{"".join(files)}</filelists>',
    }
    (repo / "repodata").mkdir(parents=True)
    data = []
    for kind, text in docs.items():
        raw = text.encode()
        gz = gzip.compress(raw, mtime=0)
        (repo / "repodata" / f"{kind}.xml.gz").write_bytes(gz)
        data.append(f'<data type="{kind}"><checksum type="sha256">{hashlib.sha256(gz).hexdigest()}</checksum>'
                    f'<open-checksum type="sha256">{hashlib.sha256(raw).hexdigest()}</open-checksum>'
                    f'<location href="repodata/{kind}.xml.gz"/><timestamp>1</timestamp><size>{len(gz)}</size>'
                    f'<open-size>{len(raw)}</open-size></data>')
    (repo / "repodata" / "repomd.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" '
        f'xmlns:rpm="http://linux.duke.edu/metadata/rpm"><revision>1</revision>{"".join(data)}</repomd>\n')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=6000)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="airlock-pkg-bench-"))
    try:
        names = wanted()
        build(root / "repo", args.packages, names)
        with Nginx(root / "nginx", root) as ng:
            spec = RepoSpec(name="el10", url="https://el10.fixture.example/repo/")
            mirrors = {"https://el10.fixture.example": ng.url}
            import os

            os.environ["AIRLOCK_CACHE"] = str(root / "cache")
            t0 = time.perf_counter()
            pins = resolve_rpms(Net(), mirrors, RpmRequest("rocky-10", "x86_64", tuple(names), (spec,)))
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            resolve_rpms(Net(), mirrors, RpmRequest("rocky-10", "x86_64", tuple(names), (spec,)))
            warm = time.perf_counter() - t0
            (root / "repos").mkdir()
            (root / "repos" / "f.repo").write_text(f"[f]\nname=f\nbaseurl={ng.url}/repo/\ngpgcheck=0\n")
            t0 = time.perf_counter()
            out = subprocess.run(["dnf", f"--installroot={root / 'dnfroot'}", f"--setopt=reposdir={root / 'repos'}",
                                  f"--setopt=cachedir={root / 'dnfcache'}", "--releasever=10", "--forcearch=x86_64",
                                  "--setopt=install_weak_deps=False", "install", "--assumeno", *names],
                                 capture_output=True, text=True)
            dnf = time.perf_counter() - t0
            dnf_count = next((int(ln.split()[1]) for ln in out.stdout.splitlines() if ln.startswith("Install ")
                              and ln.split()[1].isdigit()), -1)
        print(f"fixture: {args.packages} packages (+10% second versions); list: {len(names)} names "
              "(kubespray-offline rhel/pkgs.txt + rhel/10/pkgs.txt)")
        print(f"airlock closure: {len(pins)} packages, resolve {cold:.2f} s with metadata download, "
              f"{warm:.2f} s from the metadata cache")
        print(f"dnf install --assumeno: {dnf_count} packages in {dnf:.2f} s -> airlock is {dnf / cold:.1f}x "
              f"(cold) / {dnf / warm:.1f}x (warm) dnf's speed")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
