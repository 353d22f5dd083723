"""``{{ name }}`` and conditions on a dotted name are answered without Jinja, exactly as Jinja answers them."""

from __future__ import annotations

from typing import Any

import pytest

from airlock.errors import EvaluationError
from airlock.kubespray import evaluator
from airlock.kubespray.evaluator import Evaluator

VALUES: dict[str, Any] = {
    "nil": None, "yes": True, "no": False, "word_false": "False", "word": "x", "empty": "", "n": 5, "zero": 0,
    "items": [1, "a"], "nothing": [], "mapping": {"a": {"b": 1, "keys": 0}}, "text_list": "[1, 2]",
    "ref": "{{ word }}-{{ n }}", "keys": {"items": "i"},
}


def both(e: Evaluator, fast: str, slow: str, **kw: Any) -> tuple[Any, Any]:
    got = e.template(fast, **kw)
    assert fast not in evaluator._TEMPLATES  # answered without compiling it
    return got, e.template(slow, **kw)  # the same expression in parentheses: Jinja renders it


@pytest.mark.parametrize("name", sorted(VALUES))
def test_a_single_name_renders_as_jinja_renders_it(name: str) -> None:
    e = Evaluator([VALUES])
    got, want = both(e, "{{ " + name + " }}", "{{ (" + name + ") }}")
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("expr", ["yes", "no", "nil", "word_false", "zero", "nothing", "items", "mapping.a",
                                  "mapping.a.b", "mapping.a.keys", "keys.items", "item.value.enabled"])
def test_a_dotted_condition_is_what_jinja_says(expr: str) -> None:
    e = Evaluator([VALUES])
    local = {"item": {"value": e.lazy({"enabled": "{{ yes }}"}, "item")}}
    text = "{% if " + expr + " %}True{% else %}False{% endif %}"
    got, want = both(e, text, text.replace(expr, f"({expr})"), local=local)
    assert got is want


def test_undefined_names_and_attributes_fail_as_before() -> None:
    e = Evaluator([VALUES])
    for expr in ("mapping.c", "mapping.a.c.d", "missing_name"):
        with pytest.raises(EvaluationError) as fast:
            e.condition(expr, label="t")
        with pytest.raises(EvaluationError) as slow:
            e.condition(f"({expr})", label="t")
        assert str(fast.value) == str(slow.value).replace(f"({expr})", expr)
    assert e.template("{{ true }}") == e.template("{{ (true) }}") is True  # constants stay Jinja's


@pytest.mark.parametrize("name", ["true", "none", "self", "loop"])
def test_names_jinja_reads_its_own_way_are_left_to_jinja(name: str) -> None:
    e = Evaluator([{name: "a variable"}])
    e.template("{{ " + name + " }}")
    assert "{{ " + name + " }}" in evaluator._TEMPLATES  # compiled and rendered by Jinja


def test_locals_come_before_variables() -> None:
    e = Evaluator([VALUES])
    assert e.template("{{ word }}", local={"word": "local"}) == "local"
    assert e.condition("word", label="t", local={"word": ""}) is False
