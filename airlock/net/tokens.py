"""Registry authorization: challenges, bearer tokens with expiry, one token per (realm, service, scopes).

A registry answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope="a b"``. The
token service is asked with one ``scope=`` parameter per space-separated scope (the distribution
token spec; a cross-repository mount challenges with two). Tokens are cached per (realm, service,
scopes) and remembered per (host, what the request needs), so later requests carry the right token
without a 401 first. A token is renewed shortly before it expires (``expires_in``, default 60 s;
``issued_at`` against the token response's ``Date``), and once more when a registry still refuses it.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from airlock.bounded import load_json
from airlock.errors import RegistryError

IDENTITY_TOKEN = "<token>"  # the user name docker writes for an identity token instead of a password
DEFAULT_EXPIRES_IN = 60.0  # the token spec's default when the service omits expires_in
_PARAM = re.compile(r'([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass(frozen=True)
class Challenge:
    scheme: str                 # "basic" or "bearer"
    realm: str
    service: str
    scopes: tuple[str, ...]     # sorted, as the registry asked for them

    @property
    def key(self) -> tuple[str, str, tuple[str, ...]]:
        return self.realm, self.service, self.scopes


def parse_challenge(header: str) -> Challenge | None:
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params = {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
              for m in _PARAM.finditer(rest)}
    return Challenge(scheme.lower(), params.get("realm", ""), params.get("service", ""),
                     tuple(sorted(set((params.get("scope") or "").split()))))


def merge_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """One scope per resource with the union of its actions: ``repository:a:pull`` and
    ``repository:a:pull,push`` make ``repository:a:pull,push``."""
    actions: dict[str, set[str]] = {}
    for scope in scopes:
        resource, _, acts = scope.rpartition(":")
        if not resource:  # not type:name:actions; keep as the registry wrote it
            actions.setdefault(scope, set())
            continue
        actions.setdefault(resource, set()).update(a for a in acts.split(",") if a)
    return tuple(sorted(f"{r}:{','.join(sorted(a))}" if a else r for r, a in actions.items()))


def basic_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def env_hint(host: str) -> str:
    return (f"log in (docker/podman login {host}, or a docker credential helper), set REGISTRY_AUTH_FILE, "
            f"or AIRLOCK_AUTH_{re.sub(r'[^A-Za-z0-9]', '_', host).upper()}=user:password")


@dataclass
class _Token:
    header: str
    deadline: float | None      # monotonic time to renew at; None: never expires (basic)


class Authorizer:
    """Thread-safe token cache of one registry client.

    ``credentials(host)`` gives (user, password) or None; ``request(method, url, **kw)`` is the
    retrying HTTP request of :class:`airlock.net.http.Net`.
    """

    def __init__(self, request: Callable[..., Any], credentials: Callable[[str], tuple[str, str] | None],
                 clock: Callable[[], float] = time.monotonic):
        self._request, self._credentials, self._clock = request, credentials, clock
        self._tokens: dict[tuple[str, str, tuple[str, ...]], _Token] = {}
        self._challenges: dict[tuple[str, str], Challenge] = {}   # (host, need) -> its last challenge
        self._hosts: dict[str, Challenge | None] = {}              # host -> what its /v2/ answered
        self._host_locks: dict[str, threading.Lock] = {}
        self._key_locks: dict[tuple[str, str, tuple[str, ...]], threading.Lock] = {}
        self._lock = threading.Lock()

    def header(self, base: str, need: str, what: str) -> str | None:
        """The Authorization value to send for ``need`` at ``base`` (scheme://host), renewed if about
        to expire. For a need not seen yet, the token comes from what ``/v2/`` answered (asked once
        per host, as docker does), so parallel first requests are not each refused with a 401."""
        host = base.split("://", 1)[1]
        with self._lock:
            challenge = self._challenges.get((host, need))
            token = self._tokens.get(challenge.key) if challenge else None
        if challenge is None:
            ping = self._ping(base, host, what)
            if ping is None or (ping.scheme == "basic" and not self._credentials(host)):
                return None
            challenge = Challenge(ping.scheme, ping.realm, ping.service, merge_scopes(tuple(need.split())))
            with self._lock:
                challenge = self._challenges.setdefault((host, need), challenge)
                token = self._tokens.get(challenge.key)
        if token is None or (token.deadline is not None and self._clock() >= token.deadline):
            return self._obtain(challenge, host, what, stale=token.header if token else None)
        return token.header

    def _ping(self, base: str, host: str, what: str) -> Challenge | None:
        with self._lock:
            if host in self._hosts:
                return self._hosts[host]
            host_lock = self._host_locks.setdefault(host, threading.Lock())
        with host_lock:
            with self._lock:
                if host in self._hosts:
                    return self._hosts[host]
            resp = self._request("GET", f"{base}/v2/", what=what)
            found = parse_challenge(resp.headers.get("WWW-Authenticate", "")) if resp.status_code == 401 else None
            if found is not None and (found.scheme not in ("basic", "bearer")
                                      or (found.scheme == "bearer" and not found.realm)):
                found = None  # nothing to act on in advance: the request's own 401 will say
            with self._lock:
                self._hosts[host] = found
            return found

    def refused(self, resp: Any, host: str, need: str, sent: str | None, what: str) -> str:
        """After a 401: the header to retry with (a new token unless another thread just got one)."""
        challenge = parse_challenge(resp.headers.get("WWW-Authenticate", ""))
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            scheme = challenge.scheme if challenge else "none"
            raise RegistryError(f"{what}: {host} requires authentication of an unknown kind ({scheme})")
        if challenge.scheme == "bearer":
            # Ask at once for everything this kind of request needs (push: pull,push), not only what
            # this one request was challenged for (a HEAD: pull), so the next request is not refused.
            challenge = Challenge(challenge.scheme, challenge.realm, challenge.service,
                                  merge_scopes(challenge.scopes + tuple(need.split())))
        with self._lock:
            self._challenges[(host, need)] = challenge
        return self._obtain(challenge, host, what, stale=sent)

    def _obtain(self, challenge: Challenge, host: str, what: str, stale: str | None) -> str:
        with self._lock:
            key_lock = self._key_locks.setdefault(challenge.key, threading.Lock())
        with key_lock:  # one token request per key, however many threads wait for it
            with self._lock:
                have = self._tokens.get(challenge.key)
            if have and have.header != stale and (have.deadline is None or self._clock() < have.deadline):
                return have.header
            token = self._basic(host, what) if challenge.scheme == "basic" else self._fetch(challenge, host, what)
            with self._lock:
                self._tokens[challenge.key] = token
            return token.header

    def _basic(self, host: str, what: str) -> _Token:
        creds = self._credentials(host)
        if not creds or creds[0] == IDENTITY_TOKEN:
            raise RegistryError(f"{what}: {host} requires credentials (401)"
                                + (" and takes no identity token" if creds else ""), hint=env_hint(host))
        return _Token(basic_header(*creds), None)

    def _fetch(self, challenge: Challenge, host: str, what: str) -> _Token:
        if not challenge.realm:
            raise RegistryError(f"{what}: {host} sent a bearer challenge without realm")
        params = [("service", challenge.service)] if challenge.service else []
        params += [("scope", s) for s in challenge.scopes]  # one parameter per scope, as the spec says
        creds = self._credentials(host)
        started = self._clock()
        if creds and creds[0] == IDENTITY_TOKEN:
            # an identity (refresh) token, as `docker login` stores for some registries: OAuth2 grant
            form = {"grant_type": "refresh_token", "refresh_token": creds[1], "client_id": "airlock",
                    "service": challenge.service, "scope": " ".join(challenge.scopes)}
            resp = self._request("POST", challenge.realm, what=what, data=form)
        else:
            headers = {"Authorization": basic_header(*creds)} if creds else {}
            resp = self._request("GET", challenge.realm, what=what, params=params, headers=headers)
        if resp.status_code == 401:
            raise RegistryError(f"{what}: the token service of {host} refused "
                                f"{'the credentials' if creds else 'anonymous access'} (401)", hint=env_hint(host))
        if resp.status_code == 429:
            raise rate_limited(what, host)
        if resp.status_code != 200:
            raise RegistryError(f"{what}: token service {challenge.realm} answered HTTP {resp.status_code}")

        data = load_json(resp.content, RegistryError, f"{what}: token service {challenge.realm}")
        if not isinstance(data, dict):
            data = {}
        token = data.get("token") or data.get("access_token")
        if not token or not isinstance(token, str):
            raise RegistryError(f"{what}: token service {challenge.realm} returned no token")
        return _Token(f"Bearer {token}", started + lifetime(data, resp.headers.get("Date")))


def lifetime(data: dict[str, Any], date: str | None) -> float:
    """Seconds to use a token for: ``expires_in`` less its age when received, less a safety margin.

    The age is ``Date - issued_at``, both the token server's clock, so a skewed local clock does
    not matter. The margin (a tenth, at most 30 s) covers the requests in flight when it runs out.
    """
    try:
        expires_in = float(data.get("expires_in") or DEFAULT_EXPIRES_IN)
    except (TypeError, ValueError):
        expires_in = DEFAULT_EXPIRES_IN
    age = 0.0
    issued = data.get("issued_at")
    if isinstance(issued, str) and date:
        try:
            # Go writes nanoseconds; fromisoformat takes at most microseconds
            issued_at = datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", issued.replace("Z", "+00:00")))
            age = (parsedate_to_datetime(date) - issued_at).total_seconds()
        except (TypeError, ValueError):
            age = 0.0
    age = min(max(age, 0.0), expires_in)
    return expires_in - age - min(30.0, expires_in / 10)


def rate_limited(what: str, host: str) -> RegistryError:
    return RegistryError(f"{what}: rate limited: log in to {host} (HTTP 429 persisted after retries)",
                         hint="anonymous pulls are rate limited; " + env_hint(host) + ", or use a mirror")
