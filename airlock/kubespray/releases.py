"""Which Kubespray releases airlock evaluates, and how each spells what differs between them.

The evaluator follows the tree it is given (role layout, field names and variables are read from
the tree itself); this module holds the few facts a tree cannot tell about itself: the supported
range, and that 2.27 wrote ``kube_version`` (and the checksum tables' keys) with a leading ``v``.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

from airlock.errors import KubesprayError

if TYPE_CHECKING:  # tree.py names the supported range in its errors: no import cycle at run time
    from airlock.kubespray.tree import KubesprayTree

OLDEST = (2, 27, 0)
# The newest release line airlock is tested on: master while it prepares 2.32.0.
NEWEST_TESTED = (2, 32)
SUPPORTED = "2.27.0 through 2.32 (master)"

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def parse(version: str) -> tuple[int, int, int] | None:
    m = _VERSION.match(version.strip())
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def check_declared(declared: str) -> None:
    """Refuse a release below the supported range before anything is downloaded for it."""
    found = parse(declared)
    if found is None or found < OLDEST:
        raise KubesprayError(
            f"Kubespray {declared} is not supported",
            hint=f"airlock evaluates Kubespray {SUPPORTED}; use one of those releases")


def check_release(declared: str, tree: KubesprayTree) -> None:
    """Refuse a release outside the supported range, or a tree that says it is another release.

    A tree without galaxy.yml (a bare copy of the roles) cannot say which release it is and is
    taken as declared.
    """
    own = tree.own_version()
    if own is not None and parse(own) != parse(declared):
        raise KubesprayError(
            f"kubespray.version is {declared}, but the Kubespray tree at {tree.root} is version {own} "
            f"(its galaxy.yml)",
            hint=f"set kubespray.version: \"{own.removeprefix('v')}\" or point kubespray.source at a "
                 f"{declared} tree (supported: {SUPPORTED})")
    check_declared(own or declared)
    found = parse(own or declared)
    if found is not None and found[:2] > NEWEST_TESTED:
        print(f"warning: Kubespray {own or declared} is newer than the releases airlock is tested on "
              f"({SUPPORTED}): check the plan against Kubespray's own downloads before trusting it",
              file=sys.stderr)


def checksum_keys(tree: KubesprayTree) -> dict[str, list[str]]:
    """kube_version keys of the kubelet checksum table per arch (vars since 2.28, defaults in 2.27)."""
    defaults, role_vars = tree.layers(("kubespray_defaults",))
    table = role_vars.get("kubelet_checksums") or defaults.get("kubelet_checksums") or {}
    return {str(arch): [str(k) for k in (versions or {})] for arch, versions in table.items()}


def uses_v_prefix(tree: KubesprayTree) -> bool:
    """True when the release keys versions as ``v1.31.9`` (2.27) rather than ``1.31.9``."""
    keys = checksum_keys(tree).get("amd64") or []
    return bool(keys) and keys[0].startswith("v")


def kube_version_var(tree: KubesprayTree, version: str) -> str:
    """``version`` (written without a v in airlock.yaml) as this release's ``kube_version``."""
    return f"v{version}" if uses_v_prefix(tree) else version


def plain_version(version: str) -> str:
    """A Kubernetes version without the leading v, as airlock's plan and lock record it."""
    return version.removeprefix("v")
