"""The mappings the evaluator hands to Jinja: values templated only when a template reads them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airlock.kubespray.evaluator import Evaluator


class LazyDict(Mapping[str, Any]):
    def __init__(self, evaluator: Evaluator, raw: Mapping[str, Any], label: str):
        self._ev, self._raw, self._label = evaluator, raw, label
        self._done: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key not in self._done:
            if key not in self._raw:
                raise KeyError(key)
            self._done[key] = self._ev.template(self._raw[key], label=f"{self._label}.{key}")
        return self._done[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


class LazyVars(Mapping[str, Any]):
    """The mapping Jinja resolves names against: task locals, variables, then Jinja's globals."""

    def __init__(self, evaluator: Evaluator, local: Mapping[str, Any] | None = None):
        self._ev = evaluator
        self._local = local or {}

    def __contains__(self, key: object) -> bool:
        return (key == "__airlock_evaluator__" or key in self._local or key in self._ev._raw
                or key in self._ev.env.globals)

    def __getitem__(self, key: str) -> Any:
        if key == "__airlock_evaluator__":
            return self._ev
        if key in self._local:
            return self._local[key]
        if key in self._ev._raw:
            return self._ev.var(key)
        return self._ev.env.globals[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._ev._raw)

    def __len__(self) -> int:
        return len(self._ev._raw)
