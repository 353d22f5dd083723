"""The Ansible filters and tests Kubespray's variables use, with Ansible's semantics."""

from __future__ import annotations

import itertools
import json
import os.path
import re
from collections.abc import Callable, Mapping
from typing import Any

from jinja2 import Undefined, pass_environment

from airlock.kubespray.frozen import base_type_name
from airlock.kubespray.versions import compare_loose

# --- Ansible filters -----------------------------------------------------------------------

def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        value = value.lower()
    return value in ("yes", "on", "1", "true", 1)


def dict2items(mydict: Any, key_name: str = "key", value_name: str = "value") -> list[dict[str, Any]]:
    if not isinstance(mydict, Mapping):
        raise TypeError(f"dict2items requires a dictionary, got {type(mydict).__name__}")
    return [{key_name: k, value_name: v} for k, v in mydict.items()]


def items2dict(mylist: Any, key_name: str = "key", value_name: str = "value") -> dict[Any, Any]:
    if not isinstance(mylist, list):
        raise TypeError(f"items2dict requires a list, got {type(mylist).__name__}")
    return {item[key_name]: item[value_name] for item in mylist}


def _merge(a: dict[Any, Any], b: dict[Any, Any], recursive: bool, list_merge: str) -> dict[Any, Any]:
    out = dict(a)
    for k, v in b.items():
        if recursive and isinstance(out.get(k), dict) and isinstance(v, dict):
            out[k] = _merge(out[k], v, recursive, list_merge)
        elif isinstance(out.get(k), list) and isinstance(v, list) and list_merge != "replace":
            old = out[k]
            out[k] = {
                "keep": old, "append": old + v, "prepend": v + old,
                "append_rp": [x for x in old if x not in v] + v,
                "prepend_rp": v + [x for x in old if x not in v],
            }[list_merge]
        else:
            out[k] = v
    return out


def combine(*terms: Any, recursive: bool = False, list_merge: str = "replace") -> dict[Any, Any]:
    dicts: list[Any] = []
    for t in terms:
        dicts.extend(t if isinstance(t, list) else [t])
    out: dict[Any, Any] = {}
    for d in dicts:
        if not isinstance(d, Mapping):
            raise TypeError(f"combine expects dictionaries, got {type(d).__name__}")
        out = _merge(out, dict(d), recursive, list_merge)
    return out


def split(value: Any, sep: str | None = None, maxsplit: int = -1) -> list[str]:
    return str(value).split(sep, maxsplit)


def _flags(ignorecase: bool, multiline: bool) -> int:
    return (re.I if ignorecase else 0) | (re.M if multiline else 0)


def regex_replace(value: Any = "", pattern: str = "", replacement: str = "", ignorecase: bool = False,
                  multiline: bool = False, count: int = 0, mandatory_count: int = 0) -> str:
    out, n = re.subn(pattern, replacement, str(value), count=count, flags=_flags(ignorecase, multiline))
    if mandatory_count and n != mandatory_count:
        raise ValueError(f"regex_replace made {n} replacements, {mandatory_count} required")
    return out


def regex_search(value: Any, regex: str, *args: str, ignorecase: bool = False,
                 multiline: bool = False) -> Any:
    match = re.search(regex, str(value), _flags(ignorecase, multiline))
    if not match:
        return None
    if not args:
        return match.group()
    out = []
    for arg in args:
        if arg.startswith("\\g<"):
            out.append(match.group(arg[3:-1]))
        elif arg.startswith("\\"):
            out.append(match.group(int(arg[1:])))
    return out


def regex_findall(value: Any, regex: str, multiline: bool = False, ignorecase: bool = False) -> list[Any]:
    return re.findall(regex, str(value), _flags(ignorecase, multiline))


def ternary(value: Any, true_val: Any, false_val: Any, none_val: Any = None) -> Any:
    if value is None and none_val is not None:
        return none_val
    return true_val if value else false_val


def flatten(mylist: Any, levels: int | None = None, skip_nulls: bool = True) -> list[Any]:
    out: list[Any] = []
    for el in mylist:
        if skip_nulls and el in (None, "None", "null"):
            continue
        if isinstance(el, (list, tuple)):
            if levels is None:
                out.extend(flatten(el, None, skip_nulls))
            elif levels >= 1:
                out.extend(flatten(el, levels - 1, skip_nulls) if levels > 1 else el)
            else:
                out.append(el)
        else:
            out.append(el)
    return out


def unique(values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def intersect(a: Any, b: Any) -> list[Any]:
    return unique(x for x in a if x in b)


def difference(a: Any, b: Any) -> list[Any]:
    return unique(x for x in a if x not in b)


def union(a: Any, b: Any) -> list[Any]:
    return unique(itertools.chain(a, b))


def symmetric_difference(a: Any, b: Any) -> list[Any]:
    return unique(x for x in itertools.chain(a, b) if (x in a) != (x in b))


_VERSION_OPS = {"==": "eq", "=": "eq", "eq": "eq", "<": "lt", "lt": "lt", "<=": "le", "le": "le",
                ">": "gt", "gt": "gt", ">=": "ge", "ge": "ge", "!=": "ne", "<>": "ne", "ne": "ne"}


def version_test(value: Any, version: Any = "", operator: str = "eq", strict: Any = None,
                 version_type: Any = None) -> bool:
    ops = _VERSION_OPS
    if operator not in ops:
        raise ValueError(f"invalid version operator {operator!r}")
    if value in ("", None) or version in ("", None):
        raise ValueError("version test needs two non-empty versions")
    c = compare_loose(str(value), str(version))
    return {"eq": c == 0, "ne": c != 0, "lt": c < 0, "le": c <= 0, "gt": c > 0, "ge": c >= 0}[ops[operator]]


def mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, Undefined):
        str(value)  # raises with the variable's name
    return value


@pass_environment
def _to_json(env: Any, value: Any, **kw: Any) -> str:
    return json.dumps(value, **kw)


def _regex_test(value: Any, pattern: str, ignorecase: bool, multiline: bool, how: str) -> bool:
    return getattr(re, how)(pattern, str(value), _flags(ignorecase, multiline)) is not None


FILTERS: dict[str, Callable[..., Any]] = {
    "bool": to_bool, "dict2items": dict2items, "items2dict": items2dict, "combine": combine,
    "split": split, "regex_replace": regex_replace, "regex_search": regex_search,
    "regex_findall": regex_findall, "ternary": ternary, "flatten": flatten, "unique": unique,
    "intersect": intersect, "difference": difference, "union": union,
    "symmetric_difference": symmetric_difference, "mandatory": mandatory, "to_json": _to_json,
    "from_json": json.loads, "basename": os.path.basename, "dirname": os.path.dirname,
    "type_debug": base_type_name, "version_compare": version_test,
}

TESTS: dict[str, Callable[..., Any]] = {
    "version": version_test, "version_compare": version_test,
    "all": lambda v: all(v), "any": lambda v: any(v),
    "match": lambda v, p, ignorecase=False, multiline=False: _regex_test(v, p, ignorecase, multiline, "match"),
    "search": lambda v, p, ignorecase=False, multiline=False: _regex_test(v, p, ignorecase, multiline, "search"),
    "regex": lambda v, p, ignorecase=False, multiline=False, match_type="search": _regex_test(
        v, p, ignorecase, multiline, match_type),
    "subset": lambda a, b: set(a) <= set(b), "superset": lambda a, b: set(a) >= set(b),
    "contains": lambda seq, v: v in seq,
}
