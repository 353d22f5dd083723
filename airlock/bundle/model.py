"""bundle.json: what a bundle holds and which lock entry each blob serves (bundle format 1)."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BUNDLE_FORMAT = 1
Kind = Literal["lock", "manifest", "sbom", "layout", "kubespray", "file", "image-index", "image-manifest", "image-config",
               "image-layer", "rpm", "deb", "deb-index", "wheel", "bootstrap"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Entry(_Strict):
    path: str
    digest: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    size: int = Field(ge=0)
    kind: Kind
    serves: list[str] = Field(default_factory=list,
                              description="lock entries: kubespray, file:<name>:<arch>, image:<ref>")


class BundleIndex(_Strict):
    format: Literal[1] = BUNDLE_FORMAT
    lock_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    base_lock_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$",
                                         description="set for a delta bundle: the lock whose blobs it omits")
    entries: list[Entry]

    def dumps(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True) + "\n").encode()
