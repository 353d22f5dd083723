"""The one place that builds HTTP clients. Tests inject an ``httpx`` transport."""

from __future__ import annotations

from typing import Any

from airlock import __version__

USER_AGENT = f"airlock/{__version__}"


def http_client(transport: Any = None, *, timeout: float = 60.0) -> Any:
    import httpx  # imported here: plan must start fast and rarely needs the network

    return httpx.Client(
        transport=transport,
        follow_redirects=True,
        timeout=httpx.Timeout(timeout, connect=15.0),
        headers={"User-Agent": USER_AGENT},
    )
