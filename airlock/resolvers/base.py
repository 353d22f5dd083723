"""The one contract every kind of lock content follows, so that ``resolve`` and ``resolve --check`` are
a loop over kinds and not a list of special cases.

A kind (files, images, OS packages with their repository keys, the Python wheels, airlock's own
runtime) turns the plan into *units*: one artifact for the per-entry kinds (a file, an image), one
closure for the others (an OS's packages, a set of requirements). For each unit the old lock is asked
first (:meth:`Resolver.reuse`), and only what it cannot give is resolved over the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from airlock.lockfile.model import Lock

Unit = TypeVar("Unit")


@dataclass
class Part:
    """What one unit adds to the lock: pins per ``Lock`` field, ``packages_inputs`` entries, warnings."""
    entries: dict[str, list[Any]] = field(default_factory=dict)
    inputs: dict[str, str] = field(default_factory=dict)
    moved: list[str] = field(default_factory=list)


@dataclass
class Verdict:
    """What ``--check`` found for one kind: entries the lock lacks, else a reason it is stale, and how many
    entries it holds that the manifest no longer needs."""
    missing: list[str] = field(default_factory=list)
    reason: str | None = None
    extra: int = 0


class Resolver(Protocol[Unit]):
    kind: str
    # True: one lock entry per unit, resolved in parallel with the other per-entry kinds, counted in the
    # summary and selectable by ``--upgrade NAME``. False: a closure, upgraded only by a bare --upgrade.
    per_entry: bool

    def units(self) -> list[Unit]:
        """The inputs, from the plan and the manifest."""

    def key(self, unit: Unit) -> str:
        """The label of progress lines."""

    def names(self, unit: Unit) -> tuple[str, ...]:
        """What ``--upgrade NAME`` matches (empty for closures)."""

    def reuse(self, unit: Unit) -> Part | None:
        """The unit's pins taken from the old lock, or None when they must be resolved. No network."""

    def resolve(self, unit: Unit) -> Part:
        """Pin the unit; raise an AirlockError naming it on failure."""

    def check(self, units: list[Unit], lock: Lock) -> Verdict:
        """Whether ``lock`` pins these units. No network."""
