"""Lazy, recursive evaluation of Kubespray variables with Ansible's precedence.

Layers, lowest first: role defaults < inventory (the user's ``vars``, as group_vars/all) <
host facts < role vars < set_facts. A variable is templated only when something asks for it,
and once per evaluator (facts are fixed per evaluator, so the cache is sound).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jinja2 import Template, TemplateError, UndefinedError, nodes, pass_context
from jinja2.nativetypes import NativeEnvironment

from airlock.errors import EvaluationError
from airlock.kubespray.frozen import freeze_plain
from airlock.kubespray.jinja import AnsibleUndefined, is_template, make_environment
from airlock.kubespray.lazy import LazyDict, LazyVars

_ENV: NativeEnvironment | None = None
# Compiled templates, shared by all evaluators: the same Kubespray strings recur per arch and OS.
_TEMPLATES: dict[str, Template] = {}


def environment() -> NativeEnvironment:
    global _ENV
    if _ENV is None:
        _ENV = make_environment()
    return _ENV


_SINGLE_NAME = re.compile(r"\{\{ *([A-Za-z_][A-Za-z0-9_]*) *\}\}")  # fullmatch
_CONSTANTS = {"true", "false", "none", "True", "False", "None"}  # Jinja reads these as constants, not names
# condition()'s wrapper around a dotted name ("download.enabled"): with "{{ name }}", half of all renders.
_DOTTED_CONDITION = re.compile(
    r"\{% if ([A-Za-z_][A-Za-z0-9_]*)((?:\.[A-Za-z_][A-Za-z0-9_]*)*) %\}True\{% else %\}False\{% endif %\}")
# Names a shortcut leaves to Jinja: its constants and operators, names its compiler may bind itself
# (``self`` is always the template), and the name only Jinja code may read.
_NOT_SHORTCUT = _CONSTANTS | {"and", "or", "not", "in", "is", "if", "else", "self", "loop", "super", "caller",
                              "varargs", "kwargs", "__airlock_evaluator__"}
_FROZEN_MAX = 20000  # a release's layers hold ~1500 variables


class _Missing:
    pass


MISSING = _Missing()


class Evaluator:
    def __init__(self, layers: list[Mapping[str, Any]], *, env_vars: Mapping[str, str] | None = None,
                 source: str = "Kubespray", frozen: dict[int, tuple[Any, Any]] | None = None):
        """``frozen``: a memo shared by evaluators built from the same layers (see :meth:`_plain`)."""
        # One dict, later layers replacing earlier keys: what a ChainMap of the layers would answer
        # (same keys, same order), without searching every layer on each of ~1500 lookups.
        self._raw: dict[str, Any] = {}
        for layer in layers:
            self._raw.update(layer)
        self._cache: dict[str, Any] = {}
        self._stack: list[str] = []
        self._env_vars = dict(env_vars or {})
        self._source = source
        self._frozen = {} if frozen is None else frozen
        self._vars = LazyVars(self)
        self.env = environment()
        self.env.globals["lookup"] = _lookup  # resolved per call through the context below

    # -- public API ---------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self._raw

    def raw(self, name: str, default: Any = MISSING) -> Any:
        if name in self._raw:
            return self._raw[name]
        if default is MISSING:
            raise self._error(f"variable {name!r} is not defined")
        return default

    def var(self, name: str) -> Any:
        """The templated value of a variable (recursively templated, as Ansible hands it out)."""
        if name in self._cache:
            return self._cache[name]
        if name not in self._raw:
            raise self._error(f"variable {name!r} is not defined")
        if name in self._stack:
            chain = " -> ".join([*self._stack[self._stack.index(name):], name])
            raise self._error(f"recursive loop in variable definitions: {chain}")
        plain = self._plain(self._raw[name])
        if plain is not None:
            self._cache[name] = plain
            return plain
        self._stack.append(name)
        try:
            value = self._template(self._raw[name], None)
        finally:
            self._stack.pop()
        self._cache[name] = value
        return value

    def template(self, value: Any, *, label: str | None = None,
                 local: Mapping[str, Any] | None = None) -> Any:
        """Template a raw value (string, list or dict) the way Ansible templates variables.

        ``local`` binds task-level names (loop ``item``, task ``vars``) above every layer.
        """
        if label:
            self._stack.append(label)
            try:
                return self._template(value, local)
            finally:
                self._stack.pop()
        return self._template(value, local)

    def _template(self, value: Any, local: Mapping[str, Any] | None) -> Any:
        # template() without the label: positional, as it recurses once per element of every value
        if isinstance(value, str):
            return self._render(value, local) if is_template(value) else value
        if isinstance(value, dict):
            return {self._template(k, local): self._template(v, local) for k, v in value.items()}
        if isinstance(value, list):
            return [self._template(v, local) for v in value]
        return value

    def condition(self, expression: str, *, label: str, local: Mapping[str, Any] | None = None) -> bool:
        """Evaluate a ``when:`` condition (a bare Jinja expression) to a bool, as Ansible does."""
        text = "{% if " + expression + " %}True{% else %}False{% endif %}"
        return self.template(text, label=f"{label} (when: {expression})", local=local) is True

    def lazy(self, raw: Mapping[str, Any], label: str) -> LazyDict:
        """A read-only view of a raw dict whose values are templated when read."""
        return LazyDict(self, raw, label)

    def truthy(self, value: Any) -> bool:
        """Jinja truthiness of an already templated value (``{% if value %}``)."""
        return bool(value) and not isinstance(value, AnsibleUndefined)

    def single_var_reference(self, raw: Any) -> str | None:
        """The variable name when ``raw`` is exactly ``"{{ name }}"``, else None."""
        if not isinstance(raw, str) or not is_template(raw):
            return None
        plain = _SINGLE_NAME.fullmatch(raw)
        if plain and plain.group(1) not in _CONSTANTS:  # the usual "{{ name }}", without building Jinja's lexer
            return plain.group(1)
        if not (raw.startswith("{{") and raw.endswith("}}")) or raw.count("{{") != 1:
            return None  # text around or several expressions: more than one node
        try:
            body = self.env.parse(raw).body
        except TemplateError:
            return None
        if len(body) == 1 and isinstance(body[0], nodes.Output) and len(body[0].nodes) == 1:
            node = body[0].nodes[0]
            if isinstance(node, nodes.Name):
                return node.name
        return None

    # -- internals ----------------------------------------------------------------------

    def _plain(self, raw: Any) -> Any:
        """The shared frozen copy of a dict or list that holds no template, else None.

        What :meth:`template` would return, without walking and copying it again in every evaluator.
        The memo keeps ``raw`` itself alive, so its ``id`` cannot be reused by another object.
        """
        if not isinstance(raw, (dict, list)):
            return None
        entry = self._frozen.get(id(raw))
        if entry is None:
            if len(self._frozen) >= _FROZEN_MAX:  # each evaluator's own facts add a few: bound a long-lived tree's memo
                self._frozen.clear()
            entry = self._frozen[id(raw)] = (raw, freeze_plain(raw, is_template))
        return entry[1]

    def _shortcut(self, text: str, local: Mapping[str, Any] | None) -> Any:
        """The result of the two commonest templates without a Jinja context and generator, by the steps
        their compiled code takes (resolve the name, ``Environment.getattr`` per dot, then finalize and
        concat, or ``if``). MISSING when ``text`` is anything else or its name is not a variable or local:
        Jinja then renders it, and reports what is undefined.
        """
        match = _SINGLE_NAME.fullmatch(text) or _DOTTED_CONDITION.fullmatch(text)
        if match is None or match.group(1) in _NOT_SHORTCUT:
            return MISSING
        name = match.group(1)
        if local is not None and name in local:
            value = local[name]
        elif name in self._raw:
            value = self.var(name)
        else:
            return MISSING
        if match.re is _SINGLE_NAME:
            return self.env.concat(iter([self.env.finalize(value)]))  # type: ignore[attr-defined,misc]  # concat/finalize are set by kubespray.jinja, not in Environment's stubs
        for attr in match.group(2).split(".")[1:]:
            value = self.env.getattr(value, attr)
        return True if value else False

    def _render(self, text: str, local: Mapping[str, Any] | None = None) -> Any:
        try:
            value = self._shortcut(text, local)
            if value is not MISSING:
                return value
            tmpl = _TEMPLATES.get(text)
            if tmpl is None:  # the loader applies Ansible's escaping when it compiles
                tmpl = _TEMPLATES[text] = self.env.get_template(self.env.loader.name_for(text))  # type: ignore[union-attr]  # our loader is always set
            names = self._vars if local is None else LazyVars(self, local)
            # What tmpl.new_context(names, shared=True) builds, minus the set of the template's global
            # names it copies each time (~30% of a small render); only {% import %} reads that set,
            # and these one-string templates cannot import.
            ctx = self.env.context_class(self.env, names, tmpl.name, tmpl.blocks)  # type: ignore[arg-type]  # a Mapping of lazy variables is what Context reads
            return self.env.concat(tmpl.root_render_func(ctx))  # type: ignore[attr-defined]  # concat: see kubespray.jinja
        except EvaluationError:
            raise
        except UndefinedError as exc:
            raise self._error(str(exc).replace("'airlock.kubespray.jinja.AnsibleUndefined object'", "value"),
                              hint="set the variable in airlock.yaml vars, or check its spelling") from None
        except TemplateError as exc:
            raise self._error(f"{type(exc).__name__}: {exc}",
                              hint="airlock does not implement this construct; please report it") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError) as exc:
            raise self._error(f"{type(exc).__name__}: {exc}") from None

    def _error(self, message: str, hint: str | None = None) -> EvaluationError:
        where = " -> ".join(self._stack) if self._stack else None
        return EvaluationError(message, hint=hint,
                               where=f"{self._source} variable {where}" if where else self._source)

    def lookup_var(self, name: str, default: Any = MISSING) -> Any:
        if name in self._raw:
            return self.var(name)
        if default is not MISSING:
            return default
        raise self._error(f"lookup('vars', {name!r}): variable is not defined")

    def lookup_env(self, name: str) -> str:
        return self._env_vars.get(name, "")


def _lookup_impl(ev: Evaluator, kind: str, *terms: Any, default: Any = MISSING, **kwargs: Any) -> Any:
    kind = kind.removeprefix("ansible.builtin.")
    if kind == "vars":
        values = [ev.lookup_var(str(t), default) for t in terms]
    elif kind == "env":
        values = [ev.lookup_env(str(t)) if default is MISSING else (ev.lookup_env(str(t)) or default)
                  for t in terms]
    else:
        raise ev._error(f"lookup({kind!r}) is not supported by airlock's evaluator",
                        hint="only lookup('vars', ...) and lookup('env', ...) are evaluated")
    if kwargs.get("wantlist"):
        return values
    return values[0] if len(values) == 1 else ",".join(str(v) for v in values)



@pass_context
def _lookup(ctx: Any, kind: str, *terms: Any, **kwargs: Any) -> Any:
    return _lookup_impl(ctx.parent["__airlock_evaluator__"], kind, *terms, **kwargs)
