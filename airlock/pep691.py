"""PEP 691, the JSON form of the Python simple repository API: its media type, which the resolver
asks PyPI for, apply writes the site's index in, and serve and nginx negotiate with pip."""

from __future__ import annotations

PYPI_JSON = "application/vnd.pypi.simple.v1+json"
