"""The site's PyPI index and requirements file, decided from the lock alone (no disk)."""

from __future__ import annotations

import json

from airlock.apply.offline import Site
from airlock.apply.pypi import index_files, pip_conf, requirements_txt, wheel_links
from airlock.pep691 import PYPI_JSON
from tests.unit.lockfile.test_hostile_lock import H, full


def test_wheel_links_point_at_blobs_by_filename() -> None:
    assert wheel_links(full()) == {"pypi/files/jinja2-3.1.6-py3-none-any.whl": "sha256:" + H,
                                   "pypi/files/netaddr-1.3.0.tar.gz": "sha256:" + H}


def test_index_has_pep503_html_and_pep691_json_per_normalized_project() -> None:
    files = index_files(full())
    assert sorted(files) == ["pypi/simple/index.html", "pypi/simple/index.json", "pypi/simple/jinja2/index.html",
                             "pypi/simple/jinja2/index.json", "pypi/simple/netaddr/index.html",
                             "pypi/simple/netaddr/index.json"]
    assert b'<a href="jinja2/">jinja2</a>' in files["pypi/simple/index.html"]
    assert f'href="../../files/jinja2-3.1.6-py3-none-any.whl#sha256={H}"'.encode() in files[
        "pypi/simple/jinja2/index.html"]
    doc = json.loads(files["pypi/simple/jinja2/index.json"])
    assert doc["name"] == "jinja2" and doc["files"][0]["hashes"] == {"sha256": H} and doc["files"][0]["size"] == 5
    assert PYPI_JSON == "application/vnd.pypi.simple.v1+json"


def test_no_wheels_no_index() -> None:
    assert index_files(full().model_copy(update={"wheel": []})) == {}


def test_pip_conf_trusts_only_a_plain_http_host() -> None:
    plain = pip_conf(Site(files_repo="http://10.0.0.5:8080/files", registry="10.0.0.5:8080", registry_plain=True))
    text = plain["node/pip.conf"].decode()
    assert "index-url = http://10.0.0.5:8080/pypi/simple/\n" in text and "trusted-host = 10.0.0.5\n" in text
    tls = pip_conf(Site(files_repo="https://site.example/files", registry="site.example", registry_plain=False))
    assert "trusted-host" not in tls["node/pip.conf"].decode()


def test_requirements_are_hash_pinned_and_filtered_by_platform() -> None:
    text = requirements_txt(full())
    assert f"Jinja2==3.1.6 \\\n    --hash=sha256:{H}\n" in text and "netaddr==1.3.0" in text
    assert requirements_txt(full(), "cp312-aarch64").splitlines()[1:] == []
