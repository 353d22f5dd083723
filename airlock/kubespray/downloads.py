"""What Kubespray's download role fetches for one target, evaluated from its own variables.

The loop below is Kubespray's ``roles/download/tasks/main.yml``: every item of
``downloads | combine(kubeadm_images)`` with ``download = download_defaults | combine(item.value)``,
kept when all of the task's ``when:`` conditions hold; ``download.container`` decides between
an image and a file. ``kubeadm_images`` is what ``prep_kubeadm_images.yml`` derives from
``kubeadm config images list`` (minus coredns and pause, which are in ``downloads``).

Across releases: the pinned file checksum is the item's ``checksum`` (2.28+, ``sha256:<hex>``)
or ``sha256`` (2.27, a bare hex digest); an image is pulled by digest exactly when the item has a
non-empty ``sha256`` (``set_container_facts.yml``, unchanged since 2.27, so from 2.28 on the
``*_digest_checksum`` variables, now under ``checksum``, no longer pin images).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from airlock.kubespray.evaluator import Evaluator

# The `when:` list of the "Download | Download files / images" task, in Kubespray's order.
DOWNLOAD_WHEN = (
    "not skip_downloads | default(false)",
    "download.enabled",
    "item.value.enabled",
    "(not (item.value.container | default(false))) or (item.value.container and download_container)",
    "(download_run_once and inventory_hostname == download_delegate)"
    " or (group_names | intersect(download.groups) | length)",
)
PREP_KUBEADM_WHEN = ("not skip_downloads | default(false)", "('kube_control_plane' in group_names)")
KUBEADM_IMAGES_WHEN = "not skip_kubeadm_images | default(false)"

# The control-plane images `kubeadm config images list` prints for a ClusterConfiguration
# (kubeadm's own logic, not Kubespray data); etcd only with a local (kubeadm-managed) etcd.
KUBEADM_COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy")


@dataclass(frozen=True)
class FileDownload:
    name: str
    url: str
    checksum: str
    kubespray_var: str | None


@dataclass(frozen=True)
class ImageDownload:
    name: str
    ref: str


def kubeadm_images(ev: Evaluator) -> dict[str, dict[str, Any]]:
    """The ``kubeadm_images`` fact, or the variable's own value when the prep task is skipped."""
    if not all(ev.condition(c, label="prep_kubeadm_images") for c in PREP_KUBEADM_WHEN) or \
            not ev.condition(KUBEADM_IMAGES_WHEN, label="prep_kubeadm_images"):
        return ev.var("kubeadm_images") if ev.has("kubeadm_images") else {}
    # kubeadm-images.yaml.j2's imageRepository: kubeadm_image_repo since 2.29, kube_image_repo before.
    repo = ev.var("kubeadm_image_repo" if ev.has("kubeadm_image_repo") else "kube_image_repo")
    # kubernetesVersion: 2.27 keeps the v in kube_version, later templates add it; kubeadm prints v<version>.
    version = str(ev.var("kube_version"))
    tag = version if version.startswith("v") else f"v{version}"
    listed = [f"{repo}/{c}:{tag}" for c in KUBEADM_COMPONENTS]
    if ev.var("etcd_deployment_type") == "kubeadm":
        etcd_repo = re.sub(r"/etcd$", "", str(ev.var("etcd_image_repo")))
        listed.append(f"{etcd_repo}/etcd:{ev.var('etcd_image_tag')}")
    out: dict[str, dict[str, Any]] = {}
    for image in listed:
        key = "kubeadm_" + re.sub(r"^(?:.*\/)*", "", image).split(":")[0]
        out[key] = {
            "enabled": True,
            "container": True,
            "repo": re.sub(r"^(.*):.*$", r"\1", image),
            "tag": re.sub(r"^.*:(.*)$", r"\1", image),
            "groups": ["k8s_cluster"],
        }
    return out


def select_downloads(ev: Evaluator) -> tuple[list[FileDownload], list[ImageDownload]]:
    raw_downloads = ev.raw("downloads")
    defaults = ev.raw("download_defaults")
    items = {**raw_downloads, **kubeadm_images(ev)}
    files: list[FileDownload] = []
    images: list[ImageDownload] = []
    # The first condition names neither ``item`` nor ``download``, and variables are templated without
    # the loop's names, so it holds for every item or for none: asked once, not once per item (it was a
    # third of all conditions). The first item's label is where an error in it would have been reported.
    if items and not ev.condition(DOWNLOAD_WHEN[0], label=f"downloads.{next(iter(items))}"):
        return files, images
    for key, raw in items.items():
        label = f"downloads.{key}"
        item = {"key": key, "value": ev.lazy(raw, label)}
        download = ev.lazy({**defaults, **raw}, label)
        local = {"item": item, "download": download}
        if not all(ev.condition(c, label=label, local=local) for c in DOWNLOAD_WHEN[1:]):
            continue
        if ev.condition("download.container", label=label, local=local):
            images.append(ImageDownload(name=key.removeprefix("kubeadm_"), ref=_image_ref(download)))
        else:
            files.append(FileDownload(
                name=key,
                url=str(download["url"]),
                checksum=_file_checksum(download),
                kubespray_var=ev.single_var_reference(raw.get("url")),
            ))
    return files, images


def _file_checksum(download: Any) -> str:
    """The pinned checksum as ``algo:hex`` (empty when none): 2.28+ ``checksum``, 2.27 ``sha256``."""
    if "checksum" in download:
        return str(download["checksum"] or "")
    digest = download.get("sha256")
    return f"sha256:{digest}" if digest else ""


def _image_ref(download: Any) -> str:
    """The name Kubespray pulls (set_container_facts.yml): ``repo@sha256:<sha256>`` when the item
    has a non-empty ``sha256``, else ``repo:tag``."""
    digest = download.get("sha256")
    if digest:
        return f"{download['repo']}@sha256:{digest}"
    return f"{download['repo']}:{download['tag']}"
