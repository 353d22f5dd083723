"""Wall time of `airlock plan` per Kubespray release, and the same selection done by Ansible.

    python benchmarks/plan_bench.py [--runs 7]

Target (issue 2): `airlock plan` < 0.5 s wall for a Kubespray release on this machine.
The peer is Kubespray's own evaluation in ansible-core (tests/oracle/playbook.yml: the download
loop and system_packages), the only other way to get an exact artifact list; it runs when
`ansible-playbook` is on PATH or ANSIBLE_PLAYBOOK points at it. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "kubespray"
sys.path.insert(0, str(REPO / "tests" / "oracle"))


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    playbook = os.environ.get("ANSIBLE_PLAYBOOK") or shutil.which("ansible-playbook")
    print(f"{'release':8} {'cold s':>8} {'warm median s':>14} {'warm max s':>11} {'ansible s':>10} {'ratio':>7}")
    for version in ("2.29.1", "2.30.0", "2.31.0"):
        ks = SHARED / version
        if not ks.is_dir():
            print(f"{version}: skipped, {ks} not found")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "airlock.yaml"
            manifest.write_text(f'kubespray: {{version: "{version}", source: "{ks}"}}\nos: [rocky-10]\n')
            env = dict(os.environ, AIRLOCK_CACHE=str(Path(tmp) / "cache"))
            cmd = [sys.executable, "-m", "airlock", "plan", "-f", str(manifest), "--json"]
            cold = timed(cmd, env)
            warm = [timed(cmd, env) for _ in range(args.runs)]
            peer = "-"
            ratio = "-"
            if playbook:
                from oracle import run

                t0 = time.perf_counter()
                run(ks, "amd64", "rocky-10", {}, playbook)
                peer_s = time.perf_counter() - t0
                peer, ratio = f"{peer_s:.3f}", f"{peer_s / statistics.median(warm):.1f}x"
            print(f"{version:8} {cold:8.3f} {statistics.median(warm):14.3f} {max(warm):11.3f} {peer:>10} {ratio:>7}")


if __name__ == "__main__":
    main()
