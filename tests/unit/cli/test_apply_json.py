"""apply --json: the dry run's document carries the plan and no timings; a real run's keeps its timings.
The text dry run lists the plan's repodata too."""

from __future__ import annotations

import json

import pytest

from airlock.apply.options import ApplyOptions, ApplyReport
from airlock.apply.plan import plan_json, plan_site
from airlock.cli.apply import _render, _report_json
from tests.unit.apply.test_plan_site import DEST, OPTS, view


def test_dry_run_json_is_the_plan_without_timings() -> None:
    plan = plan_site(view(), OPTS)
    report = ApplyReport(dest=DEST, changed=["airlock.lock"], lock_sha256=plan.lock_sha256, plan=plan, seconds=1.5)
    doc = _report_json(report, dry_run=True)
    assert doc["plan"]["outputs"]["airlock.lock"]["size"] == len(b"lock\n") and doc["changed"] == ["airlock.lock"]
    assert "seconds" not in doc and "push_seconds" not in doc and json.loads(json.dumps(doc)) == doc


def test_real_run_json_keeps_its_keys() -> None:
    report = ApplyReport(dest=DEST, seconds=1.23456, pushed={"images": 1}, push_seconds=0.5)
    doc = _report_json(report, dry_run=False)
    assert list(doc) == ["dest", "dry_run", "changed", "unchanged", "blobs_added", "lock_sha256", "pushed",
                         "seconds", "push_seconds"]
    assert doc["seconds"] == 1.235 and doc["push_seconds"] == 0.5 and "plan" not in doc


def test_dry_run_text_lists_the_repodata_createrepo_c_would_build(capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_site(view(), OPTS)
    report = ApplyReport(dest=DEST, changed=["airlock.lock"], lock_sha256=plan.lock_sha256, plan=plan)
    _render(report, ApplyOptions(dest=DEST, url=OPTS.url, dry_run=True))
    out = capsys.readouterr().out
    assert "would change 1 items" in out
    listed = out.split("repodata: createrepo_c would index 1 RPM repositories", 1)[1].splitlines()[1:]
    assert [line.strip().removesuffix("/repodata") for line in listed] == plan_json(plan)["repodata"] \
        == ["rpms/rocky-10/x86_64"]


def test_a_real_run_does_not_announce_repodata_it_has_built(capsys: pytest.CaptureFixture[str]) -> None:
    plan = plan_site(view(), OPTS)  # a real apply lists rpms/.../repodata among its changes when it rebuilt it
    _render(ApplyReport(dest=DEST, plan=plan), ApplyOptions(dest=DEST, url=OPTS.url))
    assert "createrepo_c" not in capsys.readouterr().out
