"""airlock's own modules, read and parsed once per test session for the tests that scan the code
(one exception tree, one home for Kubespray knowledge): parsing the package takes ~0.4 s per pass."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import airlock

PACKAGE = Path(airlock.__file__).resolve().parent  # the copy the tests import


@cache
def modules() -> tuple[tuple[Path, ast.Module], ...]:
    """Every module of the package, sorted by path, with its syntax tree (read-only: shared by the tests)."""
    return tuple((p, ast.parse(p.read_text(), filename=str(p))) for p in sorted(PACKAGE.rglob("*.py")))
