"""Compiled Kubespray templates are kept in one cache file and reused by the next run."""

from __future__ import annotations

from pathlib import Path

from jinja2.nativetypes import NativeEnvironment

from airlock.kubespray.jinja import PackedBytecodeCache, SourceLoader


def _env(cache: PackedBytecodeCache) -> NativeEnvironment:
    return NativeEnvironment(loader=SourceLoader(), bytecode_cache=cache, cache_size=-1)


def _render(env: NativeEnvironment, text: str, **names: object) -> object:
    return env.get_template(env.loader.name_for(text)).render(**names)  # type: ignore[union-attr]


class _Counting(PackedBytecodeCache):
    dumped = 0

    def dump_bytecode(self, bucket):  # type: ignore[no-untyped-def]
        type(self).dumped += 1
        super().dump_bytecode(bucket)


def test_second_run_reads_every_template_from_the_one_file(tmp_path: Path) -> None:
    path = tmp_path / "jinja" / "templates.marshal"
    texts = ["{{ a }}-{{ b }}", "{{ [a, b] | join(',') }}", "{% if a %}yes{% endif %}"]
    first = _Counting(path)
    assert [_render(_env(first), t, a="x", b="y") for t in texts] == ["x-y", "x,y", "yes"]
    assert _Counting.dumped == 3 and not path.exists()
    first.save()
    assert [p.name for p in path.parent.iterdir()] == ["templates.marshal"]  # no temp file left

    _Counting.dumped = 0
    second = _Counting(path)
    assert [_render(_env(second), t, a="x", b="y") for t in texts] == ["x-y", "x,y", "yes"]
    assert _Counting.dumped == 0  # nothing compiled again
    second.save()  # nothing new: the file is not rewritten
    assert path.stat().st_size > 0


def test_a_damaged_cache_file_is_ignored_and_replaced(tmp_path: Path) -> None:
    path = tmp_path / "templates.marshal"
    path.write_bytes(b"\x00garbage")
    cache = PackedBytecodeCache(path)
    assert _render(_env(cache), "{{ a + 1 }}", a=1) == 2
    cache.save()
    again = PackedBytecodeCache(path)
    assert _render(_env(again), "{{ a + 1 }}", a=41) == 42


def test_an_unwritable_cache_is_not_an_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = PackedBytecodeCache(blocker / "sub" / "templates.marshal")  # parent is a file
    assert _render(_env(cache), "{{ 'ok' }}") == "ok"
    cache.save()


def test_damaged_entries_are_compiled_again(tmp_path: Path) -> None:
    import marshal

    path = tmp_path / "templates.marshal"
    cache = PackedBytecodeCache(path)
    env = _env(cache)
    assert _render(env, "{{ a * 2 }}", a=2) == 4
    cache.save()
    entries = marshal.loads(path.read_bytes())
    (key,) = entries
    for damaged in (5, (entries[key][0],), (entries[key][0], b"\x00"), (entries[key][0], marshal.dumps(7))):
        path.write_bytes(marshal.dumps({key: damaged}))
        assert _render(_env(PackedBytecodeCache(path)), "{{ a * 2 }}", a=21) == 42
