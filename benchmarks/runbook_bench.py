"""The runbook's figures: time and disk space of each step on the admin host, for the test world's
demo bundle and for a ~2 GB one.

    sudo python3 benchmarks/runbook_bench.py [--gib 2] [--skip-big] [--skip-demo]

As the admin-host acceptance test does, the steps run in a bare Debian 12 (mmdebstrap minbase with
python3, cached in $AIRLOCK_TEST_CACHE) under `unshare --net` (loopback only) + chroot:
`tar -xf bundle.tar bootstrap/`, `install.sh`, `airlock apply --no-venv` (the site), `airlock apply`
(which then only adds DIR/venv), a third apply (nothing to do), `airlock serve` until it answers, the inventory copy of the runbook, and
`DIR/venv/bin/ansible-playbook --version`. Disk: the bundle, bootstrap/, the prefix, the site
without and with the venv (du, hardlinks counted once). The big bundle is the demo's manifest plus
generated images (several layers each, one base shared) from the world's loopback registry.
Building the inputs uses PyPI (airlock's and Kubespray's real wheels, cached). The machine's load
average is printed with the figures: other work on the host slows every step. Figures are printed,
never asserted.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.world.images import build_image, shared_layer  # noqa: E402
from tests.world.servers import need  # noqa: E402
from tests.world.world import DEFAULT_CASES, World  # noqa: E402

MiB = 1 << 20
CACHE = Path(os.environ.get("AIRLOCK_TEST_CACHE", Path.home() / ".cache" / "airlock-tests"))
BODY = "arch: [amd64]\nos: [debian-12]\nadmin: {}\npython: {}\n"

STEPS = r"""
set -eu
cd /srv
t0=$(date +%s.%N)
lap() { t1=$(date +%s.%N); echo "== step $1: $(python3 -c "print(round($t1 - $t0, 2))") s"; t0=$t1; }
size() { echo "== disk $1: $(du -sk "$2" | cut -f1) KiB"; }
tar -xf bundle.tar bootstrap/; lap "tar -xf bundle.tar bootstrap/"
sh bootstrap/install.sh --prefix /opt/airlock 2>/dev/null; lap "install.sh"
url=http://127.0.0.1:8080
/opt/airlock/bin/airlock apply bundle.tar --dest /srv/site --url $url --no-venv >/dev/null; lap "airlock apply --no-venv (the site)"
/opt/airlock/bin/airlock apply bundle.tar --dest /srv/site --url $url >/dev/null; lap "airlock apply (adds DIR/venv)"
/opt/airlock/bin/airlock apply bundle.tar --dest /srv/site --url $url >/dev/null; lap "airlock apply again (nothing to do)"
/opt/airlock/bin/airlock serve /srv/site --listen 127.0.0.1:8080 2>/dev/null &
server=$!
python3 - <<'PY'
import time, urllib.request
for _ in range(600):
    try:
        urllib.request.urlopen("http://127.0.0.1:8080/v2/", timeout=5)
        break
    except OSError:
        time.sleep(0.05)
else:
    raise SystemExit("airlock serve did not answer")
