"""Acceptance: a bare Debian 12 admin host, no network, gets airlock, the site and Kubespray's Ansible from
bundle.tar alone.

Inputs are real: a minbase Debian 12 rootfs (mmdebstrap, with python3 and nothing else: no pip, no
ensurepip, no venv), the test world's bundle with airlock's wheels and Kubespray's (ansible, ansible-core,
cryptography ...) resolved from PyPI for the rootfs's Python 3.11. Building them uses PyPI and Debian's
mirrors once; the rootfs tar and the blob cache are kept in $AIRLOCK_TEST_CACHE (default
~/.cache/airlock-tests) so later runs only resolve. Everything after that runs in `unshare --net`
(loopback only) + chroot. Marked ``acceptance`` (not ``network``): it runs in CI (a few minutes cold).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from airlock.lockfile import read_lock
from tests.helpers import airlock as run_airlock
from tests.world.world import World

pytestmark = [pytest.mark.integration, pytest.mark.acceptance]

CACHE = Path(os.environ.get("AIRLOCK_TEST_CACHE", Path.home() / ".cache" / "airlock-tests"))


def _airlock(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    # the real internet: the default back-off, not the 10 ms tests of local servers use
    return run_airlock(*args, cache=cache, timeout=1800,
                       env={"SOURCE_DATE_EPOCH": "315532800", "AIRLOCK_BACKOFF": os.environ.get("AIRLOCK_BACKOFF", "0.5")})


def debian_rootfs() -> Path:
    """A minbase Debian 12 with python3, as a tar, made once (temp name + rename)."""
    out = CACHE / "debian-12-minbase-python3.tar"
    if out.is_file():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    # mmdebstrap picks its output format from the name's extension: the temp name must end in .tar
    tmp = out.with_name(f".tmp-{os.getpid()}-{out.name}")
    subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", "--include=python3", "bookworm", str(tmp)],
                   check=True, timeout=1800)
    tmp.rename(out)
    return out


@pytest.fixture
def root(tmp_path: Path) -> Path:
    if os.geteuid() != 0:
        pytest.skip("needs root (chroot, unshare --net)")
    for tool in ("mmdebstrap", "unshare", "chroot", "ip"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing (bash tests/install-tools.sh installs it)")
    rootfs = tmp_path / "root"
    rootfs.mkdir()
    subprocess.run(["tar", "-xf", str(debian_rootfs()), "-C", str(rootfs)], check=True)
    return rootfs


INSIDE = r"""
set -eu
cd /srv
echo "== routes"; cat /proc/net/route; cat /proc/net/ipv6_route
python3 - <<'PY'
import socket
for addr in (("1.1.1.1", 53), ("151.101.0.223", 443)):
    try:
        socket.create_connection(addr, timeout=3)
    except OSError as exc:
        print("no route out:", addr[0], exc.errno)
    else:
        raise SystemExit(f"reached {addr[0]}: the namespace has a route out")
PY
if python3 -m pip --version 2>/dev/null; then echo "pip is preinstalled" >&2; exit 9; fi
if python3 -c "import ensurepip" 2>/dev/null; then echo "ensurepip is preinstalled" >&2; exit 9; fi
t0=$(date +%s.%N)
lap() { t1=$(date +%s.%N); echo "== took $1: $(python3 -c "print(round($t1 - $t0, 1))") s"; t0=$t1; }
tar -xf bundle.tar bootstrap/; lap "tar -xf bundle.tar bootstrap/"
sh bootstrap/install.sh --prefix /opt/airlock; lap "install.sh"
sh bootstrap/install.sh --prefix /opt/airlock; lap "install.sh again"
/opt/airlock/bin/airlock --version
/opt/airlock/bin/airlock apply bundle.tar --dest /srv/site --url http://127.0.0.1:8080; lap "airlock apply"
/srv/site/venv/bin/ansible-playbook --version
du -sh bundle.tar bootstrap /opt/airlock /srv/site/venv
/opt/airlock/bin/airlock serve /srv/site --listen 127.0.0.1:8080 &
server=$!
python3 - "$FILE_PATH" "$FILE_SHA" <<'PY'
import hashlib, sys, time, urllib.request
for _ in range(100):
    try:
        body = urllib.request.urlopen("http://127.0.0.1:8080/files/" + sys.argv[1], timeout=5).read()
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("airlock serve did not answer")
assert hashlib.sha256(body).hexdigest() == sys.argv[2], "served file does not match the lock"
print("served", sys.argv[1], len(body), "bytes")
PY
kill "$server"
# HTTPS: apply makes the site CA and server certificate with the bundled cryptography; serve uses them
/opt/airlock/bin/airlock apply bundle.tar --dest /srv/tls --url https://127.0.0.1:8443 --tls-generate localhost \
    --no-venv >/dev/null
