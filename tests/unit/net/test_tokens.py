"""Bearer tokens: one scope= per scope, caching per (realm, service, scopes), expiry, renewal on 401."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from airlock.errors import RegistryError
from airlock.net.http import Net
from airlock.net.registry import Registry
from airlock.net.tokens import lifetime, parse_challenge
from airlock.reference import parse_ref

BLOB = b"layer bytes"
DIGEST = "sha256:" + __import__("hashlib").sha256(BLOB).hexdigest()


class Upstream:
    """A registry at reg.test whose tokens (from auth.test) last ``ttl`` seconds of a fake clock."""

    def __init__(self, ttl: int | None = 300):
        self.now = 0.0
        self.ttl = ttl
        self.issued: dict[str, float] = {}
        self.token_queries: list[list[tuple[str, str]]] = []
        self.registry_requests: list[tuple[str, str, str | None]] = []

    def clock(self) -> float:
        return self.now

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            query = [(k, v) for k, vs in parse_qs(urlsplit(str(request.url)).query).items() for v in vs]
            self.token_queries.append(query)
            token = f"t{len(self.token_queries)}"
            self.issued[token] = self.now
            body = {"token": token, **({"expires_in": self.ttl} if self.ttl else {})}
            return httpx.Response(200, json=body)
        auth = request.headers.get("Authorization")
        self.registry_requests.append((request.method, request.url.path, auth))
        token = (auth or "").removeprefix("Bearer ")
        ttl = self.ttl or 60
        if token not in self.issued or self.now >= self.issued[token] + ttl:
            repo = request.url.path.split("/")[2]
            return httpx.Response(401, headers={"WWW-Authenticate": f'Bearer realm="https://auth.test/token",'
                                                                    f'service="reg.test",scope="repository:{repo}:pull"'})
        return httpx.Response(200, stream=httpx.ByteStream(BLOB))


def _registry(up: Upstream) -> Registry:
    net = Net(transport=httpx.MockTransport(up.handler), retries=0, backoff=0.0)
    return Registry(net, clock=up.clock)


def _read_blob(reg: Registry, repo: str = "reg.test/a/b:1") -> bytes:
    with reg.open_blob(parse_ref(repo), DIGEST, 0, what="blob") as resp:
        return b"".join(resp.iter_raw())


def test_challenge_with_several_scopes_becomes_one_parameter_each() -> None:
    ch = parse_challenge('Bearer realm="https://auth.test/token",service="reg.test",'
                         'scope="repository:b:pull,push repository:a:pull",error="insufficient_scope"')
    assert ch is not None and ch.scopes == ("repository:a:pull", "repository:b:pull,push")
    seen: list[list[tuple[str, str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            seen.append(list(httpx.QueryParams(request.url.query).multi_items()))
            return httpx.Response(200, json={"token": "tok"})
        if request.headers.get("Authorization") != "Bearer tok":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.test/token",'
                                  'service="reg.test",scope="repository:b:pull,push repository:a:pull"'})
        return httpx.Response(201)

    reg = Registry(Net(transport=httpx.MockTransport(handler), retries=0))
    resp = reg.call("https://reg.test", "b", "POST", "blobs/uploads/", what="push", push=True,
                    also=("repository:a:pull",), params={"mount": DIGEST, "from": "a"}, ok=(201,))
    assert resp.status_code == 201
    assert seen == [[("service", "reg.test"), ("scope", "repository:a:pull"), ("scope", "repository:b:pull,push")]]


def test_token_is_cached_per_scope_set_and_reused_without_401() -> None:
    up = Upstream()
    reg = _registry(up)
    for _ in range(5):
        assert _read_blob(reg) == BLOB
    assert len(up.token_queries) == 1
    assert [r[2] for r in up.registry_requests] == [None] + ["Bearer t1"] * 5  # one 401, then the cached token


def test_token_is_renewed_before_it_expires() -> None:
    up = Upstream(ttl=300)
    reg = _registry(up)
    _read_blob(reg)
    up.now = 280.0  # within the last tenth of its life: renewed before use, no 401
    _read_blob(reg)
    assert len(up.token_queries) == 2
    assert [r[2] for r in up.registry_requests] == [None, "Bearer t1", "Bearer t2"]


def test_default_lifetime_is_60_seconds() -> None:
    up = Upstream(ttl=None)
    reg = _registry(up)
    _read_blob(reg)
    up.now = 55.0
    _read_blob(reg)
    assert len(up.token_queries) == 2


def test_a_refused_token_is_renewed_once_then_the_request_retried() -> None:
    up = Upstream(ttl=300)
    reg = _registry(up)
    _read_blob(reg)
    up.issued.clear()  # the registry revokes every token (or its clock runs ahead of ours)
    assert _read_blob(reg) == BLOB
    assert [r[2] for r in up.registry_requests] == [None, "Bearer t1", "Bearer t1", "Bearer t2"]


def test_a_token_refused_twice_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            return httpx.Response(200, json={"token": "useless"})
        return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.test/t",service="s"'})

    reg = Registry(Net(transport=httpx.MockTransport(handler), retries=0))
    with pytest.raises(RegistryError, match="refused the credentials"):
        _read_blob(reg)


def test_lifetime_uses_issued_at_against_the_servers_date() -> None:
    data = {"expires_in": 300, "issued_at": "2026-01-01T00:00:00.123456789Z"}
    assert lifetime(data, "Thu, 01 Jan 2026 00:02:00 GMT") == pytest.approx(300 - 120 - 30, abs=1)
    assert lifetime({"expires_in": 300}, None) == 270
    assert lifetime({"expires_in": "junk"}, None) == 54  # the spec's default of 60 s


def test_persistent_429_says_rate_limited_log_in_naming_the_registry() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "0"})

    reg = Registry(Net(transport=httpx.MockTransport(handler), retries=1, backoff=0.0))
    with pytest.raises(RegistryError, match=r"rate limited: log in to docker\.io") as err:
        reg.manifest(parse_ref("nginx:1.29"), "1.29", what="image nginx:1.29")
    assert "docker login" in (err.value.hint or "") or "login" in (err.value.hint or "")
    with pytest.raises(RegistryError, match=r"rate limited: log in to docker\.io"):
        _read_blob(reg, "docker.io/library/nginx:1.29")


def test_token_response_without_token_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            return httpx.Response(200, content=json.dumps({"nothing": 1}).encode())
        return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.test/t"'})

    reg = Registry(Net(transport=httpx.MockTransport(handler), retries=0))
    with pytest.raises(RegistryError, match="returned no token"):
        _read_blob(reg)


def test_push_asks_once_for_pull_and_push_though_a_head_is_challenged_for_pull() -> None:
    queries: list[list[tuple[str, str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            queries.append(list(httpx.QueryParams(request.url.query).multi_items()))
            return httpx.Response(200, json={"token": "pp"})
        action = "pull" if request.method == "HEAD" else "pull,push"
        if request.headers.get("Authorization") != "Bearer pp":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.test/t",'
                                                f'service="reg.test",scope="repository:m/a:{action}"'})
        return httpx.Response(404 if request.method == "HEAD" else 202)

    reg = Registry(Net(transport=httpx.MockTransport(handler), retries=0))
    reg.call("https://reg.test", "m/a", "HEAD", f"blobs/{DIGEST}", what="push", push=True, ok=(404,))
    reg.call("https://reg.test", "m/a", "POST", "blobs/uploads/", what="push", push=True, ok=(202,))
    assert queries == [[("service", "reg.test"), ("scope", "repository:m/a:pull,push")]]


def test_identity_token_is_exchanged_as_an_oauth2_refresh_token() -> None:
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            assert request.method == "POST" and "Authorization" not in request.headers
            forms.append(parse_qs(request.content.decode()))
            return httpx.Response(200, json={"access_token": "acc", "expires_in": 300})
        if request.headers.get("Authorization") != "Bearer acc":
            return httpx.Response(401, headers={"WWW-Authenticate": 'Bearer realm="https://auth.test/oauth2/token",'
                                                                    'service="reg.test",scope="repository:a/b:pull"'})
        return httpx.Response(200, stream=httpx.ByteStream(BLOB))

    reg = Registry(Net(transport=httpx.MockTransport(handler), retries=0), credentials=("<token>", "refresh-me"))
    assert _read_blob(reg) == BLOB
    assert forms == [{"grant_type": ["refresh_token"], "refresh_token": ["refresh-me"], "client_id": ["airlock"],
                      "service": ["reg.test"], "scope": ["repository:a/b:pull"]}]


def test_parallel_first_requests_share_one_ping_and_one_token() -> None:
    from concurrent.futures import ThreadPoolExecutor

    up = Upstream()
    reg = _registry(up)
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda _: _read_blob(reg), range(16))) == [BLOB] * 16
    unauthorized = [r for r in up.registry_requests if r[2] is None]
    assert [r[1] for r in unauthorized] == ["/v2/"] and len(up.token_queries) == 1
