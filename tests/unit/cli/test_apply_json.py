"""apply --json: the dry run's document carries the plan and no timings; a real run's keeps its timings."""

from __future__ import annotations

import json

from airlock.apply.options import ApplyReport
from airlock.apply.plan import plan_site
from airlock.cli.apply import _report_json
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
