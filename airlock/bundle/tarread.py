"""Reading bundles: a strict USTAR reader and the parts of a split bundle joined into one stream.

The reader is deliberately not :mod:`tarfile`: a bundle is untrusted, and tarfile follows pax and GNU
extensions (long names, sparse files, base-256 sizes) that can rename a member after the fact or make
a small file expand to gigabytes. Bundles are written as plain POSIX USTAR with regular files and
directories only (``TarWriter``), so anything else is refused before its data is read: every header
checksum is verified, padding and the end of the archive must be zeros, and a member's data can only
be read whole up to :data:`MAX_WHOLE`.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from airlock.errors import BundleError

BLOCK = 512
CHUNK = 1 << 20
MAX_WHOLE = 64 << 20  # the most read() without a size returns (bundle.json is the largest member read whole)
MAX_SUMS = 1 << 20  # a checksum list of 10,000 parts is 700 KB
_SUMS_LINE = re.compile(r"([0-9a-f]{64})  ([^\x00-\x1f/\\]+)")


@dataclass(frozen=True)
class Member:
    name: str  # without the trailing slash of a directory
    size: int
    type: str  # "0" regular file, "5" directory
    offset: int  # of its header in the stream

    def isdir(self) -> bool:
        return self.type == "5"

    def isreg(self) -> bool:
        return self.type == "0"


_OTHER_TYPES = {"1": "a hard link", "2": "a symlink", "3": "a device", "4": "a device", "6": "a FIFO",
                "7": "a contiguous file", "x": "a pax header", "g": "a pax global header",
                "L": "a GNU long name", "K": "a GNU long link name", "S": "a GNU sparse file"}


class _Data:
    """Exactly one member's bytes; reading past them is impossible, reading them whole is capped."""

    def __init__(self, stream: Any, member: Member, where: str):
        self._stream, self._member, self._where = stream, member, where
        self.left = member.size

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            if self.left > MAX_WHOLE:
                raise BundleError(f"{self._where}: {self._member.name} is {self.left} bytes, too large to read whole",
                                  hint="do not use this bundle")
            n = self.left
        data = _read_exact(self._stream, min(n, self.left), self._where)
        self.left -= len(data)
        return data


def _read_exact(stream: Any, n: int, where: str) -> bytes:
    parts = []
    while n > 0:
        got = stream.read(min(n, CHUNK))
        if not got:
            raise BundleError(f"{where}: the tar ends early", hint="the bundle is truncated; copy it again")
        parts.append(got)
        n -= len(got)
    return b"".join(parts)


def _octal(field: bytes, what: str, where: str, offset: int) -> int:
    text = field.rstrip(b"\0 ").lstrip(b" ")
    if not text or not all(48 <= c <= 55 for c in text):
        raise BundleError(f"{where}: bad {what} field in the tar header at byte {offset}",
                          hint="the bundle is corrupt or was repacked with extensions; do not use it")
    return int(text, 8)


def _header(block: bytes, where: str, offset: int) -> Member:
    stored = _octal(block[148:156], "checksum", where, offset)
    if stored != sum(block[:148]) + 8 * 32 + sum(block[156:]):
        raise BundleError(f"{where}: the tar header at byte {offset} is damaged (checksum mismatch)",
                          hint="copy the bundle again; do not use this one")
    try:
        name = block[:100].split(b"\0", 1)[0].decode("utf-8")
        prefix = block[345:500].split(b"\0", 1)[0].decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"{where}: the entry at byte {offset} has a name that is not UTF-8",
                          hint="do not use this bundle") from None
    full = f"{prefix}/{name}" if prefix else name
    kind = chr(block[156]) if block[156] else "\0"
    if kind not in ("0", "5"):
        what = _OTHER_TYPES.get(kind, f"an entry of type {kind!r}")
        if kind in "123467":
            what = f"a link or device ({what})"
        raise BundleError(f"{where}: {full!r} is {what}, which bundles never contain", hint="do not use this bundle")
    if block[257:265] != b"ustar\x0000":
        raise BundleError(f"{where}: the entry at byte {offset} is not a POSIX ustar header",
                          hint="bundles are written by `airlock fetch`; this one was repacked or forged")
    size = _octal(block[124:136], "size", where, offset)
    if kind == "5" and size:
        raise BundleError(f"{where}: directory {full!r} has a size", hint="do not use this bundle")
    parts = full.rstrip("/").split("/") if kind == "5" else full.split("/")
    if (not full or full.startswith("/") or "\\" in full or ".." in parts or "." in parts or "" in parts
            or any(ord(c) < 32 or ord(c) == 127 for c in full)):
        raise BundleError(f"{where}: unsafe path {full!r} in the bundle", hint="do not use this bundle")
    return Member("/".join(parts), size, kind, offset)


def iter_members(stream: Any, where: str) -> Iterator[tuple[Member, _Data | None]]:
    """Regular files (with their data) and directories (``None``), in order; anything else is an error.

    ``stream`` needs only ``read(n)``. Data a consumer leaves unread is skipped; padding, the end
    marker and everything after it must be zeros (a flipped bit anywhere is noticed).
    """
    offset = 0
    while True:
        block = stream.read(BLOCK)
        if len(block) < BLOCK:
            block += _read_exact(stream, BLOCK - len(block), where) if block else b""
        if not block:
            raise BundleError(f"{where}: the tar ends early (no end marker)",
                              hint="the bundle is truncated; copy it again")
        if block.count(0) == BLOCK:
            _expect_zeros(stream, where, offset)
            return
        member = _header(block, where, offset)
        offset += BLOCK
        if member.isdir():
            yield member, None
            continue
        data = _Data(stream, member, where)
        yield member, data
        while data.left:
            data.read(min(CHUNK, data.left))
        pad = -member.size % BLOCK
        if _read_exact(stream, pad, where).count(0) != pad:
            raise BundleError(f"{where}: the padding after {member.name} is not zeros",
                              hint="the bundle is damaged; copy it again")
        offset += member.size + pad


