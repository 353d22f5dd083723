"""Ansible's templating rules that Kubespray's variables depend on."""

from __future__ import annotations

import pytest

from airlock.errors import EvaluationError
from airlock.kubespray.evaluator import Evaluator
from airlock.kubespray.versions import compare_loose


def ev(**layer: object) -> Evaluator:
    return Evaluator([layer])


def test_single_expression_results_are_text_except_bools_lists_dicts() -> None:
    e = ev(n=5, flag=False, items=["a", "b"], word="x")
    assert e.template("{{ n }}") == "5"
    assert e.template("{{ flag }}") is False
    assert e.template("{{ items }}") == ["a", "b"]
    assert e.template("{{ {'a': 1} }}") == {"a": 1}
    assert e.template("{{ word }}-{{ n }}") == "x-5"


def test_yaml_false_is_false_but_string_false_is_truthy() -> None:
    e = ev(a=False, b="false", c="False", x="{{ a }}", y="{{ b }}", z="{{ c }}")
    assert e.condition("x", label="t") is False
    assert e.condition("y", label="t") is True  # Jinja: a non-empty string is true
    assert e.condition("z", label="t") is False  # "False" is converted back to a bool


def test_none_renders_empty_so_default_none_is_falsy() -> None:
    e = ev(checksum="{{ missing_digest | default(None) }}")
    assert e.var("checksum") == ""
    assert not e.truthy(e.var("checksum"))


def test_filters_that_yield_generators_can_be_indexed() -> None:
    e = ev(table={"1.35.0": "a", "1.34.2": "b", "1.33.0": "c"},
           pick="{{ (table.keys() | select('version', '1.35', '<'))[0] }}")
    assert e.var("pick") == "1.34.2"


def test_dict2items_first_key_follows_yaml_order() -> None:
    e = ev(checks={"amd64": {"2.0.1": "x", "2.0.0": "y"}}, v="{{ (checks['amd64'] | dict2items)[0].key }}")
    assert e.var("v") == "2.0.1"


@pytest.mark.parametrize(("a", "op", "b", "want"), [
    ("1.34.3", ">=", "1.34", True), ("1.7.1", "<", "1.10.0", True), ("3.6", "<", "3.6.0", True),
    ("1.12.1", "==", "1.12.1", True), ("v1.2", "ge", "v1.10", False),
])
def test_version_test_is_loose_version(a: str, op: str, b: str, want: bool) -> None:
    assert ev(a=a, b=b).template("{{ a is version(b, '" + op + "') }}") is want


def test_loose_version_rejects_mixed_components() -> None:
    with pytest.raises(ValueError):
        compare_loose("1.a", "1.2")


def test_combine_ternary_flatten_intersect_regex_split_join() -> None:
    e = ev(d1={"a": 1, "b": {"x": 1}}, d2={"b": {"y": 2}}, l1=[1, [2, [3]]], g=["etcd", "kube_node"])
    assert e.template("{{ d1 | combine(d2) }}") == {"a": 1, "b": {"y": 2}}
    assert e.template("{{ d1 | combine(d2, recursive=true) }}") == {"a": 1, "b": {"x": 1, "y": 2}}
    assert e.template("{{ true | ternary('yes', 'no') }}") == "yes"
    assert e.template("{{ l1 | flatten }}") == [1, 2, 3]
    assert e.template("{{ l1 | flatten(levels=1) }}") == [1, 2, [3]]
    assert e.template("{{ g | intersect(['kube_node', 'x']) | length }}") == "1"
    assert e.template("{{ 'quay.io/coreos/etcd' | regex_replace('/etcd$', '') }}") == "quay.io/coreos"
    assert e.template("{{ ('1.34.3' | split('.'))[:-1] | join('.') }}") == "1.34"
    assert e.template("{{ [{'key': 'a', 'value': 1}] | items2dict }}") == {"a": 1}
    assert e.template("{{ 'yes' | bool }}") is True
    assert e.template("{{ '3' | int + 1 }}") == "4"


