"""OS package repositories in the site (pure planning; ``build_rpm_repodata`` runs createrepo_c).

    DIR/rpms/<os>/<rpm arch>/*.rpm + repodata/   (createrepo_c, deterministic)
    DIR/debs/<os>/<deb arch>/*.deb + Packages + Release   (flat repo; stanzas are the upstream ones)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from airlock.apply.offline import Site
from airlock.errors import AirlockError
from airlock.kubespray.offline import repo_vars as offline_repo_vars  # noqa: F401  (moved there)
from airlock.lockfile import Lock
from airlock.names import safe_paths, safe_rel, url_basename
from airlock.packages import rpm_arch
from airlock.resolvers.debs import decompress_bytes, raw_stanzas

RELEASE_DATE = "Thu, 01 Jan 1970 00:00:00 UTC"  # fixed: the same bundle gives the same bytes


def package_links(lock: Lock, arches: list[str]) -> dict[str, str]:
    """site path -> blob digest for every rpm and deb, per target arch (noarch/all in each)."""
    out: dict[str, str] = {}
    for arch in arches:
        ra = rpm_arch(arch)
        for r in lock.rpm:
            if r.arch in (ra, "noarch"):
                out[f"rpms/{r.os}/{ra}/{url_basename(r.url)}"] = r.digest
        for d in lock.deb:
            if d.arch in (arch, "all"):
                out[f"debs/{d.os}/{arch}/{url_basename(d.url)}"] = d.digest
    return safe_paths(dict(sorted(out.items())))


def rpm_repo_dirs(lock: Lock, arches: list[str]) -> list[str]:
    return sorted({safe_rel(f"rpms/{r.os}/{rpm_arch(a)}") for r in lock.rpm for a in arches})


def deb_indexes(lock: Lock, arches: list[str], blobs: Mapping[str, bytes]) -> dict[str, bytes]:
    # blobs: hex -> the bytes of each locked deb index (read from the bundle or the site's store)
    """debs/<os>/<arch>/{Packages,Release} built from the upstream stanzas of the locked debs."""
    out: dict[str, bytes] = {}
    for os_name in sorted({d.os for d in lock.deb}):
        for arch in arches:
            wanted = {(d.name, d.version, d.arch): url_basename(d.url) for d in lock.deb
                      if d.os == os_name and d.arch in (arch, "all")}
            stanzas: dict[tuple[str, str, str], str] = {}
            for idx in lock.deb_index:
                if idx.os != os_name or idx.arch != arch:
                    continue
                for _name, block in raw_stanzas(decompress_bytes(blobs[idx.sha256])):
                    fields = dict(line.split(":", 1) for line in block.splitlines() if line and line[0] != " "
                                  and ":" in line)
                    key = (fields.get("Package", "").strip(), fields.get("Version", "").strip(),
                           fields.get("Architecture", "").strip())
                    if key in wanted and key not in stanzas:
                        lines = [f"Filename: {wanted[key]}" if ln.startswith("Filename:") else ln
                                 for ln in block.splitlines()]
                        stanzas[key] = "\n".join(lines)
            missing = sorted(set(wanted) - set(stanzas))
            if missing:
                raise AirlockError(f"deb {missing[0][0]} {missing[0][1]} ({os_name}) is in no Packages index of "
                                   "the bundle", hint="re-resolve and re-fetch")
            packages = ("\n\n".join(stanzas[k] for k in sorted(stanzas)) + "\n").encode()
            release = (f"Origin: airlock\nLabel: airlock {os_name}\nArchitectures: {arch}\nDate: {RELEASE_DATE}\n"
                       f"SHA256:\n {hashlib.sha256(packages).hexdigest()} {len(packages)} Packages\n").encode()
            out[f"debs/{os_name}/{arch}/Packages"] = packages
            out[f"debs/{os_name}/{arch}/Release"] = release
    return safe_paths(out)


RPM_KEY_DIR = "/etc/pki/rpm-gpg"


def rpm_key_name(os_name: str, repo: str) -> str:
    """The file name of a repository's locked signing key in node/keys/ and in /etc/pki/rpm-gpg/ on nodes."""
    return f"RPM-GPG-KEY-airlock-{os_name}-{repo}"


def key_links(lock: Lock) -> dict[str, str]:
    """node/keys/<key> -> blob digest: the locked signing key of every rpm repository, for nodes' dnf."""
    rpm_oses = {r.os for r in lock.rpm}
    return safe_paths({f"node/keys/{rpm_key_name(k.os, k.repo)}": k.digest
                       for k in sorted(lock.repo_key, key=lambda k: (k.os, k.repo)) if k.os in rpm_oses})


