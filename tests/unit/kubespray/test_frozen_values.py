"""Template-free values (Kubespray's checksum dicts) are frozen once and shared, never copied per evaluator."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from airlock.errors import EvaluationError
from airlock.kubespray.context import Target, make_evaluator
from airlock.kubespray.evaluator import Evaluator
from airlock.kubespray.frozen import FrozenDict, FrozenList
from airlock.kubespray.tree import DOWNLOAD_ROLES, KubesprayTree
from tests.conftest import kubespray_dir

SUMS = {"amd64": {"1.0": "sha256:aa", "0.9": 0}, "arm64": {"1.0": "sha256:bb"}, "list": [1, "x", [None]]}


def pair(**layer: Any) -> tuple[Evaluator, Evaluator]:
    memo: dict[int, tuple[Any, Any]] = {}
    return Evaluator([layer], frozen=memo), Evaluator([layer], frozen=memo)


def test_evaluators_of_one_tree_share_one_frozen_copy_equal_to_the_templated_one() -> None:
    tree = KubesprayTree(kubespray_dir("2.30.0"), "2.30.0")
    one, two = (make_evaluator(tree, DOWNLOAD_ROLES, {}, Target(arch)) for arch in ("amd64", "arm64"))
    sums = one.var("kubelet_checksums")
    assert two.var("kubelet_checksums") is sums
    assert isinstance(sums, FrozenDict) and isinstance(sums["amd64"], FrozenDict)
    templated = one.template(one.raw("kubelet_checksums"))  # the walk and copy var() no longer does
    assert type(templated) is dict and sums == templated
    assert json.dumps(sums) == json.dumps(templated) and repr(sums) == repr(templated)


def test_frozen_values_cannot_be_changed_by_callers_or_templates() -> None:
    one, two = pair(sums=SUMS)
    sums = one.var("sums")
    with pytest.raises(TypeError, match="read-only"):
        sums["amd64"]["2.0"] = "sha256:cc"
    with pytest.raises(TypeError):
        sums.update({})
    with pytest.raises(TypeError):
        sums["list"].append(2)
    with pytest.raises(TypeError):
        sums["list"] += [2]
    with pytest.raises(EvaluationError, match="read-only"):
        one.template("{% do sums.amd64.update({'2.0': 'x'}) %}")
    assert two.var("sums") == SUMS and SUMS["amd64"] == {"1.0": "sha256:aa", "0.9": 0}


def test_a_value_with_a_template_inside_is_templated_per_evaluator() -> None:
    one, two = pair(arch="amd64", sums={"amd64": {"1.0": "{{ arch }}"}})
    assert one.var("sums") == {"amd64": {"1.0": "amd64"}}
    assert type(one.var("sums")) is dict and one.var("sums") is not two.var("sums")


def test_frozen_values_read_like_plain_ones_in_templates_and_copies() -> None:
    e = Evaluator([{"sums": SUMS, "names": ["b", "a"]}])
    assert e.template("{{ sums | type_debug }} {{ names | type_debug }}") == "dict list"
    assert e.template("{{ sums.amd64['1.0'] }}") == "sha256:aa"
    assert e.template("{{ sums | combine({'x': 1}) }}") == {**SUMS, "x": 1}
    assert e.template("{{ names | sort }}") == ["a", "b"]
    assert e.template("{{ sums }}") == SUMS
    deep = copy.deepcopy(e.var("sums"))
    assert deep == SUMS and isinstance(deep["list"], FrozenList)
    assert dict(e.var("sums")) == SUMS and list(e.var("names")) == ["b", "a"]


def test_the_shared_memo_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("airlock.kubespray.evaluator._FROZEN_MAX", 2)
    memo: dict[int, tuple[Any, Any]] = {}
    for i in range(5):  # each evaluator brings its own objects (as its facts do)
        e = Evaluator([{"facts": {"n": i}, "names": [str(i)]}], frozen=memo)
        assert e.var("facts") == {"n": i} and e.var("names") == [str(i)]
        assert len(memo) <= 2
