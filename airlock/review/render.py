"""Text, Markdown (a PR comment) and JSON renderings of a :class:`LockDiff`."""

from __future__ import annotations

import json
from collections import defaultdict

from airlock.review.diff import Change, LockDiff

KINDS = (("files", "Files"), ("images", "Images"), ("packages", "OS packages"), ("wheels", "Python wheels"))


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def summary(d: LockDiff) -> str:
    if d.equal:
        return "no changes"
    parts = []
    if d.kubespray:
        parts.append(f"Kubespray {d.kubespray[0]} -> {d.kubespray[1]}")
    if d.kube_version:
        parts.append(f"kube_version {d.kube_version[0]} -> {d.kube_version[1]}")
    parts.append(f"{len(d.bumped)} bumped, {len(d.added)} added, {len(d.removed)} removed")
    if d.moved:
        parts.append(f"{len(d.moved)} MOVED (same name, new digest)")
    sign = "+" if d.new_bytes >= d.old_bytes else "-"
    parts.append(f"bundle {sign}{_mib(abs(d.new_bytes - d.old_bytes))}, a delta bundle carries {_mib(d.delta_bytes)}")
    return "; ".join(parts)


def _line(c: Change) -> str:
    if c.old is None:
        return f"+ {c.name}: {c.new}"
    if c.new is None:
        return f"- {c.name}: {c.old}"
    if "moved" in c.detail or "other bytes" in c.detail:
        return f"! {c.name}: {c.detail}: {c.old} -> {c.new}"
    return f"~ {c.name}: {c.detail}"


def _grouped(d: LockDiff) -> dict[str, list[Change]]:
    out: dict[str, list[Change]] = defaultdict(list)
    for c in [*d.bumped, *d.added, *d.removed]:
        out[c.kind].append(c)
    return out


def text(d: LockDiff, old: str, new: str) -> str:
    lines = [f"airlock diff {old} {new}: {summary(d)}"]
    if d.moved:
        lines.append("")
        lines.append("!!! CHANGED CONTENT — same name and version or tag, new digest (a moved tag):")
        lines += [f"  {_line(c)}" for c in d.moved]
    groups = _grouped(d)
    for kind, title in KINDS:
        if groups.get(kind):
            lines.append("")
            lines.append(f"{title} ({len(groups[kind])}):")
            lines += [f"  {_line(c)}" for c in groups[kind]]
    return "\n".join(lines) + "\n"


def markdown(d: LockDiff, old: str, new: str) -> str:
    lines = [f"**airlock.lock** `{old}` → `{new}`: {summary(d)}", ""]
    if d.moved:
        lines += ["> [!WARNING]", "> **Moved tags / changed content** (same name, new digest):"]
        lines += [f"> - `{c.name}`: {c.detail}: `{c.old}` → `{c.new}`" for c in d.moved]
        lines.append("")
    groups = _grouped(d)
    for kind, title in KINDS:
        items = groups.get(kind)
        if not items:
            continue
        lines += [f"<details><summary>{title} ({len(items)} changed)</summary>", "", "| | name | change |", "|---|---|---|"]
        for c in items:
            mark = "+" if c.old is None else "-" if c.new is None else "~"
            change = c.new if c.old is None else c.old if c.new is None else c.detail
            lines.append(f"| {mark} | `{c.name}` | `{change}` |")
        lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def as_json(d: LockDiff, old: str, new: str) -> str:
    doc = {
        "old": old, "new": new, "equal": d.equal, "summary": summary(d),
        "kubespray": list(d.kubespray) if d.kubespray else None,
        "kube_version": list(d.kube_version) if d.kube_version else None,
        "moved": [c.to_json() for c in d.moved],
        "bumped": [c.to_json() for c in d.bumped],
        "added": [c.to_json() for c in d.added],
        "removed": [c.to_json() for c in d.removed],
        "bytes": {"old": d.old_bytes, "new": d.new_bytes, "delta_bundle": d.delta_bytes},
    }
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"
