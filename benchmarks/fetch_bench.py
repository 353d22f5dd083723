"""airlock fetch against a loopback registry holding ~2 GiB of images with shared layers,
and `skopeo copy` of the same images into an OCI layout, in the same run.

    python3 benchmarks/fetch_bench.py [--images 8] [--layer-mib 40]

Targets (issue 4): >= 2x skopeo's throughput; >= 80% of this machine's disk write speed;
warm re-fetch <= 5% of cold; peak RSS < 300 MB and flat as the bundle grows. Also prints the
bundle size against one gzip'd docker-archive tar per image (kubespray-offline style).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.world.images import build_image, shared_layer  # noqa: E402
from tests.world.servers import DockerRegistry, need  # noqa: E402

MiB = 1 << 20


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of a command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]  # stderr=PIPE: it is a file
    return wall, usage.ru_maxrss * 1024


def disk_write_speed(directory: Path, size: int = 1 << 30) -> float:
    target = directory / "dd.bin"
    t0 = time.perf_counter()
    subprocess.run(["dd", "if=/dev/zero", f"of={target}", "bs=1M", f"count={size // MiB}", "conv=fdatasync"],
                   check=True, capture_output=True)
    speed = size / (time.perf_counter() - t0)
    target.unlink()
    return speed


def lock_for(refs: list[str], reg: DockerRegistry, root: Path, name: str) -> Path:
    manifest = root / name / "airlock.yaml"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    ks = Path(__file__).resolve().parents[2] / "shared" / "kubespray" / "2.30.0"
    # A manifest whose Kubespray part is empty (skip_downloads), so only the benchmark images count.
    manifest.write_text(f'kubespray: {{version: "2.30.0", source: "{ks}"}}\narch: [amd64, arm64]\n'
                        f"vars: {{skip_downloads: true}}\nimages: [{', '.join(refs)}]\n"
                        f'mirrors: {{"bench.example": "{reg.url}/bench.example"}}\n')
    subprocess.run([sys.executable, "-m", "airlock", "resolve", "-f", str(manifest)], check=True, capture_output=True)
    return manifest.parent / "airlock.lock"


def build(root: Path, host: str, images: int, layer_mib: int) -> None:
    base = shared_layer("bench-base", layer_mib * MiB, level=0)  # shared by every image, like a distro base
    for i in range(images):
        ref = f"bench.example/app{i}"
        src = build_image(root / "img" / str(i), "oci-index", seed=ref, tag="1.0", layers=2,
                          layer_size=layer_mib * MiB, shared_layers=(base,), level=0)
        subprocess.run([need("skopeo"), "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
                        src, f"docker://{host}/{ref}:1.0"], check=True, capture_output=True)
        shutil.rmtree(root / "img" / str(i))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--build":
        build(Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--layer-mib", type=int, default=40)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="airlock-fetch-bench-"))
    try:
        with DockerRegistry(root / "reg", root / "storage") as reg:
            t0 = time.perf_counter()
            # Built in a child process: a fork of a big parent would inflate the children's peak RSS.
            subprocess.run([sys.executable, __file__, "--build", str(root), reg.host, str(args.images),
                            str(args.layer_mib)], check=True)
            refs = [f"bench.example/app{i}:1.0" for i in range(args.images)]
            print(f"setup: {args.images} images x 2 arches, layers of {args.layer_mib} MiB, one shared base "
                  f"({time.perf_counter() - t0:.0f} s)")
            full = lock_for(refs, reg, root, "full")
            half = lock_for(refs[: len(refs) // 2], reg, root, "half")
            env = {**os.environ, "AIRLOCK_CACHE": str(root / "cache")}
            cold, rss_full = run([sys.executable, "-m", "airlock", "fetch", "--lock", str(full), "-o",
                                  str(root / "bundle.tar")], env)
            size = (root / "bundle.tar").stat().st_size
            warm, _ = run([sys.executable, "-m", "airlock", "fetch", "--lock", str(full), "-o",
                           str(root / "bundle2.tar")], env)
            (root / "bundle2.tar").unlink()
            env_half = {**os.environ, "AIRLOCK_CACHE": str(root / "cache-half")}
            _, rss_half = run([sys.executable, "-m", "airlock", "fetch", "--lock", str(half), "-o",
                               str(root / "half.tar")], env_half)
            half_size = (root / "half.tar").stat().st_size
            for p in (root / "half.tar",):
                p.unlink()
            shutil.rmtree(root / "cache-half")
            t0 = time.perf_counter()
            for ref in refs:
                name = ref.rsplit(":", 1)[0]
                subprocess.run([need("skopeo"), "copy", "--quiet", "--all", "--src-tls-verify=false",
                                f"docker://{reg.host}/{name}:1.0", f"oci:{root / 'skopeo-layout'}:{ref}"],
                               check=True, capture_output=True)
            skopeo = time.perf_counter() - t0
            layout_bytes = sum(p.stat().st_size for p in (root / "skopeo-layout").rglob("*") if p.is_file())
            shutil.rmtree(root / "skopeo-layout")
            archives = 0
            for ref in refs:
                name = ref.rsplit(":", 1)[0]
                out = root / "archive.tar"
                subprocess.run([need("skopeo"), "copy", "--quiet", "--src-tls-verify=false",
                                f"docker://{reg.host}/{name}:1.0", f"docker-archive:{out}:{ref}"],
                               check=True, capture_output=True)
                subprocess.run(["gzip", "-1", "-f", str(out)], check=True)
                archives += (root / "archive.tar.gz").stat().st_size
                (root / "archive.tar.gz").unlink()
        disk = disk_write_speed(root)
        print(f"bundle: {size / MiB:.0f} MiB; airlock cold fetch {cold:.1f} s = {size / cold / MiB:.0f} MiB/s "
              f"(downloads into the cache and writes the bundle: {2 * size / cold / MiB:.0f} MiB/s written)")
        print(f"skopeo copy into an OCI layout ({layout_bytes / MiB:.0f} MiB): {skopeo:.1f} s = "
              f"{layout_bytes / skopeo / MiB:.0f} MiB/s; ratio airlock/skopeo throughput = "
              f"{(size / cold) / (layout_bytes / skopeo):.1f}x")
        print(f"disk write speed (dd, fdatasync): {disk / MiB:.0f} MiB/s; airlock bundle throughput = "
              f"{100 * (size / cold) / disk:.0f}% of it")
        print(f"warm re-fetch: {warm:.2f} s = {100 * warm / cold:.1f}% of cold")
        print(f"peak RSS: {rss_full / MiB:.0f} MiB for {size / MiB:.0f} MiB, "
              f"{rss_half / MiB:.0f} MiB for {half_size / MiB:.0f} MiB")
        print(f"one gzip'd docker-archive per image (amd64 only, kubespray-offline style): {archives / MiB:.0f} MiB "
              f"vs the bundle (both arches, shared layers once): {size / MiB:.0f} MiB")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
