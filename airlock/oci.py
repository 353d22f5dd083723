"""The OCI image format as airlock uses it: the media types of image indexes and manifests (OCI and Docker's
older ones), and the blobs an image manifest names."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
ACCEPT = f"{OCI_INDEX}, {DOCKER_LIST}, {OCI_MANIFEST}, {DOCKER_MANIFEST}"


def config_and_layers(doc: Mapping[str, Any]) -> list[Any]:
    """The descriptors of an image manifest's config and then of its layers (none when ``layers`` is absent or
    empty). Raises KeyError/TypeError on a document that is not a manifest: callers turn that into their error."""
    return [doc["config"], *(doc.get("layers") or [])]
