"""Load airlock.yaml into a :class:`Manifest`, with file:line in every error."""

from __future__ import annotations

import difflib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from airlock.bounded import MAX_MANIFEST_BYTES, MAX_MANIFEST_NODES, check_yaml, read_capped
from airlock.errors import ManifestError
from airlock.manifest.model import SCHEMA_VERSION, Manifest

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class LoadedManifest:
    """A validated manifest plus where each of its values sits in the file."""

    manifest: Manifest
    path: Path
    lines: dict[Loc, int] = field(repr=False)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def where(self, *loc: str | int) -> str:
        """``file:line`` of the value at ``loc`` (or its nearest parent that is in the file)."""
        while loc and loc not in self.lines:
            loc = loc[:-1]
        line = self.lines.get(loc)
        return f"{self.path}:{line}" if line else str(self.path)

    def error(self, loc: Loc, message: str, hint: str | None = None) -> ManifestError:
        return ManifestError(message, hint=hint, where=self.where(*loc))


def load_manifest(path: str | Path) -> LoadedManifest:
    path = Path(path)
    try:
        text = read_capped(path, MAX_MANIFEST_BYTES, ManifestError).decode("utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path} does not exist",
                            hint="create it (see examples/) or pass -f PATH") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"cannot read {path}: {exc}") from None
    data, lines = _parse(text, path)
    if not isinstance(data, dict):
        raise ManifestError("the top level must be a mapping with at least kubespray.version",
                            where=f"{path}:1", hint="see examples/minimal/airlock.yaml")
    version = data.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ManifestError(f"unsupported schema_version {version!r}; this airlock reads {SCHEMA_VERSION}",
                            where=f"{path}:{lines.get(('schema_version',), 1)}",
                            hint="upgrade airlock, or write the manifest for schema_version 1")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        raise _translate(exc, path, lines) from None
    return LoadedManifest(manifest, path, lines)


def _parse(text: str, path: Path) -> tuple[Any, dict[Loc, int]]:
    # Bounded first: the loader below builds every node and _index walks aliases expanded.
    check_yaml(text, ManifestError, str(path), max_bytes=MAX_MANIFEST_BYTES, max_nodes=MAX_MANIFEST_NODES)
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character: the reader refuses it before parsing
        line = text[:max(exc.position, 0)].count("\n") + 1
        raise ManifestError(f"malformed YAML: character {exc.character!r} is not allowed in YAML",
                            where=f"{path}:{line}", hint="remove it (YAML text cannot hold control characters)") \
            from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines: dict[Loc, int] = {}
        _index(node, (), lines, path)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed YAML"
        if exc.context and exc.context_mark:
            # An unclosed bracket or quote is reported at the end of the file; the line that
            # opened it is the one to fix.
            if "stream end" in (exc.problem or "") or "end of stream" in (exc.problem or ""):
                mark = exc.context_mark
            problem += f" ({exc.context} started on line {exc.context_mark.line + 1})"
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ManifestError(f"malformed YAML: {problem}", where=where,
                            hint="check indentation and quoting on that line") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"malformed YAML: {exc}", where=str(path)) from None
    finally:
        loader.dispose()


def _index(node: yaml.Node, loc: Loc, lines: dict[Loc, int], path: Path) -> None:
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]: x`: YAML allows it, no key of ours is one
                raise ManifestError("a key must be a plain value, not a list or mapping",
                                    where=f"{path}:{key_node.start_mark.line + 1}", hint="write the key as text")
            key = key_node.value
            if key in seen:
                raise ManifestError(f"duplicate key {key!r}", where=f"{path}:{key_node.start_mark.line + 1}",
                                    hint="remove one of the two entries")
            seen.add(key)
            _index(value_node, (*loc, key), lines, path)
            lines[(*loc, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*loc, i), lines, path)


def _translate(exc: ValidationError, path: Path, lines: dict[Loc, int]) -> ManifestError:
    errors = exc.errors(include_url=False)

    def line_of(loc: Loc) -> int:
        while loc and loc not in lines:
            loc = loc[:-1]
        return lines.get(loc, 1)

    errors.sort(key=lambda e: line_of(tuple(e["loc"])))
    err = errors[0]
    loc = tuple(err["loc"])
    dotted = ".".join(str(p) for p in loc) or "(top level)"
    hint = None
    if err["type"] == "extra_forbidden":
        allowed = _fields_at(Manifest, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        message = f"unknown key {dotted!r}"
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"allowed here: {', '.join(allowed)}"
    elif err["type"] == "missing":
        message = f"{dotted} is required"
        hint = "add it, e.g. kubespray: {version: \"2.30.0\"}" if loc[0] == "kubespray" else None
    elif err["type"] == "value_error":
        message = f"{dotted}: {err['ctx']['error']}"
    elif err["type"] == "string_type" and isinstance(err.get("input"), (int, float)):
        message = f"{dotted} must be a string, got the number {err['input']!r}"
        hint = "quote it, e.g. \"1.34\" (YAML reads 1.34 as a number)"
    else:
        message = f"{dotted}: {err['msg'].lower()}"
    more = len(errors) - 1
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return ManifestError(message, hint=hint, where=f"{path}:{line_of(loc)}")


def _fields_at(model: type[BaseModel], loc: Loc) -> list[str]:
    """Field names of the model that sits at ``loc`` inside ``model``."""
    for part in loc:
        if isinstance(part, int):
            continue
        info = model.model_fields.get(str(part))
        if info is None:
            return []
        inner = _model_in(info.annotation)
        if inner is None:
            return []
        model = inner
    return sorted(model.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found:
            return found
    return None