/opt/airlock/bin/airlock serve /srv/tls --listen 127.0.0.1:8443 --tls-cert /srv/tls/admin/tls/server.crt \
    --tls-key /srv/tls/admin/tls/server.key &
server=$!
python3 - "$FILE_PATH" "$FILE_SHA" <<'PY'
import hashlib, ssl, sys, time, urllib.request
ctx = ssl.create_default_context(cafile="/srv/tls/node/ca.crt")  # the site CA only
for _ in range(100):
    try:
        body = urllib.request.urlopen("https://127.0.0.1:8443/files/" + sys.argv[1], timeout=5, context=ctx).read()
        break
    except OSError:
        time.sleep(0.2)
else:
    raise SystemExit("airlock serve --tls-cert did not answer")
assert hashlib.sha256(body).hexdigest() == sys.argv[2], "served file does not match the lock"
print("served over https", sys.argv[1])
PY
kill "$server"
"""


def test_bare_debian_admin_host_offline(world: World, root: Path, tmp_path: Path) -> None:
    manifest = world.manifest(tmp_path / "airlock.yaml", "2.30.0",
                              "arch: [amd64]\nos: [debian-12]\nadmin: {}\npython: {}\n")
    cache = CACHE / "airlock-cache"
    res = _airlock("resolve", "-f", str(manifest), cache=cache)
    assert res.returncode == 0, res.stderr
    lock = read_lock(tmp_path / "airlock.lock")
    assert lock.bootstrap is not None and lock.bootstrap.platform == "cp311-x86_64"
    assert {"ansible-core", "pip", "pydantic-core"} <= {w.name for w in [*lock.wheel, *lock.bootstrap_wheel]}
    bundle = root / "srv" / "bundle.tar"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    res = _airlock("fetch", "--lock", str(tmp_path / "airlock.lock"), "-o", str(bundle), cache=cache)
    assert res.returncode == 0, res.stderr
    f = lock.file[0]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "FILE_PATH": f.path, "FILE_SHA": f.sha256, "LC_ALL": "C.UTF-8"}
    outer = (f'ip link set lo up && mount -t proc proc "{root}/proc" && '
             f'chroot "{root}" /bin/sh -c "$INSIDE"; rc=$?; umount "{root}/proc"; exit $rc')
    run = subprocess.run(["unshare", "--net", "--mount", "sh", "-c", outer], check=False, capture_output=True,
                         text=True,
                         env={**env, "INSIDE": INSIDE}, timeout=1800)
    assert run.returncode == 0, f"stdout:\n{run.stdout[-4000:]}\nstderr:\n{run.stderr[-4000:]}"
    print(run.stdout)  # the step times and sizes, for the runbook (shown with pytest -s)
    routes = run.stdout.split("== routes", 1)[1]
    assert "no route out: 1.1.1.1" in routes and "no route out: 151.101.0.223" in routes
    assert f"airlock, version {lock.bootstrap.airlock}" in run.stdout
    assert "ansible-playbook [core 2." in run.stdout
    assert "already installed" in run.stderr  # the second install.sh changed nothing
    assert f"served {f.path}" in run.stdout
    assert f"served over https {f.path}" in run.stdout
    assert (root / "srv/site/venv/bin/ansible-playbook").is_file()


DEB_INSIDE = r"""
set -u
cd /srv
tar -xf bundle.tar bootstrap/
sh bootstrap/install.sh --prefix /opt/airlock
echo "install.sh exit $?"
dpkg-query -W -f '${Package} ${Version} ${Status}\n' python3.12 libpython3.12-stdlib
"""


def test_deb_admin_host_installs_the_interpreter_packages_offline(world: World, root: Path, tmp_path: Path) -> None:
    """The apt path of install.sh, in the bare Debian 12 without network: an admin Python the OS lacks
    (3.12 here) comes from bootstrap/debs (fixture packages standing in for python3.12's closure).
    The stand-in ships no interpreter, so install.sh then stops with its clear message."""
    from airlock.bootstrap.admin import admin_host
    from airlock.bootstrap.resolve import BootstrapLock, _interpreter
    from airlock.lockfile import write_lock
    from airlock.manifest.model import Manifest
    from airlock.net.http import Net
    from tests.integration.test_bootstrap import with_bootstrap
    from tests.integration.test_fetch import airlock, resolved
    from tests.world import debrepo

    repo = debrepo.build_repo(tmp_path / "debbuild", [debrepo.Deb("python3.12", depends="libpython3.12-stdlib"),
                                                      debrepo.Deb("libpython3.12-stdlib"), debrepo.Deb("unrelated")])
    served = world.files_root / "deb.fixture.example" / f"boot-{tmp_path.name}"
    shutil.copytree(repo, served)
    manifest = Manifest.model_validate({
        "kubespray": {"version": "2.30.0"}, "os": ["debian-12"], "admin": {"python": "3.12"},
        "repos": {"debian-12": [{"name": "fixture", "url": f"https://deb.fixture.example/{served.name}",
                                 "suite": "stable", "components": ["main"], "gpgcheck": False}]},
        "mirrors": world.mirrors()})
    host = admin_host(manifest)
    assert host.interpreter_packages == ["python3.12"]
    found = BootstrapLock(pin=None)  # type: ignore[arg-type]  # the pin is filled in by the call under test
    net = Net()
    try:
        _interpreter(manifest, host, net, found)
    finally:
        net.close()
    assert sorted(d.name for d in found.deb) == ["libpython3.12-stdlib", "python3.12"]
    lock_path = with_bootstrap(resolved(world, tmp_path, "arch: [amd64]\n"))
    lock = read_lock(lock_path)
    assert lock.bootstrap is not None
    write_lock(lock.model_copy(update={
        "bootstrap": lock.bootstrap.model_copy(update={"python": "3.12", "platform": "cp312-x86_64",
                                                       "interpreter": ["python3.12"]}),
        "bootstrap_deb": found.deb, "bootstrap_deb_index": found.deb_index}), lock_path)
    bundle = root / "srv" / "bundle.tar"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    res = airlock("fetch", "--lock", str(lock_path), "-o", str(bundle), cache=tmp_path / "c")
    assert res.returncode == 0, res.stderr
    outer = (f'ip link set lo up && mount -t proc proc "{root}/proc" && '
             f'chroot "{root}" /bin/sh -c "$INSIDE"; rc=$?; umount "{root}/proc"; exit $rc')
    run = subprocess.run(["unshare", "--net", "--mount", "sh", "-c", outer], check=False, capture_output=True,
                         text=True, timeout=600,
                         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8", "INSIDE": DEB_INSIDE})
    out = run.stdout + run.stderr
    assert "installing python3.12 from /srv/bootstrap/debs" in out, out[-3000:]
    assert "python3.12 1.0 install ok installed" in run.stdout, out[-3000:]
    assert "libpython3.12-stdlib 1.0 install ok installed" in run.stdout, out[-3000:]
    assert "install.sh exit 2" in run.stdout and "python3.12 is still missing after installing" in run.stderr
