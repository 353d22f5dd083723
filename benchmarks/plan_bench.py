"""Wall time of `airlock plan` per Kubespray release, and the same selection done by Ansible.

    python benchmarks/plan_bench.py [--runs 7]

Target (issues 2 and 12): `airlock plan` median < 0.5 s wall for every supported Kubespray release
(2.27.1 through master) on this machine. The peer is Kubespray's own evaluation in the ansible-core
the release pins (tests/oracle: the download loop and system_packages), the only other way to get an
exact artifact list; it runs with --ansible (venvs under $AIRLOCK_ANSIBLE_VENVS, made from PyPI on
first use) or when ANSIBLE_PLAYBOOK points at one ansible-playbook for all. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "kubespray"
sys.path.insert(0, str(REPO / "tests" / "oracle"))
RELEASE_VERSION = {"master": "2.32.0"}  # what master's galaxy.yml says


def timed(cmd: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall seconds of one run; its CPU seconds (user + sys, which other load on the machine does not
    inflate) are appended to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--ansible", action="store_true", help="also time the peer (needs PyPI once)")
    args = ap.parse_args()
    from cases import VERSIONS
    from regen import release_dir, venvs_dir

    print(f"{'release':8} {'cold s':>8} {'warm median s':>14} {'warm max s':>11} {'cpu median s':>13} "
          f"{'ansible s':>10} {'ratio':>7}")
    for name in VERSIONS:
        ks = release_dir(name, SHARED)
        version = RELEASE_VERSION.get(name, name)
        if not ks.is_dir():
            print(f"{name}: skipped, {ks} not found")
            continue
        playbook = os.environ.get("ANSIBLE_PLAYBOOK")
        if args.ansible and not playbook:
            from oracle import ansible_core_for, ansible_playbook_for

            playbook = ansible_playbook_for(ansible_core_for(ks), venvs_dir())
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "airlock.yaml"
            manifest.write_text(f'kubespray: {{version: "{version}", source: "{ks}"}}\nos: [rocky-10]\n')
            env = dict(os.environ, AIRLOCK_CACHE=str(Path(tmp) / "cache"))
            cmd = [sys.executable, "-m", "airlock", "plan", "-f", str(manifest), "--json"]
            cold = timed(cmd, env)
            cpu: list[float] = []
            warm = [timed(cmd, env, cpu) for _ in range(args.runs)]
            peer = "-"
            ratio = "-"
            if playbook:
                from oracle import run

                t0 = time.perf_counter()
                run(ks, "amd64", "rocky-10", {}, playbook)
                peer_s = time.perf_counter() - t0
                peer, ratio = f"{peer_s:.3f}", f"{peer_s / statistics.median(warm):.1f}x"
            print(f"{name:8} {cold:8.3f} {statistics.median(warm):14.3f} {max(warm):11.3f} "
                  f"{statistics.median(cpu):13.3f} {peer:>10} {ratio:>7}")


if __name__ == "__main__":
    main()
