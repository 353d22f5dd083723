"""The one base of every model read from a file airlock does not trust (airlock.yaml, airlock.lock,
bundle.json): an unknown key is an error, not something silently dropped, and a parsed value is frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
