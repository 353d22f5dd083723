"""The offline demo: the whole airlock flow on loopback against the test world.

    python3 -m tests.world.demo [--keep]

Starts a real docker-registry and nginx on 127.0.0.1 holding generated images and files for a
Kubespray 2.30.0 fixture, then runs `airlock plan`, `airlock resolve`, `airlock resolve --check`.
"""

from __future__ import annotations

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
        for args in (["plan"], ["resolve"], ["resolve", "--check"]):
            print(f"$ airlock {' '.join(args)} -f {manifest}", flush=True)
            res = subprocess.run([sys.executable, "-m", "airlock", *args, "-f", str(manifest)])
            if res.returncode != 0:
                return res.returncode
        lock = manifest.parent / "airlock.lock"
        print(f"\n$ head -40 {lock}")
        print("".join(lock.read_text().splitlines(keepends=True)[:40]))
        return 0
    finally:
        world.stop()
        if not keep:
            import shutil

            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
