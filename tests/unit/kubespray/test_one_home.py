"""airlock/kubespray/ is the only place that knows Kubespray: no other module spells a Kubespray
variable name in its code, or a regex for Kubespray's ``{{ var }}`` templates (the evaluator parses those).

A name airlock.yaml or the lock also uses as its own key (``kube_version``, ``container_manager``...)
is airlock's vocabulary and allowed; docstrings and comments may name anything.
"""

from __future__ import annotations

import ast
import re

import yaml

from airlock.kubespray.offline import pypi_vars
from airlock.lockfile.model import KubesprayPin, Lock
from airlock.manifest.model import Manifest
from tests.conftest import VERSIONS, kubespray_dir
from tests.unit.source_scan import PACKAGE, modules

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# ``# files_repo: "http://..."``: the sample inventory documents most of its variables commented out
_COMMENTED = re.compile(r"^#\s?([a-z][a-z0-9_]*):", re.MULTILINE)


def kubespray_variables() -> set[str]:
    """Every variable a role of any supported release defines in its defaults/ or vars/, and every
    variable its sample inventory sets or documents (offline.yml's ``files_repo``, ``yum_repo``...)."""
    names: set[str] = set()
    for release in VERSIONS:
        for f in (kubespray_dir(release) / "inventory").rglob("group_vars/**/*.yml"):
            names |= set(_COMMENTED.findall(f.read_text()))
        roles = kubespray_dir(release) / "roles"
        for layer in [*roles.rglob("defaults"), *roles.rglob("vars")]:
            files = [layer] if layer.is_file() else sorted(layer.rglob("*"))
            for f in files:
                if f.is_file() and f.suffix in (".yml", ".yaml"):
                    data = yaml.load(f.read_bytes(), Loader=LOADER)
                    if isinstance(data, dict):
                        names |= {k for k in data if isinstance(k, str)}
    return names


def code_strings(tree: ast.Module) -> list[tuple[int, str]]:
    """String constants of a module's code (docstrings left out)."""
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body \
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            docstrings.add(id(body[0].value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def test_no_kubespray_variable_outside_the_kubespray_package() -> None:
    own = set(Manifest.model_fields) | set(Lock.model_fields) | set(KubesprayPin.model_fields)
    site = type("Site", (), {"files_repo": "http://site/files", "registry": "site", "registry_plain": True})()
    variables = kubespray_variables() | set(pypi_vars(site))  # pyrepo_index: Kubespray's docs, not its tree
    # compound names only ("http", "ref" are variables of some role, and ordinary words): plus `downloads`
    known = {v for v in variables if "_" in v.strip("_")} - own | {"downloads"}
    assert {"kube_image_repo", "containerd_registries_mirrors", "yum_repo", "pyrepo_index", "crio_registries",
            "downloads", "files_repo"} <= known  # the scan sees what it must
    found = []
    for path, tree in modules():
        rel = path.relative_to(PACKAGE.parent)
        if rel.parts[1] == "kubespray":
            continue
        for line, text in code_strings(tree):
            if text in known or "\\{\\{" in text:
                found.append(f"{rel}:{line}: {text!r}")
    assert not found, "Kubespray knowledge outside airlock/kubespray/ (move it behind its interface):\n" + \
        "\n".join(found)
