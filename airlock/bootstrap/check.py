"""What verify checks of ``bootstrap/``: every pinned file is there, under its own name, with the lock's sha256.

(The bytes were already hashed against bundle.json while reading; this ties bundle.json to the lock.)
"""

from __future__ import annotations

from airlock.bundle.model import BundleIndex
from airlock.digest import Digest
from airlock.errors import BundleError
from airlock.lockfile.model import Lock
from airlock.names import check_rel_path, url_basename

_DIRS = ("bootstrap/wheels/", "bootstrap/rpms/", "bootstrap/rpms/repodata/", "bootstrap/debs/", "bootstrap/")


def check_bootstrap(lock: Lock, index: BundleIndex, where: str) -> None:
    have = {e.path: e for e in index.entries if e.kind == "bootstrap"}
    for path in have:
        try:
            check_rel_path(path)
        except ValueError as exc:
            raise BundleError(f"{where}: bundle.json lists an unsafe bootstrap path: {exc}",
                              hint="do not use this bundle") from None
        if not any(path.startswith(d) and "/" not in path[len(d):] for d in _DIRS):
            raise BundleError(f"{where}: bundle.json lists {path!r} as bootstrap, outside bootstrap/'s folders",
                              hint="do not use this bundle")
    if lock.bootstrap is None:
        if have:
            raise BundleError(f"{where}: the bundle has bootstrap/ files but its lock pins no bootstrap",
                              hint="do not use this bundle")
        return
    wanted = [(f"bootstrap/wheels/{w.filename}", w.sha256, f"python package {w.filename}")
              for w in lock.bootstrap_wheel]
    wanted += [(f"bootstrap/rpms/{url_basename(r.url)}", r.sha256, f"rpm {r.name}") for r in lock.bootstrap_rpm]
    wanted += [(f"bootstrap/debs/{url_basename(d.url)}", d.sha256, f"deb {d.name}") for d in lock.bootstrap_deb]
    for path, sha, what in wanted + [("bootstrap/install.sh", "", "install.sh"), ("bootstrap/SHA256SUMS", "", "")]:
        entry = have.get(path)
        if entry is None:
            raise BundleError(f"{where}: the lock's bootstrap needs {path} ({what or path}), which the bundle lacks",
                              hint="re-run `airlock fetch` for this lock")
        if sha and entry.digest != Digest.from_hex(sha):
            raise BundleError(f"{where}: {path} is not the file the lock pins ({what}): bundle.json says "
                              f"{entry.digest}, the lock sha256:{sha}", hint="do not use this bundle")
