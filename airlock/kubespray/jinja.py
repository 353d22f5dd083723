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
import atexit
import hashlib
import importlib.util
import itertools
import marshal
from collections.abc import Callable, Iterable
from pathlib import Path
from types import CodeType, GeneratorType
from typing import Any

import jinja2
from jinja2 import BaseLoader, StrictUndefined
from jinja2.bccache import Bucket, BytecodeCache
from jinja2.nativetypes import NativeEnvironment

from airlock.cache import cache_root
from airlock.kubespray.filters import FILTERS, TESTS
from airlock.scratch import replacing_locked

# This module's own text decides how a template compiles (escaping, environment options).
COMPILER = hashlib.sha1(Path(__file__).read_bytes()).hexdigest()[:12]


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
    if out == "True" or out == "False":  # what literal_eval would say, without compiling it
        return out == "True"
    if out.startswith(("{", "[")):
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


class SourceLoader(BaseLoader):
    """Templates are named by the hash of their text, so the bytecode cache can key on it.

    Ansible's escaping (:func:`escape_backslashes`, which runs Jinja's lexer) is applied only when a
    template is compiled: with every template in the bytecode cache a run never builds the lexer (its
    regular expressions alone cost ~20 ms). The cache file's name carries :data:`COMPILER`, so a change
    to that escaping or to the environment's options is never answered from an older cache.
    """

    def __init__(self) -> None:
        self.sources: dict[str, str] = {}

    def name_for(self, text: str) -> str:
        name = hashlib.sha1(text.encode()).hexdigest()
        self.sources[name] = text
        return name

    def get_source(self, environment: Any, template: str) -> tuple[str, None, Callable[[], bool]]:
        return escape_backslashes(environment, self.sources[template]), None, lambda: True

    def load(self, environment: Any, name: str, globals: Any = None) -> Any:
        text = self.sources[name]
        bcc = environment.bytecode_cache
        bucket = bcc.get_bucket(environment, name, None, text) if bcc is not None else None
        code = bucket.code if bucket is not None else None
        if code is None:
            code = environment.compile(escape_backslashes(environment, text), name, None)
            if bucket is not None:
                bucket.code = code
                bcc.set_bucket(bucket)
        return environment.template_class.from_code(environment, code, globals or {}, lambda: True)


class PackedBytecodeCache(BytecodeCache):
    """Every compiled template in one file, read with one ``open``: Kubespray's ~200 templates as
    one file each (FileSystemBytecodeCache) cost `airlock plan` ~20 ms of opens and reads.

    New templates are written back on :meth:`save` (and at exit). Concurrent runs may each write
    the file; the last rename wins and a template the other compiled is compiled again next time.
    """

    MAX_ENTRIES = 20000  # beyond this (many releases over time) start again rather than grow forever

    def __init__(self, path: Path):
        self.path = path
        self._entries: dict[str, tuple[str, bytes]] | None = None
        self._dirty = False

    def _load(self) -> dict[str, tuple[str, bytes]]:
        if self._entries is None:
            try:
                loaded = marshal.loads(self.path.read_bytes())
                self._entries = loaded if isinstance(loaded, dict) else {}
            except (OSError, EOFError, ValueError, TypeError):
                self._entries = {}
        return self._entries

    def load_bytecode(self, bucket: Bucket) -> None:
        entry = self._load().get(bucket.key)
        try:
            if entry is not None and entry[0] == bucket.checksum:
                code = marshal.loads(entry[1])
                if isinstance(code, CodeType):
                    bucket.code = code
        except (EOFError, ValueError, TypeError, IndexError, KeyError):  # a damaged entry: compile again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        entries = self._load()
        if len(entries) >= self.MAX_ENTRIES:
            entries.clear()
        entries[bucket.key] = (bucket.checksum, marshal.dumps(bucket.code))
        if not self._dirty:
            self._dirty = True
            atexit.register(self.save)

    def save(self) -> None:
        if not self._dirty or self._entries is None:
            return
        self._dirty = False
        try:
            with replacing_locked(self.path) as f:
                f.write(marshal.dumps(self._entries))
        except (OSError, ValueError):  # a read-only or vanished cache: compile again next time
            pass


def _bytecode_cache() -> PackedBytecodeCache:
    # code objects are specific to the Python version, the generated code to Jinja's and to this module
    tag = f"{importlib.util.MAGIC_NUMBER.hex()}-{jinja2.__version__}-{COMPILER}"
    return PackedBytecodeCache(cache_root() / "jinja" / f"templates-{tag}.marshal")


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
    env.concat = staticmethod(eval_concat)  # type: ignore[method-assign,assignment]  # Ansible's native concat replaces Jinja's
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


def escape_backslashes(env: NativeEnvironment, text: str) -> str:
    """Double the backslashes of string literals inside ``{{ }}``, as ansible-core (<= 2.18) does.

    YAML already unescaped them once; without this, Jinja would unescape them again, and
    ``regex_replace('^v([0-9]+)', 'v\\1')`` would substitute ``\\x01`` instead of the group.
    Only literals in expressions are touched; ``{% %}`` blocks and text keep their backslashes.
    """
    if "\\" not in text or env.variable_start_string not in text:
        return text
    out: list[str] = []
    in_expression = False
    for _line, kind, value in env.lex(env.preprocess(text)):
        if kind == "variable_begin":
            in_expression = True
        elif kind == "variable_end":
            in_expression = False
        elif in_expression and kind == "string":
            value = value.replace("\\", "\\\\")
        out.append(value)
    return "".join(out)


def is_template(value: str) -> bool:
    return "{{" in value or "{%" in value or "{#" in value
