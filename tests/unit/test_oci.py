"""The OCI helpers: a manifest's config and layers, in that order, and the media types a registry is asked for."""

from __future__ import annotations

import pytest

from airlock.oci import ACCEPT, INDEX_TYPES, MANIFEST_TYPES, config_and_layers


def test_config_comes_first_then_the_layers_in_order() -> None:
    doc = {"config": {"digest": "c"}, "layers": [{"digest": "l1"}, {"digest": "l2"}]}
    assert [d["digest"] for d in config_and_layers(doc)] == ["c", "l1", "l2"]
    assert config_and_layers({"config": {"digest": "c"}}) == [{"digest": "c"}]
    assert config_and_layers({"config": {"digest": "c"}, "layers": None}) == [{"digest": "c"}]


def test_an_index_is_not_a_manifest() -> None:
    with pytest.raises(KeyError):
        config_and_layers({"manifests": []})


def test_every_known_type_is_accepted() -> None:
    assert sorted(ACCEPT.split(", ")) == sorted(INDEX_TYPES + MANIFEST_TYPES)
