"""Every import inside a function in airlock/ says why it is not at the top of its module.

Imports belong at the top. One inside a function is kept only for a reason: start-up time (a command's
module loads its core when the command runs; `airlock plan` must not load the HTTP client, see
tests/unit/cli/test_lazy_commands.py), a heavy dependency one path needs, or an import cycle. The reason
is a ``# lazy: ...`` comment on the import's line or on the line above it (one comment may head a run of
consecutive imports), so the next reader knows whether moving it up is safe.
"""

from __future__ import annotations

import ast
import re

from tests.conftest import REPO

MARK = "lazy:"
_INDENTED_IMPORT = re.compile(r"^[ \t]+(?:import|from)[ \t]", re.MULTILINE)


def _comment(line: str) -> str | None:
    """The comment on an import statement's line (an import holds no string, so ``#`` starts one)."""
    return line[line.index("#"):] if "#" in line else None


def _type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _reason(comment: str | None) -> bool:
    """A comment that gives a reason: ``lazy:`` and a few words after it."""
    return comment is not None and MARK in comment and len(comment.split(MARK, 1)[1].strip()) >= 10


def unexplained(source: str) -> list[int]:
    """Lines of imports inside functions (outside ``if TYPE_CHECKING:``) that give no reason."""
    lines = source.splitlines()
    bad: list[int] = []
    if not _INDENTED_IMPORT.search(source):
        return bad  # no import below the top level: nothing to parse

    def body(stmts: list[ast.stmt], in_function: bool) -> None:
        explained_until = 0  # last line of a run of consecutive imports that a comment above explains
        for stmt in stmts:
            if isinstance(stmt, ast.Import | ast.ImportFrom):
                if in_function:
                    own = any(_reason(_comment(lines[n - 1])) for n in range(stmt.lineno, (stmt.end_lineno or 0) + 1))
                    above = lines[stmt.lineno - 2].lstrip() if stmt.lineno > 1 else ""
                    ok = own or (above.startswith("#") and _reason(above)) or explained_until == stmt.lineno - 1
                    if ok:
                        explained_until = stmt.end_lineno or stmt.lineno
                    else:
                        bad.append(stmt.lineno)
                continue
            explained_until = 0
            if isinstance(stmt, ast.If) and _type_checking(stmt):
                body(stmt.orelse, in_function)
                continue
            inner = in_function or isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
            for field in ("body", "orelse", "finalbody"):
                body(getattr(stmt, field, []) or [], inner)
            for handler in getattr(stmt, "handlers", []) or []:
                body(handler.body, inner)
            for case in getattr(stmt, "cases", []) or []:
                body(case.body, inner)

    body(ast.parse(source).body, False)
    return sorted(bad)


def test_function_level_imports_in_airlock_give_their_reason() -> None:
    offenders = []
    for path in sorted((REPO / "airlock").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        offenders += [f"{path.relative_to(REPO)}:{n}: {lines[n - 1].strip()}" for n in unexplained(source)]
    assert not offenders, ("imports inside functions without a `# lazy: <reason>` comment (move them to the top "
                           "of the module, or say why they cannot be there):\n  " + "\n  ".join(offenders))


_SAMPLE = '''
from typing import TYPE_CHECKING
import os

def a():
    import json
    return json

def b():
    import json  # lazy: keeps json off the start-up path of every command
    # lazy: two imports that one comment explains
    import csv
    from decimal import (
        Decimal,
    )

    import heapq
    return csv, Decimal, heapq

def c():
    if TYPE_CHECKING:
        import ssl
    try:
        import zlib
    except ImportError:  # lazy: too short
        pass
    # lazy:
    import bz2
    # lazy: a reason, but code between it and the import
    x = 1
    import lzma
    return zlib, bz2, x, lzma

class D:
    import math

    def m(self):
        import uuid  # noqa: F401
'''


def test_the_check_flags_what_it_should() -> None:
    lines = _SAMPLE.splitlines()
    flagged = [lines[n - 1].strip() for n in unexplained(_SAMPLE)]
    assert flagged == ["import json", "import heapq", "import zlib", "import bz2", "import lzma", "import uuid  # noqa: F401"]


def test_a_same_line_reason_on_a_wrapped_import_counts() -> None:
    src = "def f():\n    from os import (  # lazy: the reason is on the first line\n        path,\n    )\n    return path\n"
    assert unexplained(src) == []


_TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore(\[[^\]]*\])?(?P<rest>.*)$")


def unreasoned_ignores(source: str) -> list[int]:
    """Lines whose ``# type: ignore[...]`` is not followed by a comment saying why."""
    bad = []
    for n, line in enumerate(source.splitlines(), 1):
        m = _TYPE_IGNORE.search(line)
        if m and len(m.group("rest").strip().lstrip("#").strip()) < 8:
            bad.append(n)
    return bad


def test_the_ignore_check_flags_a_bare_ignore() -> None:
    assert unreasoned_ignores("x = f()  # type: ignore[arg-type]\ny = g()  # type: ignore[misc]  # g's stub is wrong\n") == [1]


def test_every_type_ignore_in_airlock_gives_its_reason() -> None:
    bad = [f"{p.relative_to(REPO)}:{n}" for p in sorted((REPO / "airlock").rglob("*.py"))
           for n in unreasoned_ignores(p.read_text())]
    assert not bad, "`type: ignore` without a reason on the same line:\n" + "\n".join(bad)
