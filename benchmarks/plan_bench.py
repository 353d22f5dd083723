"""Wall time of `airlock plan` per Kubespray release, and the same selection done by Ansible.

    python benchmarks/plan_bench.py [--runs 7] [--ansible]

Target (issues 2 and 12): `airlock plan` median < 0.5 s wall for every supported Kubespray release
(2.27.1 through master) on this machine. The peer is Kubespray's own evaluation in the ansible-core
the release pins (tests/oracle: the download loop and system_packages), the only other way to get an
exact artifact list; it runs with --ansible (venvs under $AIRLOCK_ANSIBLE_VENVS, made from PyPI on
first use) or when ANSIBLE_PLAYBOOK points at one ansible-playbook for all. Figures are printed, not asserted.

Columns, per release (medians over --runs after one cold run that fills airlock's cache):
- ``warm``: `airlock plan --json` as installed, i.e. with airlock's own modules byte-compiled (pip
  compiles them at install; the run uses a private PYTHONPYCACHEPREFIX so the checkout stays clean);
- ``src``: the same command in the caller's environment unchanged; where that sets
  PYTHONDONTWRITEBYTECODE and the checkout has no __pycache__, every run compiles airlock from source;
- ``cpu``: user + sys seconds of the ``warm`` runs (other load on the machine does not inflate it);
- ``import`` / ``eval``: inside one byte-compiled process, the imports `airlock plan` makes, then
  loading the manifest + evaluating Kubespray + rendering the JSON;
- ``ansible`` and ``ratio`` (ansible / warm): the peer, with --ansible.
The load average is printed before and after (other work on the machine inflates wall times), and
the median wall time of a bare ``python -c pass`` (interpreter start-up: the floor under every run).
"""

from __future__ import annotations

import argparse
import json
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

# One process: the imports `airlock plan` makes, then its work, timed apart (printed as JSON).
_SPLIT = """
import json, sys, time
t0 = time.perf_counter()
from airlock.cli.main import cli
import airlock.cli.plan, airlock.manifest, airlock.plan
t1 = time.perf_counter()
from airlock.manifest import load_manifest
from airlock.plan import build_plan
text = json.dumps(build_plan(load_manifest(sys.argv[1])).to_json(), indent=2)
t2 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "eval": t2 - t1}))
"""


def timed(cmd: list[str], env: dict[str, str], cpu: list[float] | None = None) -> float:
    """Wall seconds of one run; its CPU seconds (user + sys) are appended to ``cpu``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu is not None:
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall


def split(manifest: Path, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", _SPLIT, str(manifest)], check=True, capture_output=True,
                         text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--ansible", action="store_true", help="also time the peer (needs PyPI once)")
    args = ap.parse_args()
    from cases import VERSIONS
    from regen import release_dir, venvs_dir

    bare = statistics.median(timed([sys.executable, "-c", "pass"], dict(os.environ)) for _ in range(args.runs))
    print(f"{load()}, {os.cpu_count()} cpus, {args.runs} runs; PYTHONDONTWRITEBYTECODE="
          f"{os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}; bare python start-up {bare:.3f} s")
    print(f"{'release':8} {'cold s':>7} {'warm s':>7} {'max s':>6} {'cpu s':>6} {'src s':>6} "
          f"{'import s':>8} {'eval s':>7} {'ansible s':>9} {'ratio':>6}")
    warm_all: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as pyc:
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
                pythonpath = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
                as_is = dict(os.environ, AIRLOCK_CACHE=str(Path(tmp) / "cache"), PYTHONPATH=pythonpath)
                installed = {k: v for k, v in as_is.items() if k != "PYTHONDONTWRITEBYTECODE"}
                installed["PYTHONPYCACHEPREFIX"] = pyc
                cmd = [sys.executable, "-m", "airlock", "plan", "-f", str(manifest), "--json"]
                cold = timed(cmd, installed)
                cpu: list[float] = []
                warm = [timed(cmd, installed, cpu) for _ in range(args.runs)]
                src = [timed(cmd, as_is) for _ in range(args.runs)]
                parts = [split(manifest, installed) for _ in range(args.runs)]
                peer = "-"
                ratio = "-"
                if playbook:
                    from oracle import run

                    t0 = time.perf_counter()
                    run(ks, "amd64", "rocky-10", {}, playbook)
                    peer_s = time.perf_counter() - t0
                    peer, ratio = f"{peer_s:.2f}", f"{peer_s / statistics.median(warm):.0f}x"
                warm_all[name] = statistics.median(warm)
                print(f"{name:8} {cold:7.3f} {statistics.median(warm):7.3f} {max(warm):6.3f} "
                      f"{statistics.median(cpu):6.3f} {statistics.median(src):6.3f} "
                      f"{statistics.median(p['import'] for p in parts):8.3f} "
                      f"{statistics.median(p['eval'] for p in parts):7.3f} {peer:>9} {ratio:>6}", flush=True)
    if warm_all:
        worst = max(warm_all, key=lambda k: warm_all[k])
        print(f"target < 0.5 s: slowest warm median {warm_all[worst]:.3f} s ({worst}); {load()}")


if __name__ == "__main__":
    main()
