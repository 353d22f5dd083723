"""Plain-text tables for humans (fast to import; the same bytes on every terminal)."""

from __future__ import annotations

from collections.abc import Sequence

from airlock.plan import Plan


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out) + "\n"


def render_plan(plan: Plan) -> str:
    parts = [
        f"Kubespray {plan.kubespray_version}  kube_version {plan.kube_version}  arch {', '.join(plan.arch)}\n"
        f"source: {plan.kubespray_source}\n",
        f"\nFiles ({len(plan.files)})\n",
        table(["NAME", "ARCH", "PATH", "CHECKSUM"],
              [(f.name, f.arch, f.path, _short(f.checksum)) for f in plan.files]),
        f"\nImages ({len(plan.images)})\n",
        table(["NAME", "REF", "ARCH"], [(i.name, i.ref.canonical, ",".join(i.arch)) for i in plan.images]),
    ]
    for os_name, pkgs in plan.packages.items():
        parts.append(f"\nOS packages for {os_name} ({len(pkgs)})\n")
        parts.append(_wrap(pkgs))
        site = plan.site_packages.get(os_name, [])
        parts.append(f"  + for using the site and running Ansible ({len(site)}): {' '.join(site)}\n")
    parts.append(f"\nPython {plan.python_version} requirements ({len(plan.python_requirements)})\n")
    parts.append(_wrap(plan.python_requirements))
    total = len(plan.files) + len(plan.images)
    parts.append(f"\n{len(plan.files)} files, {len(plan.images)} images ({total} artifacts), "
                 f"{sum(len(p) for p in plan.packages.values())} OS packages, "
                 f"{len(plan.python_requirements)} Python requirements\n")
    return "".join(parts)


def _short(checksum: str | None) -> str:
    if not checksum:
        return "(none pinned)"
    algo, _, hexd = checksum.partition(":")
    return f"{algo}:{hexd[:12]}…"


def _wrap(items: Sequence[str], width: int = 100) -> str:
    lines, cur = [], "  "
    for it in items:
        if len(cur) + len(it) + 1 > width and cur.strip():
            lines.append(cur.rstrip())
            cur = "  "
        cur += it + " "
    if cur.strip():
        lines.append(cur.rstrip())
    return "\n".join(lines) + ("\n" if lines else "")
