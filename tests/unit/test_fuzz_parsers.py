"""A bounded, seeded fuzz pass: the lock reader and the manifest loader answer any input with an
AirlockError (exit 2, one message), never another exception.

The depth and seed come from the unit suite's hypothesis profile (tests/unit/conftest.py): every run
draws the same examples (a failure reproduces); each test draws ``AIRLOCK_FUZZ_EXAMPLES`` examples,
10 by default so the unit suite stays quick to run while editing; tests/run.sh (CI) sets 250.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from airlock.errors import AirlockError
from airlock.lockfile import dumps, parse_lock
from airlock.manifest import load_manifest
from tests.unit.lockfile.test_hostile_lock import full

LOCK = dumps(full())
HOSTILE = ["../../../X", "/etc/passwd", "..", "", " ", "a\nb", "\x00", "9" * 5000, "[" * 3000, "{" * 3000,
           "r/a:1\"\n[x]", "\u202e", "-1", "1e999", "nan", "true", "[]", "{}", "'''", '"""']
TOML_BITS = st.sampled_from(["[", "]", "{", "}", "=", ",", '"', "'", "\n", "\\", ".", "#", "[[", "]]", " ", "1",
                             "-", "x", "version", "file", "inf", "0x", "1979-05-27"])


def _refused_cleanly(call: object) -> None:
    try:
        call()  # type: ignore[operator]  # call is a zero-argument lambda
    except AirlockError as exc:
        assert exc.exit_code == 2 and exc.render().startswith("error: ")


@given(st.data())
def test_lock_reader_mutations(data: st.DataObject) -> None:
    text = LOCK
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 80)))
        piece = data.draw(st.one_of(st.sampled_from(HOSTILE), st.lists(TOML_BITS, max_size=20).map("".join),
                                    st.text(max_size=20)))
        text = text[:start] + piece + text[end:]
    _refused_cleanly(lambda: parse_lock(text))


@given(st.one_of(st.text(max_size=300), st.lists(TOML_BITS, max_size=200).map("".join)))
def test_lock_reader_arbitrary_text(text: str) -> None:
    _refused_cleanly(lambda: parse_lock(text))


@given(st.sampled_from(["file", "image", "rpm", "deb", "deb_index", "wheel", "kubespray", "inputs"]),
       st.text(max_size=8).filter(lambda k: k.isidentifier()) | st.sampled_from(["path", "os", "ref", "size"]),
       st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.sampled_from(HOSTILE),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                    max_leaves=10))
def test_lock_reader_wrong_types(table: str, key: str, value: object) -> None:
    """Typed structure with hostile values: replace one key of one table by anything JSON can hold."""
    import json

    def toml_value(v: object) -> str:
        if v is None:
            return '""'
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(str(v), repr(v))
        if isinstance(v, list):
            return "[" + ", ".join(toml_value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
        return json.dumps(v)

    header = f"[[{table}]]\n" if table not in ("kubespray", "inputs") else f"[{table}]\n"
    text = LOCK.replace(header, header + f"{json.dumps(key)} = {toml_value(value)}\n", 1)
    _refused_cleanly(lambda: parse_lock(text))


YAML_BITS = st.sampled_from(["&a ", "*a", "&b ", "*b", "[", "]", "{", "}", ":", ": ", "- ", "\n", "  ", "!!", "!!python/object ",
                             "'", '"', "? ", "|", ">", "#", "---", "...", "%YAML 1.1", "<<: ", "kubespray", "version",
                             "vars", "images", "files", "url", "x", "1", "~"])
VALID = 'kubespray: {version: "2.30.0"}\narch: [amd64]\nvars: {a: 1}\nimages: ["nginx:1"]\n'


def _load(text: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "airlock.yaml"
        p.write_text(text, encoding="utf-8", errors="surrogatepass")
        _refused_cleanly(lambda: load_manifest(p))


@given(st.one_of(st.lists(YAML_BITS, max_size=80).map("".join), st.text(max_size=200)))
def test_manifest_loader_arbitrary_text(text: str) -> None:
    _load(text)


@given(st.data())
def test_manifest_loader_mutations(data: st.DataObject) -> None:
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 30)))
        piece = data.draw(st.one_of(st.sampled_from(HOSTILE), st.lists(YAML_BITS, max_size=12).map("".join)))
        text = text[:start] + piece + text[end:]
    _load(text)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10)
                    | st.sampled_from(HOSTILE),
                    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                    max_leaves=20),
       st.sampled_from(["kubespray", "arch", "os", "vars", "images", "files", "repos", "mirrors", "python",
                        "packages", "addons", "kube_version", "schema_version", "surprise"]))
def test_manifest_loader_wrong_types(value: object, key: str) -> None:
    doc = {"kubespray": {"version": "2.30.0"}, key: value}
    _load(yaml.safe_dump(doc))


URL_BITS = st.sampled_from(["http://", "https://", "[", "]", "::1", ":", "@", "/", "h", "10.0.0.5", "8080",
                            "99999", "0", "u:p@", "%", "?", "#", " ", "\n", '"', "\\", "..", "-", "A", "é"])


@given(st.lists(URL_BITS, max_size=12).map("".join), st.none() | st.lists(URL_BITS, max_size=10).map("".join))
def test_apply_url_and_push_arguments(url: str, push: str | None) -> None:
    """--url and --push: a Site, or a UsageError; the password of a USER:PASS@ form is never shown."""
    from airlock.apply.execute import ApplyOptions, site_for
    from airlock.errors import UsageError

    try:
        site = site_for(ApplyOptions(dest=Path("/nonexistent"), url=url, push=push))
    except UsageError as exc:
        assert ":p@" not in exc.render()
        return
    assert "@" not in site.files_repo + site.registry and "\n" not in site.files_repo + site.registry
