"""Which alternatives apt picks, so the closure is the one ``apt-get install`` installs on the node.

libsolv is free to satisfy ``Depends: a | b`` with either; apt is not: its candidate for each name is the
newest version, and ``apt-get install`` walks the dependencies of each package it marks — a dependency already
satisfied by a marked package is left alone, otherwise the first alternative with a fitting candidate is
marked, a virtual name through its provider. The walk here repeats that (apt 2.x order: a package's
dependencies are all chosen, then each chosen package is walked) and returns the names apt marks; the solve
favours them, so libsolv still checks conflicts but picks what apt picks.
"""

from __future__ import annotations

from collections.abc import Iterable

from airlock.resolvers.debversion import version_key

Alt = tuple[str, str | None, str | None]  # name, operator, version

_PRIORITY = {"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}


def _fits(version: str, op: str | None, wanted: str | None) -> bool:
    if not op or wanted is None:
        return True
    a, b = version_key(version), version_key(wanted)
    return {"<<": a < b, "<": a <= b, "<=": a <= b, "=": a == b, ">=": a >= b, ">": a >= b, ">>": a > b}[op]


class AptChoice:
    def __init__(self, stanzas: Iterable[dict[str, str]],
                 groups: dict[tuple[str, str], list[list[Alt]]],
                 provides: dict[tuple[str, str], list[Alt]]) -> None:
        """``groups``/``provides``: (package, version) -> its Pre-Depends+Depends or-groups / its Provides."""
        self.cand: dict[str, dict[str, str]] = {}
        for f in stanzas:
            old = self.cand.get(f["Package"])
            if old is None or version_key(f["Version"]) > version_key(old["Version"]):
                self.cand[f["Package"]] = f
        self.groups = groups
        self.providers: dict[str, list[tuple[str, str | None]]] = {}
        for name, f in sorted(self.cand.items()):
            for vname, _, vversion in provides.get((name, f["Version"]), []):
                self.providers.setdefault(vname, []).append((name, vversion))
        self.marked: set[str] = set()

    def _satisfied(self, alt: Alt, also: set[str]) -> bool:
        name, op, version = alt
        chosen = self.marked | also
        if name in chosen and _fits(self.cand[name]["Version"], op, version):
            return True
        return any(p in chosen and (op is None or (pv is not None and _fits(pv, op, version)))
                   for p, pv in self.providers.get(name, []))

    def _target(self, alt: Alt) -> str | None:
        name, op, version = alt
        if name in self.cand and _fits(self.cand[name]["Version"], op, version):
            return name
        provs = [p for p, pv in self.providers.get(name, []) if op is None or (pv is not None and _fits(pv, op, version))]
        if not provs:
            return None
        return min(provs, key=lambda p: (_PRIORITY.get(self.cand[p].get("Priority", ""), 5), p))

    def install(self, names: Iterable[str]) -> set[str]:
        """The package names ``apt-get install NAMES`` marks on an empty system."""
        todo = [n for n in names if n in self.cand]
        while todo:
            name = todo.pop(0)
            if name in self.marked:
                continue
            self.marked.add(name)
            f = self.cand[name]
            picked: list[str] = []
            for group in self.groups.get((name, f["Version"]), []):
                if any(self._satisfied(alt, set(picked)) for alt in group):
                    continue
                for alt in group:
                    target = self._target(alt)
                    if target is not None:
                        picked.append(target)
                        break
            todo[:0] = [p for p in picked if p not in self.marked]
        return self.marked
