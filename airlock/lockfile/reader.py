"""Read airlock.lock: bounded parse, check its version first, then validate strictly.

The lock is untrusted input (it arrives inside a bundle): size, nesting and integers are bounded by
:mod:`airlock.bounded`, and every name that becomes a path is checked by the model itself.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from airlock.bounded import MAX_LOCK_BYTES, load_toml, read_capped
from airlock.errors import LockError
from airlock.lockfile.model import LOCK_VERSION, Lock

_REGENERATE = "regenerate it with `airlock resolve`; do not edit the lock by hand"


def read_lock(path: Path) -> Lock:
    try:
        raw = read_capped(path, MAX_LOCK_BYTES, LockError, hint=_REGENERATE)
    except FileNotFoundError:
        raise LockError(f"{path} does not exist", hint="run `airlock resolve` to create it") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LockError(f"cannot read {path}: {exc}") from None
    return parse_lock(text, str(path))


def parse_lock(text: str, where: str = "airlock.lock") -> Lock:
    data = load_toml(text, LockError, where, max_bytes=MAX_LOCK_BYTES, hint=_REGENERATE)
    if "version" not in data:
        raise LockError("the lock has no `version`", where=where,
                        hint=f"this airlock reads lock version {LOCK_VERSION}; regenerate with `airlock resolve`")
    if data["version"] != LOCK_VERSION:
        raise LockError(f"lock version {repr(data['version'])[:40]} is not supported (this airlock reads "
                        f"{LOCK_VERSION})", where=where, hint="use the airlock release that wrote it, or re-resolve")
    try:
        return Lock.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        msg = err["msg"].removeprefix("Value error, ")
        raise LockError(f"{entry_path(err['loc'])}: {msg}", where=where,
                        hint="the lock is damaged or hostile: " + _REGENERATE) from None


def entry_path(loc: tuple[int | str, ...]) -> str:
    """``("file", 3, "path")`` -> ``file[3].path``: how a reviewer finds the entry in the lock."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
