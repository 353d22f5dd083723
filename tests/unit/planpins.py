"""Lock pins for every file and image of a plan, with placeholder digests: what the tests of the
site's outputs (offline.yml, plan_site) need to stand in for a resolved lock without a registry."""

from __future__ import annotations

from typing import Any

from airlock.lockfile.model import FilePin, ImagePin

DIGEST = "sha256:" + "0" * 64


def plan_pins(plan: Any, file_sha256: str) -> dict[str, list[Any]]:
    """``file=`` and ``image=`` for :class:`~airlock.lockfile.model.Lock`, one pin per planned artifact."""
    return {
        "file": [FilePin(name=f.name, arch=f.arch, url=f.url, sha256=file_sha256, size=1, path=f.path,
                         kubespray_var=f.kubespray_var) for f in plan.files],
        "image": [ImagePin(name=i.name, ref=i.ref, digest=DIGEST, media_type="m", target="platform",
                           target_digest=DIGEST, target_media_type="m", platforms=[]) for i in plan.images],
    }