def _expect_zeros(stream: Any, where: str, offset: int) -> None:
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        if chunk.count(0) != len(chunk):
            raise BundleError(f"{where}: data after the end of the tar (from byte {offset})",
                              hint="the bundle is damaged or was appended to; copy it again")
        offset += len(chunk)


class _JoinedParts(io.RawIOBase):
    """The parts of a split bundle as one stream; each part's sha256 is checked at its end, the whole's at EOF.

    Once a check fails, every later read raises the same error, so the damaged part is what the
    user is told about even if the tar reader stumbled over its bytes first.
    """

    def __init__(self, parts: list[tuple[Path, str]], whole: tuple[str, str]):
        self._parts, self._whole = parts, whole
        self._i = -1
        self._f: io.BufferedReader | None = None
        self._h: Any = None
        self._all = hashlib.sha256()
        self._error: BundleError | None = None
        self._next()

    def readable(self) -> bool:
        return True

    def _fail(self, error: BundleError) -> BundleError:
        self._error = error
        if self._f is not None:
            self._f.close()
            self._f = None
        return error

    def _next(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
            path, want = self._parts[self._i]
            got = self._h.hexdigest()
            if got != want:
                raise self._fail(BundleError(f"part {path.name} of the split bundle is damaged or out of order: "
                                             f"expected sha256 {want}, got {got}", hint="copy that part again"))
        self._i += 1
        if self._i < len(self._parts):
            path = self._parts[self._i][0]
            try:
                self._f, self._h = path.open("rb"), hashlib.sha256()
            except OSError as exc:
                raise self._fail(BundleError(f"cannot read part {path.name}: {exc.strerror or exc}")) from None
            return
        name, want = self._whole
        if self._all.hexdigest() != want:
            raise self._fail(BundleError(f"the parts of {name} do not join to the sha256 its checksum list records: "
                                         f"expected {want}, got {self._all.hexdigest()}",
                                         hint="copy every part and the .sha256sums file again"))

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None
        super().close()

    def readinto(self, buf: Any) -> int:
        if self._error is not None:
            raise self._error
        while self._f is not None:
            try:
                n = self._f.readinto(buf)
            except OSError as exc:
                raise self._fail(BundleError(f"cannot read part {self._parts[self._i][0].name}: "
                                             f"{exc.strerror or exc}", hint="copy that part again")) from None
            if n:
                view = memoryview(buf)[:n]
                self._h.update(view)
                self._all.update(view)
                return n
            self._next()
        return 0


def drain_parts(stream: Any) -> None:
    """Read a split bundle to its end, so a damaged part raises its own error; a single file needs nothing."""
    if isinstance(getattr(stream, "raw", None), _JoinedParts):
        while stream.read(CHUNK):
            pass


def _split_parts(path: Path, sums: Path) -> tuple[list[tuple[Path, str]], str]:
    """The parts a checksum list names, strictly: ``NAME.000``, ``NAME.001``... in order, then ``NAME``."""
    if sums.stat().st_size > MAX_SUMS:
        raise BundleError(f"{sums} is larger than any checksum list airlock writes", hint="do not use it")
    try:
        lines = sums.read_bytes().decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise BundleError(f"{sums} is not a checksum list (not ASCII)", hint="copy it again") from None
    parts: list[tuple[Path, str]] = []
    whole = None
    for n, line in enumerate(lines, 1):
        m = _SUMS_LINE.fullmatch(line)
        expected = f"{path.name}.{len(parts):03d}"
        if whole is not None or not m or m.group(2) not in (expected, path.name):
            raise BundleError(f"{sums}:{n}: expected `<sha256>  {expected}` or `<sha256>  {path.name}` "
                              f"(last), got {line[:120]!r}",
                              hint="parts are read only beside the list and in order; copy the list again")
        if m.group(2) == path.name:
            whole = m.group(1)
            continue
        part = path.parent / m.group(2)
        if not part.is_file():
            raise BundleError(f"part {part.name} of the split bundle is missing", hint="copy every part")
        parts.append((part, m.group(1)))
    if whole is None or not parts:
        raise BundleError(f"{sums} does not list the parts and then the whole bundle",
                          hint="copy the .sha256sums file written by `airlock fetch --split` again")
    return parts, whole


def open_bundle(path: Path) -> IO[bytes]:
    """Open a bundle, or transparently the parts of a split one (``path`` names the whole)."""
    if path.is_file():
        return path.open("rb")
    sums = path.with_name(path.name + ".sha256sums")
    if not sums.is_file():
        raise BundleError(f"{path} does not exist (nor {sums.name} of a split bundle)",
                          hint="pass the path of bundle.tar, or of the whole for a split bundle")
    parts, whole = _split_parts(path, sums)
    return io.BufferedReader(_JoinedParts(parts, (path.name, whole)), CHUNK)
