"""Generate Python wheels and a PEP 503 index (with PEP 658 metadata files) for tests."""

from __future__ import annotations

import base64
import hashlib
import html
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    requires: tuple[str, ...] = ()
    requires_python: str | None = None
    tag: str = "py3-none-any"


# Backtracking: top-a 2.0 needs top-b>=2, whose 2.0 needs top-c<1, but top-c>=1 is required, so
# top-a must fall back to 1.0. Markers, requires-python and platform tags all decide something.
STRUCTURE = (
    Wheel("top-a", "1.0", ("top-b<2",)),
    Wheel("top-a", "2.0", ("top-b>=2",)),
    Wheel("top-b", "1.0"),
    Wheel("top-b", "2.0", ("top-c<1",)),
    Wheel("top-c", "0.5"),
    Wheel("top-c", "1.5"),
    Wheel("top-d", "1.0", ('only-old; python_version < "3.8"', 'only-arm; platform_machine == "aarch64"',
                           "top-f[fast]")),
    Wheel("only-old", "1.0"),
    Wheel("only-arm", "1.0"),
    Wheel("top-e", "1.0"),
    Wheel("top-e", "2.0", requires_python=">=3.99"),
    Wheel("top-f", "1.0", ('fastlib; extra == "fast"',)),
    Wheel("top-f", "1.0", ('fastlib; extra == "fast"',), tag="cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"),
    Wheel("fastlib", "1.0"),
    Wheel("conflict-x", "1.0", ("top-c<1",)),
)
CONFLICT = ["conflict-x", "top-c>=1"]


def build_wheel(w: Wheel) -> tuple[str, bytes, str]:
    """(filename, wheel bytes, METADATA text)."""
    dist = w.name.replace("-", "_")
    filename = f"{dist}-{w.version}-{w.tag}.whl"
    meta = ["Metadata-Version: 2.1", f"Name: {w.name}", f"Version: {w.version}"]
    if w.requires_python:
        meta.append(f"Requires-Python: {w.requires_python}")
    meta += [f"Requires-Dist: {r}" for r in w.requires]
    if any("extra ==" in r for r in w.requires):
        meta.append("Provides-Extra: fast")
    metadata = "\n".join(meta) + "\n"
    info = f"{dist}-{w.version}.dist-info"
    files = {f"{dist}/__init__.py": f"VERSION = {w.version!r}\n".encode(),
             f"{info}/METADATA": metadata.encode(),
             f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: airlock-tests\nRoot-Is-Purelib: true\nTag: {w.tag}\n".encode()}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            zi = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(zi, data)
    return filename, buf.getvalue(), metadata


def build_index(root: Path, wheels: list[Wheel] | tuple[Wheel, ...]) -> Path:
    """root/simple/<project>/index.html + root/files/<wheel>(.metadata); returns root."""
    projects: dict[str, list[str]] = {}
    (root / "files").mkdir(parents=True, exist_ok=True)
    for w in wheels:
        filename, data, metadata = build_wheel(w)
        (root / "files" / filename).write_bytes(data)
        (root / "files" / (filename + ".metadata")).write_text(metadata)
        sha = hashlib.sha256(data).hexdigest()
        meta_sha = hashlib.sha256(metadata.encode()).hexdigest()
        rp = f' data-requires-python="{html.escape(w.requires_python)}"' if w.requires_python else ""
        projects.setdefault(canonicalize_name(w.name), []).append(
            f'<a href="../../files/{filename}#sha256={sha}"{rp} data-core-metadata="sha256={meta_sha}">{filename}</a>')
    for name, links in projects.items():
        d = root / "simple" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "index.html").write_text("<!DOCTYPE html><html><body>\n" + "<br/>\n".join(links) + "\n</body></html>\n")
    (root / "simple" / "index.html").write_text(
        "<!DOCTYPE html><html><body>\n" + "\n".join(f'<a href="{n}/">{n}</a>' for n in sorted(projects)) + "\n</body></html>\n")
    return root
