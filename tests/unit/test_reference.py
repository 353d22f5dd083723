"""ImageRef and Digest: one parse, one canonical form, every other form derived from it."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airlock.digest import Digest, parse_digest
from airlock.errors import AirlockError, ReferenceError
from airlock.reference import ImageRef, parse_ref

HEX = "ab" * 32
D = f"sha256:{HEX}"


@pytest.mark.parametrize(("written", "canonical", "familiar"), [
    ("nginx:1.29", "docker.io/library/nginx:1.29", "nginx:1.29"),
    ("nginx", "docker.io/library/nginx:latest", "nginx:latest"),
    ("index.docker.io/library/nginx:1.29", "docker.io/library/nginx:1.29", "nginx:1.29"),
    ("registry-1.docker.io/flannel/flannel:v0.27", "docker.io/flannel/flannel:v0.27", "flannel/flannel:v0.27"),
    (f"registry.k8s.io/pause@{D}", f"registry.k8s.io/pause@{D}", f"registry.k8s.io/pause@{D}"),
    (f"registry.k8s.io/pause:3.10@{D}", f"registry.k8s.io/pause:3.10@{D}", f"registry.k8s.io/pause:3.10@{D}"),
    ("localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"),
    ("127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c", "127.0.0.1:5000/a/b:c"),
    ("[fd00::1]:5000/a:1", "[fd00::1]:5000/a:1", "[fd00::1]:5000/a:1"),
])
def test_canonical_and_familiar_forms(written: str, canonical: str, familiar: str) -> None:
    ref = parse_ref(written)
    assert ref == canonical and ref.canonical == canonical and str(ref) == canonical
    assert ref.familiar == familiar
    assert parse_ref(ref.familiar) == ref and parse_ref(canonical) == ref


def test_digest_only_refs_have_no_tag_and_a_repository_name_without_the_digest() -> None:
    ref = parse_ref(f"registry.k8s.io/pause@{D}")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == ("registry.k8s.io", "pause", None, D)
    assert ref.name == "registry.k8s.io/pause" and ref.short_name == "pause" and ref.reference == D
    assert isinstance(ref.digest, Digest) and ref.digest.hex == HEX
    local = parse_ref("localhost:5000/app:1")
    assert (local.registry, local.repository, local.tag) == ("localhost:5000", "app", "1")


def test_an_imageref_is_its_canonical_string_and_survives_copies() -> None:
    ref = parse_ref("nginx:1.29")
    assert {ref: 1}["docker.io/library/nginx:1.29"] == 1
    assert json.dumps([ref]) == '["docker.io/library/nginx:1.29"]'
    for clone in (copy.deepcopy(ref), pickle.loads(pickle.dumps(ref))):
        assert isinstance(clone, ImageRef) and clone == ref and clone.repository == "library/nginx"
    with pytest.raises(AttributeError):
        ref.tag = "evil"  # type: ignore[misc]
    assert ref.under("site:5000/mirror/") == "site:5000/mirror/docker.io/library/nginx:1.29"


@pytest.mark.parametrize("bad", ["", "../../x:1", "registry.k8s.io/../x:1", "r/UPPER:1", "r/a:1 ", "r//a", "/r/a",
                                 'r/a:1"\nx', "r/a@sha256:short", "r/a@md5:" + "a" * 32, "r/a:" + "t" * 200,
                                 "r/a:1/b", "reg:99999/a:1", "-bad.example/a:1", "a" * 2000,
                                 "r/a:1\n", "r/a\n:1", "reg.example\n/a:1", f"r/a@{D}\n"])
def test_bad_refs_are_one_clear_error(bad: str) -> None:
    with pytest.raises(ReferenceError) as info:
        parse_ref(bad)
    assert isinstance(info.value, ValueError) and isinstance(info.value, AirlockError)
    assert "is not an image reference" in info.value.message and info.value.hint


_component = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4})?", fullmatch=True)
_registry = st.one_of(st.just(""), st.sampled_from(["docker.io/", "index.docker.io/", "quay.io/", "localhost/",
                                                     "localhost:5000/", "r.example:443/", "10.0.0.1:8080/"]))
_tag = st.one_of(st.just(""), st.from_regex(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True))
_digest = st.one_of(st.just(""), st.from_regex(r"@sha256:[0-9a-f]{64}", fullmatch=True))


@given(_registry, st.lists(_component, min_size=1, max_size=3), _tag, _digest)
def test_parsing_is_idempotent_and_canonical_is_a_fixed_point(registry: str, path: list[str], tag: str,
                                                              digest: str) -> None:
    written = registry + "/".join(path) + tag + digest
    ref = parse_ref(written)
    again = parse_ref(ref.canonical)
    assert again == ref and (again.registry, again.repository, again.tag, again.digest) == \
        (ref.registry, ref.repository, ref.tag, ref.digest)
    assert parse_ref(ref.familiar) == ref
    assert ref.canonical.startswith(ref.name) and "@" not in ref.name and ref.name.count(":") <= 1
    assert ref.tag == (tag[1:] or (None if digest else "latest"))
    assert ref.digest == (digest[1:] or None)


@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_reference_error(text: str) -> None:
    try:
        ref = parse_ref(text)
    except ReferenceError:
        return
    assert parse_ref(ref.canonical) == ref
    assert ".." not in ref.canonical.split("/") and not any(c.isspace() for c in ref.canonical)


def test_digest_type() -> None:
    d = Digest(D)
    assert d == D and d.hex == HEX and d.algorithm == "sha256"
    assert Digest.from_hex(HEX) == d and Digest.of(b"x") == "sha256:" + __import__("hashlib").sha256(b"x").hexdigest()
    assert Digest(d) is d and parse_digest(D) == d
    for bad in ["", HEX, "sha256:" + HEX.upper(), "sha512:" + HEX, "sha256:" + HEX + "0", "sha256:../../x",
                D + "\n"]:
        assert parse_digest(bad) is None
        with pytest.raises(ValueError):
            Digest(bad)
    assert parse_digest(None) is None and parse_digest(123) is None
    for bad_hex in ("0" * 63, HEX + "\n"):
        with pytest.raises(ValueError):
            Digest.from_hex(bad_hex)
