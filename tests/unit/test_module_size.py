"""Modules stay small enough to read in one sitting: at most 300 lines, or a reason at the top
(a line ``# long: <why>`` within the first 10 lines)."""

from __future__ import annotations

from tests.conftest import REPO

LIMIT = 300


def test_no_module_is_over_300_lines_without_a_reason() -> None:
    long = []
    for p in sorted((REPO / "airlock").rglob("*.py")):
        lines = p.read_text().splitlines()
        if len(lines) > LIMIT and not any(ln.startswith("# long: ") for ln in lines[:10]):
            long.append(f"{p.relative_to(REPO)}: {len(lines)} lines")
    assert not long, "split these modules, or say why at their top (# long: ...):\n" + "\n".join(long)
