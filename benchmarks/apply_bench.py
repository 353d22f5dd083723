"""`airlock apply --push` vs a `skopeo copy` loop, and `airlock serve` vs nginx, in one run.

    python3 benchmarks/apply_bench.py [--images 8] [--layer-mib 40] [--file-mib 128]

Push (issue 5 target: >= 2x faster): the fetch benchmark's images (shared base layer, two arches)
pushed from an applied site to a fresh loopback docker-registry, against `skopeo copy --all
--preserve-digests` of the same images from the site's OCI layout to another fresh registry.
Serve (target: >= 0.5x nginx): 8 parallel curl downloads of 8 files through `airlock serve` and
through nginx serving the same directory. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.fetch_bench import MiB, lock_for  # noqa: E402
from tests.world.servers import DockerRegistry, Nginx, free_port, need  # noqa: E402


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0


def parallel_curl(urls: list[str]) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["curl", "-sf", "-o", "/dev/null", u]) for u in urls]
    for p in procs:
        if p.wait() != 0:
            raise RuntimeError("a download failed")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--layer-mib", type=int, default=40)
    ap.add_argument("--file-mib", type=int, default=128)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="airlock-apply-bench-"))
    env = {**os.environ, "AIRLOCK_CACHE": str(root / "cache")}
    try:
        with DockerRegistry(root / "src", root / "src-storage") as src:
            subprocess.run([sys.executable, str(Path(__file__).with_name("fetch_bench.py")), "--build", str(root),
                            src.host, str(args.images), str(args.layer_mib)], check=True)
            refs = [f"bench.example/app{i}:1.0" for i in range(args.images)]
            lock = lock_for(refs, src, root, "m")
            subprocess.run([sys.executable, "-m", "airlock", "fetch", "--lock", str(lock), "-o",
                            str(root / "bundle.tar")], check=True, capture_output=True, env=env)
        site = root / "site"
        url = f"http://127.0.0.1:{free_port()}"
        first = timed([sys.executable, "-m", "airlock", "apply", str(root / "bundle.tar"), "--dest", str(site),
                       "--url", url], env)
        again = timed([sys.executable, "-m", "airlock", "apply", str(root / "bundle.tar"), "--dest", str(site),
                       "--url", url], env)
        size = (root / "bundle.tar").stat().st_size
        print(f"apply of a {size / MiB:.0f} MiB bundle: {first:.2f} s; re-apply (no-op): {again:.2f} s")
        with DockerRegistry(root / "t1", root / "t1-storage") as t1, DockerRegistry(root / "t2", root / "t2-storage") as t2:
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "airlock", "apply", str(root / "bundle.tar"), "--dest",
                                  str(site), "--url", url, "--push", t1.host, "--insecure-registry", "--json",
                                  "--concurrency", str(args.concurrency)],
                                 check=True, capture_output=True, text=True, env=env).stdout
            push = time.perf_counter() - t0
            import json

            info = json.loads(out)
            push_only = info["push_seconds"]
            t0 = time.perf_counter()
            for ref in refs:
                subprocess.run([need("skopeo"), "copy", "--quiet", "--all", "--preserve-digests",
                                "--dest-tls-verify=false", f"oci:{site / 'oci'}:{ref}",
                                f"docker://{t2.host}/{ref}"], check=True, capture_output=True)
            skopeo = time.perf_counter() - t0
        print(f"push {args.images} images ({size / MiB:.0f} MiB): airlock apply --push {push:.2f} s in all, "
              f"of which pushing {push_only:.2f} s ({info['pushed']}); skopeo copy loop {skopeo:.2f} s "
              f"-> {skopeo / push_only:.1f}x (push only), {skopeo / push:.1f}x (with the verifying apply)")
        files = site / "files" / "bench"
        files.mkdir(parents=True, exist_ok=True)
        for i in range(8):
            (files / f"f{i}.bin").write_bytes(random.Random(i).randbytes(args.file_mib * MiB))
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "airlock", "serve", str(site), "--listen",
                                   f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            total = 8 * args.file_mib * MiB
            parallel_curl([f"http://127.0.0.1:{port}/files/bench/f{i}.bin" for i in range(8)])  # warm-up
            ours = min(parallel_curl([f"http://127.0.0.1:{port}/files/bench/f{i}.bin" for i in range(8)])
                       for _ in range(3))
        finally:
            server.terminate()
            server.wait()
        with Nginx(root / "nginx", site) as nginx:
            parallel_curl([f"{nginx.url}/files/bench/f{i}.bin" for i in range(8)])
            theirs = min(parallel_curl([f"{nginx.url}/files/bench/f{i}.bin" for i in range(8)]) for _ in range(3))
        print(f"serve, 8 parallel downloads of {args.file_mib} MiB: airlock {total / ours / MiB:.0f} MiB/s, "
              f"nginx {total / theirs / MiB:.0f} MiB/s -> {theirs / ours:.2f}x nginx")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
