"""One exception tree: every error class is defined in airlock/errors.py and drawn in its docstring."""

from __future__ import annotations

import ast
import inspect

from airlock import errors
from tests.unit.source_scan import PACKAGE, modules

TREE = {name for name, obj in vars(errors).items() if inspect.isclass(obj) and issubclass(obj, Exception)}


def test_no_error_class_is_defined_outside_errors_py() -> None:
    stray = []
    for path, tree in modules():
        if path.name == "errors.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                bases = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                if bases & (TREE | {"Exception", "BaseException", "ValueError", "RuntimeError", "OSError"}):
                    stray.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}")
    assert stray == [], "define these in airlock/errors.py"


def test_the_docstring_draws_every_class() -> None:
    doc = errors.__doc__ or ""
    assert sorted(n for n in TREE if n not in doc) == []


def test_every_user_error_exits_2_and_renders_one_message_with_its_hint() -> None:
    for name in TREE - {"BadRequest"}:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.AirlockError), name
        assert cls.exit_code == 2, name
    err = errors.LockError("bad", hint="regenerate", where="airlock.lock")
    assert err.render() == "error: airlock.lock: bad\n  hint: regenerate" and str(err) == "airlock.lock: bad"


def test_digest_mismatch_is_a_network_error_with_fields() -> None:
    err = errors.DigestMismatch("m", what="w", expected="sha256:a", got="sha256:b", url="https://u", hint="h")
    assert isinstance(err, errors.NetworkError)
    assert (err.message, err.what, err.expected, err.got, err.url, err.hint) == ("m", "w", "sha256:a", "sha256:b",
                                                                               "https://u", "h")
