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


class _Upstream:
    """A registry of one two-arch index (amd64, arm64), as the resolver sees it."""

    def __init__(self) -> None:
        from airlock.digest import Digest
        from airlock.net.registry import Fetched

        self.docs: dict[str, Fetched] = {}
        descs = []
        for arch, config in (("amd64", "c"), ("arm64", "d")):
            body = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": [],
                               "config": {"mediaType": "c", "digest": "sha256:" + config * 64, "size": 2}}).encode()
            self.docs[Digest.of(body)] = Fetched(body, OCI_MANIFEST, Digest.of(body))
            descs.append({"mediaType": OCI_MANIFEST, "digest": Digest.of(body), "size": len(body),
                          "platform": {"architecture": arch, "os": "linux"}})
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs}).encode()
        self.index = Fetched(index, OCI_INDEX, Digest.of(index))
        self.docs[self.index.digest] = self.docs["1.0"] = self.index

    def manifest(self, ref: object, reference: str, *, what: str) -> object:
        return self.docs[reference]


OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def test_a_digest_pinned_index_is_the_target_byte_for_byte_even_for_fewer_arches() -> None:
    from airlock.reference import parse_ref
    from airlock.resolvers.images import ImageRequest, ImageResolver

    upstream = _Upstream()
    resolver = ImageResolver(upstream)  # type: ignore[arg-type]
    by_tag = resolver.resolve(ImageRequest("pause", parse_ref("registry.k8s.io/pause:1.0"), ("amd64",)))
    assert by_tag.target == "platform" and by_tag.target_digest != upstream.index.digest
    pinned = parse_ref(f"registry.k8s.io/pause@{upstream.index.digest}")
    for arches in (("amd64",), ("amd64", "arm64")):
        pin = resolver.resolve(ImageRequest("pause", pinned, arches))
        assert pin.ref == pinned and pin.ref.tag is None
        assert (pin.target, pin.target_digest, pin.digest) == ("upstream-index", upstream.index.digest,
                                                               upstream.index.digest)
        assert [p.arch for p in pin.platforms] == list(arches)