PY
lap "airlock serve until it answers"
kill "$server"
cd /srv/site/kubespray-*/
cp -r inventory/sample inventory/mycluster
cp /srv/site/inventory/group_vars/all/offline.yml inventory/mycluster/group_vars/all/
lap "inventory from the sample, offline.yml copied"
/srv/site/venv/bin/ansible-playbook --version >/dev/null; lap "ansible-playbook --version"
cd /srv
size "bundle.tar" bundle.tar
size "bootstrap/" bootstrap
size "/opt/airlock" /opt/airlock
echo "== disk site without venv: $(du -sk --exclude=venv /srv/site | cut -f1) KiB"
size "site venv" /srv/site/venv
"""


def airlock(*args: str, cache: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "airlock", *args], capture_output=True, text=True, timeout=3600,
                         env={**os.environ, "AIRLOCK_CACHE": str(cache), "SOURCE_DATE_EPOCH": "315532800"})
    if res.returncode:
        raise SystemExit(f"airlock {args[0]} failed:\n{res.stderr[-3000:]}")


def rootfs(into: Path) -> None:
    from tests.integration.test_admin_host_acceptance import debian_rootfs

    into.mkdir()
    subprocess.run(["tar", "-xf", str(debian_rootfs()), "-C", str(into)], check=True)


def push_big_images(world: World, root: Path, images: int, layer_mib: int) -> list[str]:
    assert world.registry is not None
    base = shared_layer("runbook-base", layer_mib * MiB, level=0)
    refs = []
    for i in range(images):
        ref = f"bench.example/big{i}"
        src = build_image(root / "img", "oci-index", seed=ref, tag="1.0", arches=("amd64",), layers=2,
                          layer_size=layer_mib * MiB, shared_layers=(base,), level=0)
        subprocess.run([need("skopeo"), "copy", "--quiet", "--all", "--preserve-digests", "--dest-tls-verify=false",
                        src, f"docker://{world.registry.host}/{ref}:1.0"], check=True, capture_output=True)
        shutil.rmtree(root / "img")
        refs.append(f"{ref}:1.0")
    return refs


def run_steps(label: str, world: World, work: Path, body: str, extra_mirrors: list[tuple[str, str]],
              cache: Path) -> None:
    work.mkdir()
    manifest = world.manifest(work / "airlock.yaml", "2.30.0", body, extra_mirrors=extra_mirrors)
    t0 = time.perf_counter()
    airlock("resolve", "-f", str(manifest), cache=cache)
    chroot = work / "root"
    rootfs(chroot)
    (chroot / "srv").mkdir(exist_ok=True)
    airlock("fetch", "--lock", str(work / "airlock.lock"), "-o", str(chroot / "srv/bundle.tar"), cache=cache)
    print(f"[{label}] inputs (resolve, fetch, rootfs): {time.perf_counter() - t0:.0f} s", flush=True)
    load = os.getloadavg()
    outer = (f'ip link set lo up && mount -t proc proc "{chroot}/proc" && '
             f'chroot "{chroot}" /bin/sh -c "$STEPS"; rc=$?; umount "{chroot}/proc"; exit $rc')
    res = subprocess.run(["unshare", "--net", "--mount", "sh", "-c", outer], capture_output=True, text=True,
                         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "STEPS": STEPS},
                         timeout=7200)
    if res.returncode:
        raise SystemExit(f"[{label}] a step failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    print(f"[{label}] load average before: {load[0]:.1f} (1 min), after: {os.getloadavg()[0]:.1f}; "
          f"{os.cpu_count()} cores")
    for line in res.stdout.splitlines():
        if m := re.match(r"== step (.+): ([\d.]+) s", line):
            print(f"[{label}] {m[1]:<48} {float(m[2]):8.2f} s")
        elif m := re.match(r"== disk (.+): (\d+) KiB", line):
            print(f"[{label}] {m[1]:<48} {int(m[2]) * 1024 / MiB:8.0f} MiB")
    shutil.rmtree(work)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=float, default=2.0, help="size of the big bundle")
    ap.add_argument("--layer-mib", type=int, default=80)
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-demo", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (chroot, unshare --net)")
    root = Path(tempfile.mkdtemp(prefix="airlock-runbook-bench-"))
    world = World(root / "world", list(DEFAULT_CASES)).build().start()
    try:
        if not args.skip_demo:
            run_steps("demo", world, root / "demo", BODY, [], CACHE / "airlock-cache")  # the acceptance test's
        if not args.skip_big:
            images = max(1, round(args.gib * 1024 / (3 * args.layer_mib)))  # 3 layers each: base + 2
            t0 = time.perf_counter()
            refs = push_big_images(world, root, images, args.layer_mib)
            print(f"[big] {images} images of 3 x {args.layer_mib} MiB pushed ({time.perf_counter() - t0:.0f} s)")
            assert world.registry is not None
            run_steps(f"{args.gib:g} GiB", world, root / "big", BODY + f"images: [{', '.join(refs)}]\n",
                      [("bench.example", f"{world.registry.url}/bench.example")],
                      root / "cache")  # not the shared test cache: 2 GiB of throwaway images
    finally:
        world.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
