"""airlock's own wheel, built from the running airlock so the admin host gets the same code.

Reproducible: entries sorted, stored (not deflated: compressed bytes would depend on the zlib build),
one timestamp (``SOURCE_DATE_EPOCH``, else 1980-01-01), mode 0644. Same airlock, same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import airlock
from airlock.errors import AirlockError
from airlock.targets import data_dir

DIST_NAME = "airlock-kubespray"  # the name `airlock` on PyPI is an unrelated project
_EPOCH_1980 = 315532800  # the earliest time a zip entry can carry


def airlock_version() -> str:
    return airlock.__version__


def _package_dir() -> Path:
    return Path(airlock.__file__).resolve().parent


def _pyproject() -> dict[str, Any] | None:
    path = _package_dir().parent / "pyproject.toml"
    if not path.is_file():
        return None
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    return doc if doc.get("project", {}).get("name") == DIST_NAME else None


def runtime_requirements() -> list[str]:
    """The requirements airlock runs with: from the checkout's pyproject.toml, else the installed metadata."""
    doc = _pyproject()
    if doc is not None:
        return sorted(doc["project"]["dependencies"])
    try:
        reqs = metadata.requires(DIST_NAME) or []
    except metadata.PackageNotFoundError:
        raise AirlockError("cannot tell airlock's own requirements: no pyproject.toml beside the package and no "
                           f"installed {DIST_NAME} distribution", hint="install airlock with pip, or run it from "
                           "its repository") from None
    return sorted(r for r in reqs if "extra ==" not in r)


def wheel_name() -> str:
    return f"{DIST_NAME.replace('-', '_')}-{airlock_version()}-py3-none-any.whl"


def _files() -> list[tuple[str, bytes]]:
    pkg = _package_dir()
    out: dict[str, bytes] = {}
    for path in sorted(pkg.rglob("*")):
        rel = path.relative_to(pkg).as_posix()
        if path.is_file() and "__pycache__" not in path.parts and not rel.endswith((".pyc", ".pyo")):
            out[f"airlock/{rel}"] = path.read_bytes()
    data = data_dir()
    if data.parent != pkg:  # a checkout: manifests/ becomes airlock/_data, as the release wheel does
        for path in sorted(data.rglob("*")):
            if path.is_file():
                out[f"airlock/_data/{path.relative_to(data).as_posix()}"] = path.read_bytes()
    return sorted(out.items())


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel() -> tuple[str, bytes]:
    """(file name, bytes) of airlock's wheel."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", _EPOCH_1980))
    t = time.gmtime(max(epoch, _EPOCH_1980))
    stamp = (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    distinfo = f"{DIST_NAME.replace('-', '_')}-{airlock_version()}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {DIST_NAME}", f"Version: {airlock_version()}",
            "Summary: Reproducible air-gapped Kubespray installs", "Requires-Python: >=3.11"]
    meta += [f"Requires-Dist: {r}" for r in runtime_requirements()]
    files = _files() + [
        (f"{distinfo}/METADATA", ("\n".join(meta) + "\n").encode()),
        (f"{distinfo}/WHEEL", b"Wheel-Version: 1.0\nGenerator: airlock\nRoot-Is-Purelib: true\nTag: py3-none-any\n"),
        (f"{distinfo}/entry_points.txt", b"[console_scripts]\nairlock = airlock.cli.main:main\n"),
    ]
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files) + f"{distinfo}/RECORD,,\n"
    files.append((f"{distinfo}/RECORD", record.encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever builds it
            zf.writestr(info, data)
    return wheel_name(), buf.getvalue()
