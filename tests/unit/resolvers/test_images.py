from __future__ import annotations

import json

from airlock.resolvers.images import filtered_index, pick_platform

ENTRIES = [
    {"digest": "sha256:1", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
    {"digest": "sha256:2", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"digest": "sha256:3", "platform": {"os": "linux", "architecture": "amd64"}},
    {"digest": "sha256:4", "platform": {"os": "unknown", "architecture": "unknown"},
     "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
]


def test_pick_platform_skips_attestations_and_prefers_plain_variants() -> None:
    assert pick_platform(ENTRIES, "amd64")["digest"] == "sha256:3"
    assert pick_platform(ENTRIES, "arm64")["digest"] == "sha256:2"
    assert pick_platform(ENTRIES, "ppc64le") is None


def test_filtered_index_is_canonical_and_keeps_descriptors_verbatim() -> None:
    body = filtered_index("application/vnd.oci.image.index.v1+json", [ENTRIES[2], ENTRIES[1]])
    assert body == filtered_index("application/vnd.oci.image.index.v1+json", [ENTRIES[2], ENTRIES[1]])
    doc = json.loads(body)
    assert list(doc) == ["manifests", "mediaType", "schemaVersion"] and b" " not in body
    assert doc["manifests"] == [ENTRIES[2], ENTRIES[1]]
