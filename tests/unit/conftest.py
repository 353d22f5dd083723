"""Unit-suite settings: how deep the property tests (hypothesis) search, and what the garbage collector walks.

One profile for every ``@given`` test: ``AIRLOCK_FUZZ_EXAMPLES`` examples each, 10 by default so a
developer's run of the unit suite stays quick; tests/run.sh (CI) sets 250, which searches deeper than
hypothesis's own default of 100. Derandomized, so every run draws the same examples and a failure
reproduces; no example database, so no run depends on what an earlier one found.
"""

from __future__ import annotations

import gc
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("airlock", max_examples=int(os.environ.get("AIRLOCK_FUZZ_EXAMPLES", "10")), deadline=None,
                          derandomize=True, database=None, suppress_health_check=list(HealthCheck))
settings.load_profile("airlock")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Everything imported by now (airlock, pydantic, jinja2, hypothesis, the test modules) lives until
    the process ends: freezing it keeps the collector from walking it again in every full collection
    and in the five pytest runs at the end to surface unraisable exceptions (seconds on this heap).
    What the tests create afterwards is collected as usual."""
    gc.freeze()
