"""The wheel resolver skips pre-releases as pip does (packaging >= 25 no longer does it for us)."""

from __future__ import annotations

from airlock.resolvers.pypi import Dist
from airlock.resolvers.wheels import Target, resolve_wheels


class _Index:
    def __init__(self, files: dict[str, list[str]]):
        self._files = files

    def files(self, name: str) -> list[Dist]:
        return [Dist(f, f"https://files.example/{f}", "a" * 64, None, False, True, 10) for f in self._files.get(name, [])]

    def metadata(self, dist: Dist, what: str) -> str:
        return "Metadata-Version: 2.1\n"


def test_final_release_wins_over_a_newer_dev_release() -> None:
    index = _Index({"httpx": ["httpx-0.28.1-py3-none-any.whl", "httpx-1.0.dev6-py3-none-any.whl"]})
    pins = resolve_wheels(index, ["httpx>=0.27"], [Target("3.11", "2.36", "x86_64")])  # type: ignore[arg-type]  # _Index is a stand-in for the PyPI Index
    assert [p.version for p in pins] == ["0.28.1"]


def test_prerelease_when_asked_or_only_choice() -> None:
    index = _Index({"httpx": ["httpx-0.28.1-py3-none-any.whl", "httpx-1.0.dev6-py3-none-any.whl"],
                    "lone": ["lone-2.0b1-py3-none-any.whl"]})
    target = [Target("3.11", "2.36", "x86_64")]
    assert [p.version for p in resolve_wheels(index, ["httpx>=1.0.dev0"], target)] == ["1.0.dev6"]  # type: ignore[arg-type]  # _Index is a stand-in for the PyPI Index
    assert [p.version for p in resolve_wheels(index, ["lone"], target)] == ["2.0b1"]  # type: ignore[arg-type]  # _Index is a stand-in for the PyPI Index
