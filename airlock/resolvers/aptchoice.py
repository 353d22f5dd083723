"""Which alternatives apt picks, so the closure is the one ``apt-get install`` installs on the node.

libsolv is free to satisfy ``Depends: a | b`` with either; apt is not: its candidate for each name is the
newest version, and ``apt-get install`` walks the dependencies of each package it marks — a dependency already
satisfied by an installed or marked package is left alone, otherwise the first alternative with a fitting
candidate is marked, a virtual name through its provider. The walk here repeats that (apt 2.x order: a
package's dependencies are all chosen, then each chosen package is walked) and returns the names apt marks;
the solve installs them, so libsolv still checks that they fit together. On a node that already holds a base
system, an installed package whose dependencies or Breaks the new versions violate is upgraded, as apt does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from airlock.resolvers.debversion import version_key

Alt = tuple[str, str | None, str | None]  # name, operator, version
Parse = Callable[[dict[str, str], str], list[list[Alt]]]

_PRIORITY = {"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}


def _fits(version: str, op: str | None, wanted: str | None) -> bool:
    if not op or wanted is None:
        return True
    a, b = version_key(version), version_key(wanted)
    return {"<<": a < b, "<": a <= b, "<=": a <= b, "=": a == b, ">=": a >= b, ">": a >= b, ">>": a > b}[op]


class AptChoice:
    def __init__(self, stanzas: Iterable[dict[str, str]], parse: Parse, *, weak_deps: bool = False,
                 installed: Mapping[str, dict[str, str]] | None = None) -> None:
        """``installed``: name -> stanza of the packages already on the node (its dpkg status)."""
        self.cand: dict[str, dict[str, str]] = {}
        for f in stanzas:
            old = self.cand.get(f["Package"])
            if old is None or version_key(f["Version"]) > version_key(old["Version"]):
                self.cand[f["Package"]] = f
        self._parse, self.weak = parse, weak_deps
        self._parsed: dict[tuple[str, str, bool, str], list[list[Alt]]] = {}
        self.installed = dict(installed or {})
        self.marked: set[str] = set()
        # virtual name -> (provider, provided version) over the candidates / the installed packages
        self.providers: dict[str, list[tuple[str, str | None]]] = {}
        self.inst_providers: dict[str, list[tuple[str, str | None]]] = {}
        for index, pkgs in ((self.providers, self.cand), (self.inst_providers, self.installed)):
            for name, f in sorted(pkgs.items()):
                for alts in self.parse(f, "Provides"):
                    index.setdefault(alts[0][0], []).append((name, alts[0][2]))

    def parse(self, f: dict[str, str], key: str) -> list[list[Alt]]:
        k = (f["Package"], f["Version"], f["Package"] in self.installed and self.installed[f["Package"]] is f, key)
        if k not in self._parsed:
            self._parsed[k] = self._parse(f, key)
        return self._parsed[k]

    def _state(self, name: str) -> dict[str, str] | None:
        """The stanza ``name`` has once the marked packages are installed."""
        return self.cand[name] if name in self.marked else self.installed.get(name)

    def _provided(self, name: str, op: str | None, version: str | None, also: set[str]) -> bool:
        def ok(vversion: str | None) -> bool:
            return op is None or (vversion is not None and _fits(vversion, op, version))

        return any(p in self.marked or p in also for p, vv in self.providers.get(name, []) if ok(vv)) or \
            any(p not in self.marked and p not in also for p, vv in self.inst_providers.get(name, []) if ok(vv))

    def _satisfied(self, alt: Alt, also: set[str]) -> bool:
        name, op, version = alt
        f = self.cand.get(name) if name in also else self._state(name)
        if f is not None and _fits(f["Version"], op, version):
            return True
        return self._provided(name, op, version, also)

    def _target(self, alt: Alt) -> str | None:
        name, op, version = alt
        if name in self.cand and _fits(self.cand[name]["Version"], op, version):
            return name
        provs = [p for p, vv in self.providers.get(name, [])
                 if op is None or (vv is not None and _fits(vv, op, version))]
        if not provs:
            return None
        return min(provs, key=lambda p: (_PRIORITY.get(self.cand[p].get("Priority", ""), 5), p))

    def _groups(self, f: dict[str, str]) -> list[list[Alt]]:
        return self.parse(f, "Pre-Depends") + self.parse(f, "Depends") + \
            (self.parse(f, "Recommends") if self.weak else [])

    def _walk(self, todo: list[str]) -> None:
        while todo:
            name = todo.pop(0)
            if name in self.marked or name not in self.cand:
                continue
            self.marked.add(name)
            picked: list[str] = []
            for group in self._groups(self.cand[name]):
                if any(self._satisfied(alt, set(picked)) for alt in group):
                    continue
                for alt in group:
                    target = self._target(alt)
                    if target is not None:
                        picked.append(target)
                        break
            todo[:0] = [p for p in picked if p not in self.marked]

    def _broken_installed(self) -> list[str]:
        """Installed, unmarked packages the marked ones break: an unmet dependency, or a Breaks/Conflicts
        either way between the two."""
        out = []
        for name, f in sorted(self.installed.items()):
            if name in self.marked or name not in self.cand:
                continue
            unmet = any(not any(self._satisfied(a, set()) for a in g) for g in self.parse(f, "Pre-Depends")
                        + self.parse(f, "Depends"))
            theirs = any(self._marked_match(a) for key in ("Breaks", "Conflicts") for g in self.parse(f, key)
                         for a in g)
            ours = any(a[0] == name and _fits(f["Version"], a[1], a[2]) for m in self.marked
                       for key in ("Breaks", "Conflicts") for g in self.parse(self.cand[m], key) for a in g)
            if unmet or theirs or ours:
                out.append(name)
        return out

    def _marked_match(self, alt: Alt) -> bool:
        name, op, version = alt
        return name in self.marked and _fits(self.cand[name]["Version"], op, version)

    def install(self, names: Iterable[str]) -> set[str]:
        """The package names ``apt-get install NAMES`` installs or upgrades."""
        self._walk([n for n in names if n in self.cand])
        while broken := self._broken_installed():
            self._walk(broken)
        return {n for n in self.marked
                if n not in self.installed or self.installed[n]["Version"] != self.cand[n]["Version"]}
