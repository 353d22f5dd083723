"""Pin images: the tag's upstream digest, one platform manifest per arch, and the air-gap target.

Target rule (what the tag will point to inside the air gap):
- a reference pinned by digest (``registry.k8s.io/pause@sha256:...``, what Kubespray writes when
  ``*_digest_checksum`` is set): that very manifest or index, byte for byte, because nodes ask for it
  by that digest; an index's platforms that were not requested are simply absent from the air gap;
- one arch requested: that platform's manifest;
- several arches and the upstream index lists exactly those platforms (no other entries, not even
  attestations): the upstream index, byte for byte;
- otherwise a filtered index (:func:`filtered_index`): ``{"manifests": [...], "mediaType": <the
  upstream index's>, "schemaVersion": 2}`` with the upstream descriptors of the chosen platforms,
  unchanged, in arch order, serialized as JSON with sorted keys and no whitespace. Index-level
  annotations are dropped. Nothing else is ever re-serialized.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from airlock.bounded import load_json
from airlock.digest import Digest, canonical_json
from airlock.errors import RegistryError
from airlock.lockfile.model import ImagePin, PlatformPin, upstream_pin
from airlock.net.registry import Registry
from airlock.oci import INDEX_TYPES, MANIFEST_TYPES, config_and_layers
from airlock.reference import ImageRef


@dataclass(frozen=True)
class ImageRequest:
    name: str
    ref: ImageRef
    arches: tuple[str, ...]


def filtered_index(media_type: str, descriptors: list[dict[str, Any]]) -> bytes:
    doc = {"schemaVersion": 2, "mediaType": media_type, "manifests": descriptors}
    return canonical_json(doc)


def pick_platform(entries: list[dict[str, Any]], arch: str) -> dict[str, Any] | None:
    """The index entry for linux/<arch>; with several variants: none, then v8, then by name."""
    def platform(e: dict[str, Any]) -> dict[str, Any]:
        return e.get("platform") or {}

    found = [e for e in entries if platform(e).get("os") == "linux" and platform(e).get("architecture") == arch]
    if not found:
        return None
    rank = {None: 0, "v8": 1}
    return sorted(found, key=lambda e: (rank.get(e["platform"].get("variant"), 2),
                                        str(e["platform"].get("variant"))))[0]


def _platform_size(manifest: dict[str, Any]) -> int:
    return sum(int(d["size"]) for d in config_and_layers(manifest))


class ImageResolver:
    kind = "image"

    def __init__(self, registry: Registry):
        self.registry = registry

    def key(self, request: ImageRequest) -> str:
        return request.ref.canonical

    def resolve(self, request: ImageRequest) -> ImagePin:
        ref = request.ref
        what = f"image {ref}"
        top = self.registry.manifest(ref, ref.reference, what=what)
        if top.media_type in INDEX_TYPES:
            return self._from_index(request, ref, top, what)
        return self._from_manifest(request, ref, top, what)

    def _from_index(self, request: ImageRequest, ref: ImageRef, top: Any, what: str) -> ImagePin:
        index = json.loads(top.body)
        entries = index.get("manifests") or []
        chosen: list[tuple[str, dict[str, Any]]] = []
        for arch in sorted(request.arches):
            desc = pick_platform(entries, arch)
            if desc is None:
                have = sorted({f"{(e.get('platform') or {}).get('os')}/{(e.get('platform') or {}).get('architecture')}"
                               for e in entries})
                raise RegistryError(f"{what} has no linux/{arch} image (the index lists {', '.join(have)})",
                                    hint=f"drop {arch} from arch, or choose an image built for it")
            chosen.append((arch, desc))
        platforms = []
        for arch, desc in chosen:
            m = self.registry.manifest(ref, desc["digest"], what=f"{what} ({arch})")
            if m.media_type not in MANIFEST_TYPES:
                raise RegistryError(f"{what} ({arch}): nested index {desc['digest']} is not supported")
            platforms.append(upstream_pin(PlatformPin, f"{what} ({arch})", arch=arch,
                                          variant=(desc.get("platform") or {}).get("variant"), digest=m.digest,
                                          media_type=m.media_type, size=_platform_size(json.loads(m.body))))
        target: Literal["platform", "upstream-index", "filtered-index"]
        if ref.digest is not None:
            target, target_digest, target_type = "upstream-index", top.digest, top.media_type
        elif len(platforms) == 1:
            target, target_digest, target_type = "platform", platforms[0].digest, platforms[0].media_type
        elif len(entries) == len(chosen):
            target, target_digest, target_type = "upstream-index", top.digest, top.media_type
        else:
            body = filtered_index(top.media_type, [d for _, d in chosen])
            target, target_digest, target_type = "filtered-index", Digest.of(body), top.media_type
        return ImagePin(name=request.name, ref=request.ref, digest=top.digest, media_type=top.media_type,
                        target=target, target_digest=target_digest, target_media_type=target_type,
                        platforms=platforms)

    def _from_manifest(self, request: ImageRequest, ref: ImageRef, top: Any, what: str) -> ImagePin:
        manifest = json.loads(top.body)
        config = load_json(self.registry.blob(ref, manifest["config"]["digest"], what=what), RegistryError,
                           f"{what}: image config")
        arch, os_name = config.get("architecture"), config.get("os", "linux")
        missing = sorted(a for a in request.arches if a != arch or os_name != "linux")
        if missing:
            raise RegistryError(f"{what} is a single {os_name}/{arch} image; it has no linux/{missing[0]}",
                                hint=f"drop {missing[0]} from arch, or choose a multi-arch tag")
        platform = upstream_pin(PlatformPin, what, arch=arch, variant=config.get("variant"), digest=top.digest,
                                media_type=top.media_type, size=_platform_size(manifest))
        return ImagePin(name=request.name, ref=request.ref, digest=top.digest, media_type=top.media_type,
                        target="platform", target_digest=top.digest, target_media_type=top.media_type,
                        platforms=[platform])
