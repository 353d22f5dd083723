"""Parse TOML, JSON and YAML from untrusted input with bounds on size, nesting and alias expansion.

The standard parsers trust their input: a 1.6 KB YAML of nested aliases expands to gigabytes, a
deeply nested TOML array or JSON list ends in RecursionError, a 5000-digit integer in ValueError.
Every parser of a lock, manifest, bundle member, site file or registry answer goes through here,
and every failure is the caller's own :class:`AirlockError` subclass naming the file (and line).
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

import yaml

from airlock.errors import AirlockError

MAX_DEPTH = 64             # airlock's own formats nest 4 levels; Kubespray's YAML about 10
MAX_YAML_NODES = 1_000_000  # after alias expansion; Kubespray's largest defaults file has ~10k
MAX_MANIFEST_NODES = 100_000  # a manifest has hundreds; each is indexed for file:line messages
MAX_LOCK_BYTES = 64 << 20
MAX_MANIFEST_BYTES = 4 << 20
MAX_JSON_BYTES = 64 << 20

try:  # the C event parser makes the pre-scan cheap; the pure-Python one gives the same events
    _EventLoader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _EventLoader = yaml.SafeLoader


def _fail(error: type[AirlockError], message: str, where: str | None, hint: str | None = None) -> AirlockError:
    return error(message, where=where, hint=hint)


def read_capped(path: Path, max_bytes: int, error: type[AirlockError], hint: str | None = None) -> bytes:
    """The bytes of ``path``, refused before reading when it is larger than ``max_bytes`` (a sparse
    1 GiB file costs nothing to make and must cost nothing to refuse). FileNotFoundError passes."""
    too_big = _fail(error, f"larger than {max_bytes >> 20} MiB", str(path),
                    hint or "this is not a file airlock wrote; check where it came from")
    try:
        with path.open("rb") as f:
            if os.fstat(f.fileno()).st_size > max_bytes:
                raise too_big
            data = f.read(max_bytes + 1)  # a pipe or a growing file has no trustworthy size
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _fail(error, f"cannot read it: {exc.strerror or exc}", str(path)) from None
    if len(data) > max_bytes:
        raise too_big
    return data


def _value_problem(exc: Exception) -> str:
    if "integer string conversion" in str(exc):
        return "an integer has more digits than any real value (over 4300)"
    return str(exc)[:200]


def check_depth(value: Any, max_depth: int, error: type[AirlockError], where: str | None) -> None:
    """Refuse a parsed value nested deeper than ``max_depth`` (iteratively: no recursion to exhaust)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise _fail(error, f"nested deeper than {max_depth} levels", where,
                        "this is not a file airlock wrote; check where it came from")
        stack.extend((child, depth + 1) for child in children)


def load_toml(text: str, error: type[AirlockError], where: str, *, max_bytes: int = MAX_LOCK_BYTES,
              max_depth: int = MAX_DEPTH, hint: str | None = None) -> dict[str, Any]:
    if len(text) > max_bytes:
        raise _fail(error, f"larger than {max_bytes >> 20} MiB", where, hint)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(error, f"malformed TOML: {exc}", where, hint) from None
    except RecursionError:
        raise _fail(error, f"malformed TOML: nested deeper than {max_depth} levels", where, hint) from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise _fail(error, f"malformed TOML: {_value_problem(exc)}", where, hint) from None
    check_depth(data, max_depth, error, where)
    return data


def load_json(data: bytes | str, error: type[AirlockError], where: str, *, max_bytes: int = MAX_JSON_BYTES,
              max_depth: int = MAX_DEPTH, hint: str | None = None) -> Any:
    if len(data) > max_bytes:
        raise _fail(error, f"larger than {max_bytes >> 20} MiB", where, hint)
    try:
        value = json.loads(data)
    except RecursionError:
        raise _fail(error, f"malformed JSON: nested deeper than {max_depth} levels", where, hint) from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, huge integers, bad UTF-8
        raise _fail(error, f"malformed JSON: {_value_problem(exc)}", where, hint) from None
    check_depth(value, max_depth, error, where)
    return value


def check_yaml(text: str | bytes, error: type[AirlockError], where: str, *, max_bytes: int = MAX_MANIFEST_BYTES,
               max_depth: int = MAX_DEPTH, max_nodes: int = MAX_YAML_NODES) -> None:
    """Scan YAML events before anything is built: refuse it when it is too large, nested too
    deeply, or when its aliases would expand to more than ``max_nodes`` nodes (billion laughs).
    Malformed YAML passes: the real parser reports it with its own line."""
    if len(text) > max_bytes:
        raise _fail(error, f"larger than {max_bytes >> 20} MiB", where, "split it, or check where it came from")
    sizes: dict[str, int] = {}        # anchor -> expanded node count of what it names
    frames: list[list[Any]] = [[0, None]]  # [expanded count, anchor] per open collection
    total = 0
    try:
        for event in yaml.parse(text, Loader=_EventLoader):
            line = event.start_mark.line + 1 if event.start_mark else 0
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                frames.append([1, event.anchor])
                total += 1
                if len(frames) - 1 > max_depth:
                    raise _fail(error, f"nested deeper than {max_depth} levels", f"{where}:{line}",
                                "flatten the structure")
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                count, anchor = frames.pop()
                if anchor is not None:
                    sizes[anchor] = count
                frames[-1][0] += count
            elif isinstance(event, yaml.ScalarEvent):
                if event.anchor is not None:
                    sizes[event.anchor] = 1
                frames[-1][0] += 1
                total += 1
            elif isinstance(event, yaml.AliasEvent):
                n = sizes.get(event.anchor or "", 1)
                frames[-1][0] += n
                total += n
            else:
                continue
            if total > max_nodes:
                raise _fail(error, f"expands to more than {max_nodes} values (YAML aliases repeat what they "
                                   "name)", f"{where}:{line}", "write the values out instead of nesting aliases")
    except yaml.YAMLError:
        return
