"""The offline demo: the whole airlock flow on loopback against the test world.

    python3 -m tests.world.demo [--keep]

Starts a real docker-registry and nginx on 127.0.0.1 holding generated images and files for a
Kubespray 2.30.0 fixture, then runs plan, resolve, resolve --check, fetch, verify and inspect.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

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
        steps = [["plan", "-f", str(manifest)], ["resolve", "-f", str(manifest)],
                 ["resolve", "--check", "-f", str(manifest)],
                 ["fetch", "--lock", str(lock), "-o", str(bundle)], ["verify", str(bundle)],
                 ["inspect", str(bundle)]]
        for args in steps:
            print(f"\n$ airlock {' '.join(args)}", flush=True)
            res = subprocess.run([sys.executable, "-m", "airlock", *args],
                                 env={**os.environ, "AIRLOCK_CACHE": str(root / "cache")},
                                 stderr=subprocess.DEVNULL if args[0] == "fetch" else None)
            if res.returncode != 0:
                return res.returncode
        print(f"\n$ head -30 {lock}")
        print("".join(lock.read_text().splitlines(keepends=True)[:30]))
        return 0
    finally:
        world.stop()
        if not keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
