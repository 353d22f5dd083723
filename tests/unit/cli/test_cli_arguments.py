"""Bad command-line arguments end in exit 2 and one clear message, never a traceback or exit 70."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import cli


def run(args: list[str], stdin: str | None = None) -> tuple[int, str]:
    res = cli(*args, stdin=stdin)
    text = res.stdout + res.stderr
    assert "internal error" not in text, text  # in-process: an uncaught exception raises in cli()
    return res.returncode, text


@pytest.mark.parametrize(("listen", "message"), [("127.0.0.1:99999", "port from 1 to 65535"),
                                                 ("127.0.0.1:65536", "port from 1 to 65535"),
                                                 ("8080", "must be HOST:PORT"),
                                                 ("127.0.0.1:http", "must be HOST:PORT")])
def test_serve_listen(tmp_path: Path, listen: str, message: str) -> None:
    code, text = run(["serve", str(tmp_path), "--listen", listen])
    assert code == 2 and message in text and f"--listen '{listen}'" in text


@pytest.mark.parametrize(("url", "message"), [("http://[::1", "is not a valid URL: Invalid IPv6 URL"),
                                              ("http://h:99999", "is not a valid URL: Port out of range"),
                                              ("http://h:8080/x", "must be http(s)://HOST:PORT"),
                                              ("ftp://h:8080", "must be http(s)://HOST:PORT"),
                                              ("http://:8080", "must be http(s)://HOST:PORT"),
                                              ("http://h:0", "must be http(s)://HOST:PORT")])
def test_apply_url(tmp_path: Path, url: str, message: str) -> None:
    code, text = run(["apply", str(tmp_path / "bundle.tar"), "--dest", str(tmp_path / "site"), "--url", url])
    assert code == 2 and message in text
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("push", ["admin:s3cret@registry.example/airlock", "admin@registry.example",
                                  "https://registry.example/x"])
def test_apply_push_refuses_credentials_and_schemes(tmp_path: Path, push: str) -> None:
    code, text = run(["apply", str(tmp_path / "bundle.tar"), "--dest", str(tmp_path / "site"),
                      "--url", "http://10.0.0.5:8080", "--push", push])
    assert code == 2 and "s3cret" not in text
    assert ("--registry-user" in text) if "@" in push else ("without a scheme" in text)


def test_apply_url_refuses_credentials(tmp_path: Path) -> None:
    code, text = run(["apply", str(tmp_path / "bundle.tar"), "--dest", str(tmp_path / "site"),
                      "--url", "http://admin:s3cret@10.0.0.5:8080"])
    assert code == 2 and "carries a user or password" in text and "s3cret" not in text


def test_apply_push_bad_registry(tmp_path: Path) -> None:
    code, text = run(["apply", str(tmp_path / "bundle.tar"), "--dest", str(tmp_path / "site"),
                      "--url", "http://10.0.0.5:8080", "--push", "registry.example:99999/x"])
    assert code == 2 and "--push:" in text and "port 1-65535" in text


@pytest.mark.parametrize("split", ["1", "1048575", "512KiB"])
def test_fetch_split_minimum(tmp_path: Path, split: str) -> None:
    code, text = run(["fetch", "--lock", str(tmp_path / "missing.lock"), "--split", split])
    assert code == 2 and "parts must be at least 1 MiB" in text


def test_fetch_split_of_one_mib_passes_the_check(tmp_path: Path) -> None:
    code, text = run(["fetch", "--lock", str(tmp_path / "missing.lock"), "--split", "1MiB"])
    assert code == 2 and "does not exist" in text  # got past --split to the missing lock


def test_fetch_mirror_refuses_credentials(tmp_path: Path) -> None:
    lock = tmp_path / "airlock.lock"
    lock.write_text("")
    code, text = run(["fetch", "--lock", str(lock),
                      "--mirror", "registry.k8s.io=https://u:s3cret@mirror.example/r"])
    assert code == 2 and "must not carry a user or password" in text and "s3cret" not in text