def test_lookup_vars_and_env_are_deterministic() -> None:
    e = Evaluator([{"channel": "standard", "gateway_standard_sums": {"no_arch": {"1.0": "s"}},
                    "v": "{{ lookup('vars', 'gateway_' + channel + '_sums').no_arch['1.0'] }}",
                    "ci": "{{ lookup('env', 'HOME') }}"}])
    assert e.var("v") == "s"
    assert e.var("ci") == ""  # the machine's environment never leaks into a plan


def test_is_defined_and_default_on_chained_undefined() -> None:
    e = ev(x="{{ nothing.deeper | default('fallback') }}", y="{{ nothing is defined }}")
    assert e.var("x") == "fallback"
    assert e.var("y") is False


def test_undefined_variable_names_the_path() -> None:
    e = ev(outer="{{ inner }}", inner="{{ missing_var }}")
    with pytest.raises(EvaluationError) as info:
        e.var("outer")
    assert "missing_var" in info.value.message
    assert "outer -> inner" in str(info.value.where)


def test_unknown_filter_fails_loudly_with_variable_path() -> None:
    e = ev(v="{{ 1 | frobnicate }}")
    with pytest.raises(EvaluationError) as info:
        e.var("v")
    assert "frobnicate" in info.value.message and "v" in str(info.value.where)


def test_recursive_definitions_are_reported() -> None:
    with pytest.raises(EvaluationError, match="recursive loop"):
        ev(a="{{ b }}", b="{{ a }}").var("a")


def test_precedence_role_vars_beat_inventory_which_beats_defaults() -> None:
    defaults = {"x": "default", "y": "default", "kube_major_version": "{{ x }}"}
    inventory = {"x": "inventory", "kube_major_version": "user-override"}
    role_vars = {"kube_major_version": "role:{{ x }}"}
    e = Evaluator([defaults, inventory, role_vars])
    assert e.var("x") == "inventory"
    assert e.var("y") == "default"
    assert e.var("kube_major_version") == "role:inventory"


def test_lazy_only_what_is_asked_is_evaluated() -> None:
    e = ev(good="ok", broken="{{ undefined_fact.address }}")
    assert e.var("good") == "ok"  # 'broken' is never templated


def test_plain_strings_are_not_converted() -> None:
    assert ev(s="True").var("s") == "True"


def test_backslashes_in_expression_literals_are_doubled_as_ansible_does() -> None:
    # Kubespray 2.27's kube_major_version, as YAML hands it over (single backslashes).
    e = ev(kube_version="v1.31.9",
           major="{{ kube_version | regex_replace('^v([0-9])+\\.([0-9]+)\\.[0-9]+', 'v\\1.\\2') }}")
    assert e.var("major") == "v1.31"


def test_backslashes_outside_expressions_are_left_alone() -> None:
    e = ev(text="a\\tb {{ 'x' }}")
    assert e.var("text") == "a\\tb x"


@pytest.mark.parametrize(("raw", "name"), [
    ("{{ kubelet_download_url }}", "kubelet_download_url"), ("{{x}}", "x"), ("{{- x -}}", "x"),
    ("{{ x }}\n", None), (" {{ x }}", None), ("{{ x }}/{{ y }}", None), ("{{ x.y }}", None),
    ("{{ x | default('') }}", None), ("{{ true }}", None), ("{{ None }}", None), ("plain", None), (5, None),
    ("{{ files_repo }}/dl.k8s.io/{{ kube_version }}", None), ("{{ '{{ x }}' }}", None),
])
def test_single_var_reference_is_exactly_one_name(raw: object, name: str | None) -> None:
    assert ev().single_var_reference(raw) == name


def test_backslashes_are_doubled_also_when_the_template_comes_from_the_cache() -> None:
    text = "{{ version | regex_replace('^v([0-9])+\\.([0-9]+).*', 'v\\1.\\2') }}"  # as YAML hands it over
    from airlock.kubespray import evaluator

    assert ev(version="v1.31.9").template(text) == "v1.31"
    evaluator._TEMPLATES.pop(text)
    evaluator.environment().cache.clear()  # type: ignore[union-attr]  # next: from the bytecode cache
    assert ev(version="v1.30.2").template(text) == "v1.30"  # compiled once, escaped once
