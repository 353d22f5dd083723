"""Read-only dicts and lists for template-free variable values that several evaluators share.

Kubespray's ``*_checksums`` variables are large nested dicts with no template in them. Templating
one copies it (every key and value walked), once per evaluator, and `airlock plan` builds ten
evaluators per release. Instead, such a value is frozen once per Kubespray tree and the same object
is handed to every evaluator (:meth:`Evaluator.var`); freezing (not just sharing) makes sure a template or a caller that
tries to change it fails loudly instead of changing what the next evaluator sees.

The frozen types subclass ``dict`` and ``list``, so filters, ``isinstance`` checks, ``repr`` (what a
template renders), ``==`` and ``json`` see exactly what the templated copy gave them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn


def _read_only(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"this {type(self).__mro__[1].__name__} is a Kubespray variable's value, shared and read-only"
                    " (copy it with dict(...) or list(...) to change it)")


class FrozenDict(dict[Any, Any]):
    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple[Any, ...]:  # copy/deepcopy rebuild it whole (item by item would raise)
        return (type(self), (dict(self),))


class FrozenList(list[Any]):
    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = pop = remove = clear = sort = reverse = _read_only

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self),))


_TEMPLATED = object()  # what _freeze answers as soon as it meets a template: the walk stops there


def freeze_plain(value: Any, is_template: Callable[[str], bool]) -> Any:
    """A frozen copy of ``value`` when no string in it (key or value) is a template, else None.

    Leaves are kept as they are, so the copy equals what templating ``value`` gives.
    """
    frozen = _freeze(value, is_template)
    return None if frozen is _TEMPLATED else frozen


def _freeze(value: Any, is_template: Callable[[str], bool]) -> Any:
    if isinstance(value, str):
        return _TEMPLATED if is_template(value) else value
    if isinstance(value, dict):
        items = {}
        for k, v in value.items():
            k, v = _freeze(k, is_template), _freeze(v, is_template)
            if k is _TEMPLATED or v is _TEMPLATED:
                return _TEMPLATED
            items[k] = v
        return FrozenDict(items)
    if isinstance(value, list):
        out = []
        for v in value:
            v = _freeze(v, is_template)
            if v is _TEMPLATED:
                return _TEMPLATED
            out.append(v)
        return FrozenList(out)
    return value


def base_type_name(value: Any) -> str:
    """``type_debug``: a frozen value is still the dict or list Ansible would report."""
    if isinstance(value, (FrozenDict, FrozenList)):
        return type(value).__mro__[1].__name__
    return type(value).__name__
