"""``airlock sbom``: a CycloneDX 1.6 document of everything a lock pins, Kubespray as the root.

Deterministic: no serial number and no timestamp unless asked for; components sorted by purl.

Images are ``pkg:oci/<last path component>@sha256:<platform manifest>`` (the purl spec's oci type):
``repository_url`` is the image's canonical name without tag or digest, ``arch`` its platform, and
``tag`` only for a reference that has one (a reference pinned by digest alone has none).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, XsUri
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from airlock.lockfile import Lock


def build_sbom(lock: Lock, *, serial: bool = False, timestamp: bool = False) -> str:
    bom = Bom()
    bom.serial_number = uuid.uuid4() if serial else None  # type: ignore[assignment]  # the library's annotation omits None, which it accepts
    bom.metadata.timestamp = datetime.now(UTC) if timestamp else None  # type: ignore[assignment]  # as above: None means no timestamp
    ks = lock.kubespray
    root = Component(name="kubespray", version=ks.version, type=ComponentType.APPLICATION,
                     bom_ref=f"pkg:github/kubernetes-sigs/kubespray@v{ks.version}",
                     purl=PackageURL(type="github", namespace="kubernetes-sigs", name="kubespray", version=f"v{ks.version}"),
                     hashes=[HashType(alg=HashAlgorithm.SHA_256, content=ks.sha256)])
    bom.metadata.component = root
    comps: list[Any] = []

    def add(name: str, version: str, ctype: Any, purl: Any, sha256: str, url: str | None = None) -> None:
        refs = [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(url))] if url else []
        comps.append(Component(name=name, version=version, type=ctype, purl=purl, bom_ref=purl.to_string(),
                               hashes=[HashType(alg=HashAlgorithm.SHA_256, content=sha256)], external_references=refs))

    for f in lock.file:
        add(f.name, f.url.rsplit("/", 1)[-1], ComponentType.FILE,
            PackageURL(type="generic", name=f.url.rsplit("/", 1)[-1], qualifiers={"download_url": f.url,
                                                                                   "arch": f.arch}), f.sha256, f.url)
    for i in lock.image:
        ref = i.ref
        for p in i.platforms:
            quals = {"repository_url": ref.name, "arch": p.arch, **({"tag": ref.tag} if ref.tag else {})}
            add(ref.short_name, p.digest, ComponentType.CONTAINER,
                PackageURL(type="oci", name=ref.short_name, version=p.digest, qualifiers=quals), p.digest.hex)
    for r in lock.rpm:
        vendor = r.os.split("-")[0]
        quals = {"arch": r.arch, "distro": r.os, **({"epoch": str(r.epoch)} if r.epoch else {})}
        add(r.name, f"{r.version}-{r.release}", ComponentType.LIBRARY,
            PackageURL(type="rpm", namespace=vendor, name=r.name, version=f"{r.version}-{r.release}", qualifiers=quals),
            r.sha256, r.url)
    for d in lock.deb:
        add(d.name, d.version, ComponentType.LIBRARY,
            PackageURL(type="deb", namespace=d.os.split("-")[0], name=d.name, version=d.version,
                       qualifiers={"arch": d.arch, "distro": d.os}), d.sha256, d.url)
    for w in lock.wheel:
        add(w.name, w.version, ComponentType.LIBRARY,
            PackageURL(type="pypi", name=w.name.lower(), version=w.version, qualifiers={"file_name": w.filename}),
            w.sha256, w.url)
    seen: set[str] = set()
    for c in sorted(comps, key=lambda c: str(c.bom_ref)):
        if str(c.bom_ref) in seen:
            continue
        seen.add(str(c.bom_ref))
        bom.components.add(c)
    bom.register_dependency(root, list(bom.components))
    return JsonV1Dot6(bom).output_as_string(indent=1) + "\n"


def validate(document: str) -> None:
    """Raise ValueError when the document does not validate against the CycloneDX 1.6 JSON schema."""
    from cyclonedx.schema import SchemaVersion  # lazy: with the validator below
    from cyclonedx.validation.json import JsonStrictValidator  # lazy: loads jsonschema (slow): only checks of an SBOM

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(document)
    if error is not None:
        raise ValueError(str(error))
