"""Wall time of `airlock resolve` against the test world, and the shell-script way in the same go.

    python3 benchmarks/resolve_bench.py [--runs 3]

Case: Kubespray 2.30.0, amd64+arm64, addons that bring it to ~20 images and ~20 files.
Peer: what contrib/offline-style scripts do per artifact, sequentially: `skopeo inspect --raw` of
each tag and of each platform manifest, and `curl -I` of each file (no pinning, no checks).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.world.world import Case, World  # noqa: E402

BODY = "arch: [amd64, arm64]\nos: [rocky-10]\naddons: [helm, metrics_server, cert_manager, metallb, local_path_provisioner]\n"


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="airlock-bench-"))
    world = World(root, [Case("2.30.0", BODY)]).build().start()
    try:
        manifest = world.manifest(root / "m" / "airlock.yaml", "2.30.0", BODY)
        lock = manifest.parent / "airlock.lock"
        cmd = [sys.executable, "-m", "airlock", "resolve", "-f", str(manifest)]
        cold = []
        for _ in range(args.runs):
            lock.unlink(missing_ok=True)
            cold.append(timed(cmd))
        warm = [timed(cmd) for _ in range(args.runs)]
        data = json.loads(subprocess.run([*cmd, "--json"], capture_output=True, text=True, check=True).stdout)
        plan = json.loads(subprocess.run([sys.executable, "-m", "airlock", "plan", "-f", str(manifest), "--json"],
                                         capture_output=True, text=True, check=True).stdout)
        t0 = time.perf_counter()
        for img in plan["images"]:
            name, tag = img["ref"].rsplit(":", 1)
            raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                  f"docker://{world.registry.host}/{name}:{tag}"],
                                 capture_output=True, check=True).stdout
            doc = json.loads(raw)
            for m in doc.get("manifests", []):
                if (m.get("platform") or {}).get("architecture") in img["arch"]:
                    subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false",
                                    f"docker://{world.registry.host}/{name}@{m['digest']}"],
                                   capture_output=True, check=True)
        for f in plan["files"]:
            subprocess.run(["curl", "-sfI", f"{world.nginx.url}/{f['path']}"], capture_output=True, check=True)
        peer = time.perf_counter() - t0
        print(f"artifacts: {data['images']} images, {data['files']} files "
              f"(cpus={os.cpu_count()}, concurrency 8)")
        print(f"airlock resolve, cold (nothing pinned): median {statistics.median(cold):.3f} s  "
              f"(runs: {', '.join(f'{c:.3f}' for c in cold)})")
        print(f"airlock resolve, warm (all pins kept):  median {statistics.median(warm):.3f} s")
        print(f"peer (skopeo inspect + curl -I, sequential): {peer:.3f} s  "
              f"ratio peer/airlock-cold = {peer / statistics.median(cold):.1f}x")
    finally:
        world.stop()


if __name__ == "__main__":
    main()