def node_repo_files(lock: Lock, site: Site) -> dict[str, bytes]:
    from airlock.apply.signing import NODE_APT_KEYRING  # lazy: apply.signing loads cryptography; fetch uses this module

    base = site.files_repo.rsplit("/files", 1)[0]
    out: dict[str, bytes] = {}
    # A TLS site with its own CA: dnf and apt are told the CA file setup.sh installs (not left to the trust store)
    tls = f"sslverify=1\nsslcacert={site.ca}\n" if site.ca and base.startswith("https://") else ""
    for os_name in sorted({r.os for r in lock.rpm}):
        keyed = {k.repo for k in lock.repo_key if k.os == os_name}
        unsigned = sorted({r.repo for r in lock.rpm if r.os == os_name} - keyed)
        if unsigned:  # gpgcheck: false in airlock.yaml for these: dnf cannot check any package of the site
            check = (f"# repositories taken unsigned (gpgcheck: false in airlock.yaml): {', '.join(unsigned)}\n"
                     "gpgcheck=0\n")
        else:
            check = "gpgcheck=1\ngpgkey=" + " ".join(f"file://{RPM_KEY_DIR}/{rpm_key_name(os_name, r)}"
                                                     for r in sorted(keyed)) + "\n"
        out[f"node/yum.repos.d/airlock-{os_name}.repo"] = (
            f"# Generated by airlock apply: the only repository nodes of {os_name} need. Packages are checked\n"
            f"# with the distribution's keys (node/keys/, installed in {RPM_KEY_DIR} by setup.sh or site.yml).\n"
            f"[airlock-{os_name}]\nname=airlock site ({os_name})\nbaseurl={base}/rpms/{os_name}/$basearch/\n"
            f"enabled=1\n{check}repo_gpgcheck=0\nmodule_hotfixes=1\n{tls}").encode()
    for os_name in sorted({d.os for d in lock.deb}):
        out[f"node/apt/airlock-{os_name}.list"] = (
            f"# Generated by airlock apply: the only repository nodes of {os_name} need, signed by the site's key.\n"
            f"deb [signed-by={NODE_APT_KEYRING}] {base}/debs/{os_name}/$(ARCH) ./\n").encode()
    if lock.deb and tls:
        host = urlsplit(base).hostname or ""
        out["node/apt/apt.conf.d/90airlock-ca"] = (
            "// Generated by airlock apply: apt trusts the site's https through its CA (installed by setup.sh).\n"
            f'Acquire::https::{host}::CaInfo "{site.ca}";\nAcquire::https::{host}::Verify-Peer "true";\n').encode()
    return safe_paths(out)


def createrepo_binary() -> str:
    try:
        import createrepo_c  # lazy: optional here (a createrepo_c binary will do), ~20 ms; RPM repodata only
    except ImportError:
        createrepo_c = None  # type: ignore[assignment]  # the module or None: the binary is the fallback
    if createrepo_c is not None:
        bundled = Path(createrepo_c.__file__).parent / "data" / "bin" / "createrepo_c"
        if bundled.is_file():
            return str(bundled)
    found = shutil.which("createrepo_c")
    if not found:
        raise AirlockError("createrepo_c is not available", hint="pip install createrepo-c")
    return found


def build_rpm_repodata(repo_dir: Path, staging: Path) -> bool:
    """Generate repodata for ``repo_dir`` deterministically; returns True when it changed."""
    for rpm in repo_dir.glob("*.rpm"):
        os.utime(rpm, (0, 0))  # createrepo_c records file mtimes
    out = staging / ("repodata-" + hashlib.sha256(str(repo_dir).encode()).hexdigest()[:12])
    out.mkdir()
    res = subprocess.run([createrepo_binary(), "--revision", "1", "--set-timestamp-to-revision", "--no-database",
                          "--general-compress-type", "gz", "--simple-md-filenames", "--outputdir", str(out),
                          str(repo_dir)], capture_output=True, text=True)
    if res.returncode != 0:
        raise AirlockError(f"createrepo_c failed for {repo_dir}: {res.stderr.strip()[-500:]}")
    new, old = out / "repodata", repo_dir / "repodata"
    if old.is_dir() and sorted(p.name for p in old.iterdir()) == sorted(p.name for p in new.iterdir()) and all(
            (old / p.name).read_bytes() == p.read_bytes() for p in new.iterdir()):
        return False
    if old.exists():
        shutil.rmtree(old)
    os.replace(new, old)
    return True


