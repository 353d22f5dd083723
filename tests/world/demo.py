"""The offline demo: the whole airlock flow on loopback against the test world.

    python3 -m tests.world.demo [--keep]

Starts a real docker-registry and nginx on 127.0.0.1 holding generated images and files for a
Kubespray 2.30.0 fixture (the simulated upstream), then runs plan, resolve (through mirrors),
resolve --check, fetch, verify, inspect, apply and serve, and finally pulls an image with skopeo and
downloads a file from the served site, checking both against the lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.helpers import wait_http
from tests.world.servers import free_port
from tests.world.world import DEFAULT_CASES, World

BODY = "os: [rocky-10]\narch: [amd64, arm64]\n"


def main() -> int:
    keep = "--keep" in sys.argv
    root = Path(tempfile.mkdtemp(prefix="airlock-demo-"))
    world = World(root, list(DEFAULT_CASES)).build()
    print(f"test world in {root}: starting docker-registry and nginx on 127.0.0.1 ...", flush=True)
    world.start()
    try:
        manifest = world.manifest(root / "demo" / "airlock.yaml", "2.30.0", BODY)
        print(f"\n$ cat {manifest}\n{manifest.read_text()}", flush=True)
        lock = manifest.parent / "airlock.lock"
        bundle = root / "bundle.tar"
        site = root / "site"
        port = free_port()
        steps = [["plan", "-f", str(manifest)], ["resolve", "-f", str(manifest)],
                 ["resolve", "--check", "-f", str(manifest)],
                 ["fetch", "--lock", str(lock), "-o", str(bundle)], ["verify", str(bundle)],
                 ["inspect", str(bundle)],
                 ["apply", str(bundle), "--dest", str(site), "--url", f"http://127.0.0.1:{port}"]]
        for args in steps:
            if run(args, root) != 0:
                return 1
        print(f"\n$ airlock serve {site} --listen 127.0.0.1:{port} &", flush=True)
        server = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(site), "--listen",
                                   f"127.0.0.1:{port}"], stderr=(root / "serve.log").open("w"))
        try:
            wait_http(f"http://127.0.0.1:{port}/v2/", server)
            return _use_the_site(site, port, lock)
        finally:
            server.terminate()
            server.wait(10)
    finally:
        world.stop()
        if not keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


def run(args: list[str], root: Path) -> int:
    print(f"\n$ airlock {' '.join(args)}", flush=True)
    return subprocess.run([sys.executable, "-m", "airlock", *args],
                          env={**os.environ, "AIRLOCK_CACHE": str(root / "cache")},
                          stderr=subprocess.DEVNULL if args[0] == "fetch" else None).returncode


def _use_the_site(site: Path, port: int, lock_path: Path) -> int:
    """What a node does: pull an image with a real client, download a file, check both."""
    import hashlib
    import urllib.request

    from airlock.lockfile import read_lock

    lock = read_lock(lock_path)
    image = next(i for i in lock.image if i.name == "kube-apiserver")
    ref = f"127.0.0.1:{port}/{image.ref}"
    print(f"\n$ skopeo inspect --raw --tls-verify=false docker://{ref} | sha256sum", flush=True)
    raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
                         capture_output=True, check=True).stdout
    got = "sha256:" + hashlib.sha256(raw).hexdigest()
    print(f"{got}  (lock target_digest {image.target_digest}: {'OK' if got == image.target_digest else 'MISMATCH'})")
    kubelet = next(f for f in lock.file if f.name == "kubelet")
    url = f"http://127.0.0.1:{port}/files/{kubelet.path}"
    print(f"\n$ curl -s {url} | sha256sum", flush=True)
    data = urllib.request.urlopen(url).read()
    ok_file = hashlib.sha256(data).hexdigest() == kubelet.sha256
    print(f"{hashlib.sha256(data).hexdigest()}  ({'OK' if ok_file else 'MISMATCH'} against the lock)")
    offline = site / "inventory/group_vars/all/offline.yml"
    print(f"\n$ cat {offline}\n{offline.read_text()}")
    good = got == image.target_digest and ok_file
    print("demo: " + ("every step verified: plan, resolve, fetch, verify, apply, serve, pull, download"
                      if good else "FAILED"))
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
