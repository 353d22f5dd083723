"""Read airlock.lock: check its version first, then validate strictly."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from airlock.errors import AirlockError
from airlock.lockfile.model import LOCK_VERSION, Lock


class LockError(AirlockError):
    """airlock.lock is missing, malformed, of an unknown version, or inconsistent."""


def read_lock(path: Path) -> Lock:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LockError(f"{path} does not exist", hint="run `airlock resolve` to create it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"cannot read {path}: {exc}") from None
    return parse_lock(text, str(path))


def parse_lock(text: str, where: str = "airlock.lock") -> Lock:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"malformed TOML: {exc}", where=where,
                        hint="regenerate it with `airlock resolve`; do not edit the lock by hand") from None
    if "version" not in data:
        raise LockError("the lock has no `version`", where=where,
                        hint=f"this airlock reads lock version {LOCK_VERSION}; regenerate with `airlock resolve`")
    if data["version"] != LOCK_VERSION:
        raise LockError(f"lock version {data['version']!r} is not supported (this airlock reads {LOCK_VERSION})",
                        where=where, hint="use the airlock release that wrote it, or re-resolve")
    try:
        return Lock.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise LockError(f"invalid lock: {loc}: {err['msg']}", where=where,
                        hint="regenerate it with `airlock resolve`") from None
