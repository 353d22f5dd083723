"""What HTTPS costs `airlock serve`: parallel downloads of big files over plain HTTP and over TLS,
against nginx serving the same site over TLS with the configuration `airlock apply` writes
(DIR/admin/nginx/airlock.conf), in the same run.

    python3 benchmarks/serve_tls.py [--mib 256] [--parallel 4] [--rounds 3]

Over TLS asyncio cannot use sendfile(2) and copies every byte through user space to encrypt it;
nginx encrypts in its worker too (no kTLS here). Clients: curl trusting only the site CA
(`--cacert DIR/node/ca.crt`), all on 127.0.0.1, sharing the cores with the servers. The best round
counts. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airlock.apply.nginx import nginx_conf  # noqa: E402
from airlock.apply.tls import NODE_CA, server_files, site_tls, write_tls  # noqa: E402
from tests.world.servers import free_port, need  # noqa: E402

MiB = 1 << 20


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("a server did not come up")
        time.sleep(0.05)


def downloads(urls: list[str], ca: Path) -> float:
    t0 = time.perf_counter()
    procs = [subprocess.Popen(["curl", "-sSf", "--cacert", str(ca), "-o", "/dev/null", u]) for u in urls]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit("a download failed")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256, help="size of each file")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="airlock-serve-tls-"))
    os.chmod(root, 0o755)  # nginx's workers run as an unprivileged user, as they would on the admin host
    site = root / "site"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        rnd = random.Random(1)
        (site / "files/bench").mkdir(parents=True)
        for i in range(args.parallel):
            with (site / f"files/bench/f{i}.bin").open("wb") as f:
                for _ in range(args.mib):
                    f.write(rnd.randbytes(MiB))
        (site / ".airlock").mkdir()
        (site / ".airlock/state.json").write_text('{"applied": [], "current": null}\n')
        made = site_tls(site, ["127.0.0.1"])
        write_tls(site, made)
        (site / NODE_CA).parent.mkdir(parents=True, exist_ok=True)
        (site / NODE_CA).write_bytes(made.ca_cert)
        cert, key = server_files(site)
        plain, tls, ngx = free_port(), free_port(), free_port()
        airlock = [sys.executable, "-m", "airlock", "serve", str(site)]
        procs.append(subprocess.Popen([*airlock, "--listen", f"127.0.0.1:{plain}"], stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([*airlock, "--listen", f"127.0.0.1:{tls}", "--tls-cert", str(cert),
                                       "--tls-key", str(key)], stderr=subprocess.DEVNULL))
        work = root / "nginx"
        (work / "tmp").mkdir(parents=True)
        (work / "airlock.conf").write_bytes(nginx_conf(site, f"https://127.0.0.1:{ngx}", (cert, key)))
        (work / "nginx.conf").write_text(
            f"worker_processes 1;\npid {work}/nginx.pid;\nerror_log {work}/error.log warn;\n"
            "events { worker_connections 256; }\n"
            f"http {{ access_log off; client_body_temp_path {work}/tmp; sendfile on;\n"
            f"  include {work}/airlock.conf; }}\n")
        procs.append(subprocess.Popen([need("nginx"), "-p", str(work), "-c", str(work / "nginx.conf"),
                                       "-g", "daemon off;"], stderr=subprocess.DEVNULL))
        for port, proc in zip((plain, tls, ngx), procs):
            wait_port(port, proc)
        total = args.parallel * args.mib
        ca = site / NODE_CA
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, base in (("airlock serve, http", f"http://127.0.0.1:{plain}"),
                               ("airlock serve, https", f"https://127.0.0.1:{tls}"),
                               ("nginx (apply's airlock.conf), https", f"https://127.0.0.1:{ngx}")):
                took = downloads([f"{base}/files/bench/f{i}.bin" for i in range(args.parallel)], ca)
                best[name] = min(best.get(name, took), took)
        print(f"{args.parallel} parallel downloads of {args.mib} MiB, best of {args.rounds}; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
        for name, took in best.items():
            print(f"  {name:<38} {took:6.2f} s  {total / took:7.0f} MiB/s")
        https, peer = best["airlock serve, https"], best["nginx (apply's airlock.conf), https"]
        print(f"airlock https / airlock http throughput: {best['airlock serve, http'] / https:.2f}; "
              f"airlock https / nginx https: {peer / https:.2f}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
