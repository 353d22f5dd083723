from __future__ import annotations

from airlock.resolvers.debs import _release_index, parse_stanzas, raw_stanzas
from airlock.resolvers.rpms import _hidden_modular

MODULES = b"""---
document: modulemd
version: 2
data:
  name: nodejs
  stream: "18"
  artifacts:
    rpms: [nodejs-1:18.1-1.module+el9.x86_64, npm-1:8.1-1.module+el9.x86_64]
---
document: modulemd
version: 2
data:
  name: nodejs
  stream: "20"
  artifacts:
    rpms: [nodejs-1:20.1-1.module+el9.x86_64]
---
document: modulemd-defaults
version: 1
data:
  module: nodejs
  stream: "20"
...
"""


def test_modular_packages_outside_default_streams_are_hidden() -> None:
    assert _hidden_modular(MODULES) == {"nodejs-1:18.1-1.module+el9.x86_64", "npm-1:8.1-1.module+el9.x86_64"}


def test_release_sha256_section() -> None:
    release = b"Suite: stable\nMD5Sum:\n 0123 10 main/binary-amd64/Packages\nSHA256:\n " + b"a" * 64 + \
              b" 99 main/binary-amd64/Packages.xz\n"
    assert _release_index(release) == {"main/binary-amd64/Packages.xz": ("a" * 64, 99)}


def test_stanzas_keep_continuation_lines() -> None:
    text = "Package: a\nVersion: 1\nDescription: x\n more\n\nPackage: b\nVersion: 2\n"
    assert [s["Package"] for s in parse_stanzas(text)] == ["a", "b"]
    assert list(parse_stanzas(text))[0]["Description"] == "x\n more"
    assert [name for name, _ in raw_stanzas(text)] == ["a", "b"]
