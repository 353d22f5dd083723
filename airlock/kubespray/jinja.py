"""A Jinja2 environment that templates the way ansible-core (2.17, Kubespray's pin) does.

What matters for Kubespray's variables:
- expressions keep native Python types inside a template; the rendered result is text,
  converted back to a bool/list/dict only when it reads as ``True``/``False`` or starts with
  ``[``/``{`` (ansible_eval_concat). So ``"{{ 5 }}"`` is the string "5" and a YAML ``false`` is
  False, while a string "false" stays a (truthy) string.
- ``None`` renders as an empty string (Ansible's finalize), so ``x | default(None)`` is falsy.
- filters that return generators (select, map...) return lists, so ``(... | select(...))[0]`` works.
- undefined variables fail loudly, except under ``default``/``is defined``.
"""

from __future__ import annotations

import ast
import itertools
import json
import os.path
import re
from collections.abc import Callable, Iterable, Mapping
from types import GeneratorType
from typing import Any

from jinja2 import BaseLoader, FileSystemBytecodeCache, StrictUndefined, pass_environment
from jinja2.nativetypes import NativeEnvironment

from airlock.kubespray.versions import compare_loose


class AnsibleUndefined(StrictUndefined):
    """Strict undefined that still allows ``x.y.z | default(...)`` chains, as Ansible's does."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._chain(name)

    def __getitem__(self, key: Any) -> Any:
        return self._chain(key)

    def _chain(self, key: Any) -> "AnsibleUndefined":
        base = self._undefined_name or "value"
        return AnsibleUndefined(name=f"{base}[{key!r}]" if not isinstance(key, str) else f"{base}.{key}",
                                hint=self._undefined_hint)


def eval_concat(nodes: Iterable[Any]) -> Any:
    head = list(itertools.islice(nodes, 2))
    if not head:
        return ""
    if len(head) == 1:
        out = _text(head[0])
    else:
        out = "".join(_text(v) for v in itertools.chain(head, nodes))
    if out.startswith(("{", "[")) or out in ("True", "False"):
        try:
            return ast.literal_eval(ast.parse(out, mode="eval"))
        except (TypeError, ValueError, SyntaxError, MemoryError):
            return out
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _finalize(value: Any) -> Any:
    if isinstance(value, GeneratorType):
        value = list(value)
    return "" if value is None else value


def _unroll(fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        return list(out) if isinstance(out, GeneratorType) else out

    for attr in ("jinja_pass_arg",):
        if hasattr(fn, attr):
            setattr(wrapper, attr, getattr(fn, attr))
    wrapper.__name__ = getattr(fn, "__name__", "filter")
    return wrapper


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


def version_test(value: Any, version: Any = "", operator: str = "eq", strict: Any = None,
                 version_type: Any = None) -> bool:
    ops = {"==": "eq", "=": "eq", "eq": "eq", "<": "lt", "lt": "lt", "<=": "le", "le": "le",
           ">": "gt", "gt": "gt", ">=": "ge", "ge": "ge", "!=": "ne", "<>": "ne", "ne": "ne"}
    if operator not in ops:
        raise ValueError(f"invalid version operator {operator!r}")
    if value in ("", None) or version in ("", None):
        raise ValueError("version test needs two non-empty versions")
    c = compare_loose(str(value), str(version))
    return {"eq": c == 0, "ne": c != 0, "lt": c < 0, "le": c <= 0, "gt": c > 0, "ge": c >= 0}[ops[operator]]


def mandatory(value: Any, msg: str | None = None) -> Any:
    if isinstance(value, AnsibleUndefined):
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
    "type_debug": lambda v: type(v).__name__, "version_compare": version_test,
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


class SourceLoader(BaseLoader):
    """Templates are named by the hash of their source, so the bytecode cache can key on it."""

    def __init__(self) -> None:
        self.sources: dict[str, str] = {}

    def name_for(self, source: str) -> str:
        import hashlib

        name = hashlib.sha1(source.encode()).hexdigest()
        self.sources[name] = source
        return name

    def get_source(self, environment: Any, template: str) -> tuple[str, None, Callable[[], bool]]:
        return self.sources[template], None, lambda: True


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    from airlock.cache import cache_root

    directory = cache_root() / "jinja"
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return FileSystemBytecodeCache(str(directory))


def make_environment() -> NativeEnvironment:
    # Compiled templates are cached on disk: compiling Kubespray's ~200 templates costs 150 ms.
    env = NativeEnvironment(
        loader=SourceLoader(),
        bytecode_cache=_bytecode_cache(),
        cache_size=-1,
        undefined=AnsibleUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"],
        finalize=_finalize,
    )
    env.concat = staticmethod(eval_concat)  # type: ignore[method-assign]
    for name, fn in list(env.filters.items()):
        env.filters[name] = _unroll(fn)
    env.filters.update(FILTERS)
    env.tests.update(TESTS)
    # Kubespray also writes fully qualified names (ansible.builtin.X).
    for name in list(env.filters):
        env.filters[f"ansible.builtin.{name}"] = env.filters[name]
    for name in list(env.tests):
        env.tests[f"ansible.builtin.{name}"] = env.tests[name]
    return env


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value or "{#" in value
