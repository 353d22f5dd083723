"""One content digest type for files, RPMs, debs, wheels, Kubespray sources and images.

A :class:`Digest` is the OCI form ``sha256:<64 lowercase hex>``. It is a ``str`` (so it keys dicts,
sorts and prints like the digests registries send) whose construction is the validation: code that
holds a ``Digest`` never re-checks or re-splits it, it asks for ``.hex`` (a blob's file name in a
store) or builds one with :meth:`Digest.from_hex` / :meth:`Digest.of`.

The lock keeps two spellings for compatibility with lock version 1: images' ``digest`` fields are
``sha256:<hex>`` (what registries and OCI layouts say) and the other pins' ``sha256`` fields are the
bare hex (what Kubespray, repo metadata and PyPI say); both become a ``Digest`` in code.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

ALGORITHM = "sha256"
_HEX = re.compile(r"^[0-9a-f]{64}$")


class Digest(str):
    """``sha256:<hex>``: refused at construction unless it is exactly that."""

    __slots__ = ()

    def __new__(cls, value: str) -> Digest:
        if isinstance(value, Digest):
            return value
        algorithm, sep, hexd = str(value).partition(":")
        if not sep or algorithm != ALGORITHM or not _HEX.fullmatch(hexd):
            raise ValueError(f"{str(value)[:80]!r} is not a digest like sha256:<64 lowercase hex digits>")
        return super().__new__(cls, value)

    @classmethod
    def from_hex(cls, hexd: str) -> Digest:
        """The digest of a bare sha256 hex string (a lock's ``sha256`` field)."""
        if not _HEX.fullmatch(hexd):
            raise ValueError(f"{hexd[:80]!r} is not a sha256 (64 lowercase hex digits)")
        return super().__new__(cls, f"{ALGORITHM}:{hexd}")

    @classmethod
    def of(cls, data: bytes) -> Digest:
        """The digest of ``data``."""
        return cls.from_hash(hashlib.sha256(data))

    @classmethod
    def from_hash(cls, h: Any) -> Digest:
        """The digest a finished ``hashlib.sha256()`` object computed."""
        return super().__new__(cls, f"{ALGORITHM}:{h.hexdigest()}")

    @property
    def algorithm(self) -> str:
        return ALGORITHM

    @property
    def hex(self) -> str:
        """The 64 hex digits: a blob's file name under ``blobs/sha256/``."""
        return self[len(ALGORITHM) + 1:]

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls, core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(str, when_used="json"))

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "pattern": r"^sha256:[0-9a-f]{64}$", "description": "sha256:<hex>"}


def parse_digest(value: object) -> Digest | None:
    """``value`` as a Digest, or None when it is not one (digests in requests and JSON documents)."""
    if not isinstance(value, str):
        return None
    try:
        return Digest(value)
    except (ValueError, TypeError):
        return None


def canonical_json(doc: Any) -> bytes:
    """``doc`` as canonical JSON (sorted keys, no spaces): equal documents give equal bytes, however their keys
    were ordered when built."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def canonical_sha256(doc: Any) -> str:
    """The sha256 hex of :func:`canonical_json` of ``doc``: what input hashes are taken over."""
    return hashlib.sha256(canonical_json(doc)).hexdigest()
