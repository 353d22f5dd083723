"""The download loop's item-independent condition, asked once per evaluator instead of once per item."""

from __future__ import annotations

import re

import pytest

from airlock.kubespray.context import Target, make_evaluator
from airlock.kubespray.downloads import DOWNLOAD_WHEN, select_downloads
from airlock.kubespray.tree import DOWNLOAD_ROLES, KubesprayTree
from tests.conftest import kubespray_dir


def test_the_condition_asked_once_names_no_loop_variable() -> None:
    # select_downloads asks DOWNLOAD_WHEN[0] once for all items: sound only while it names neither.
    assert not re.search(r"\b(item|download)\b", DOWNLOAD_WHEN[0])
    assert all(re.search(r"\b(item|download)\b", c) for c in DOWNLOAD_WHEN[1:3])


@pytest.fixture(scope="module")
def tree() -> KubesprayTree:
    return KubesprayTree(kubespray_dir("2.30.0"), "2.30.0")


def test_skip_downloads_skips_every_item(tree: KubesprayTree) -> None:
    ev = make_evaluator(tree, DOWNLOAD_ROLES, {"skip_downloads": True}, Target("amd64"))
    assert select_downloads(ev) == ([], [])
    files, images = select_downloads(make_evaluator(tree, DOWNLOAD_ROLES, {}, Target("amd64")))
    assert files and images

