"""The REST collector (utils.ingest.rest) against the real demo API on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import random
import socket
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from types import SimpleNamespace

import httpx
import pytest

from utils.ingest.demo_api import Faults, create_app, serve
from utils.ingest.rest import CollectError, RestSpec, _retry_after_s, fetch

SOURCE = "churn/support_tickets"
TOKEN = "s3cr3t-collector-token"
ENV = {"CHURN_API_TOKEN": TOKEN}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def make_records(n: int = 237, seed: int = 11) -> list[dict]:
    """n tickets with ids 1..n, shuffled, with tied updated_at values, a nested object and text."""
    records = [
        {
            "id": i,
            "updated_at": f"2024-03-{1 + (i * 5) % 28:02d}T10:{i % 3:02d}:00Z",
            "customer": {"id": f"C{i % 40:03d}", "plan": {"tier": ["free", "pro"][i % 2], "seats": i % 5}},
            "text": f'ticket #{i}: café "quoted", line\nbreak',
        }
        for i in range(1, n + 1)
    ]
    random.Random(seed).shuffle(records)
    return records


def served_order(records: list[dict]) -> list[dict]:
    return sorted(records, key=lambda r: (r["updated_at"], r["id"]))


def spec(base_url: str, **overrides) -> RestSpec:
    """A spec for the test source with tiny back-off and the token from ENV."""
    options = dict(
        pagination="page", page_size=50, backoff_initial_s=0.001, backoff_max_s=0.01, timeout_s=2.0,
        auth_header="Authorization", auth_env="CHURN_API_TOKEN", auth_prefix="Bearer ",
    )
    return RestSpec(url=f"{base_url}/{SOURCE}", **{**options, **overrides})


def delivered(delivery) -> list[dict]:
    """Every record of a delivery, page after page, parsed from the raw bytes."""
    return [record for page in delivery.pages for record in json.loads(page)["data"]]


class Waits(list):
    """An injected sleep: records each requested wait and returns at once."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def demo():
    """One demo API (token TOKEN) for the whole module; see `api` for the per-test state."""
    datasets: dict[str, list[dict]] = {}
    app = create_app(datasets, Faults(), token=TOKEN)
    with serve(app) as url:
        yield SimpleNamespace(url=url, app=app, datasets=datasets)


@pytest.fixture()
def api(demo):
    """The module's demo API with fresh records (`api.records`, mutable while serving) and no faults."""
    demo.records = demo.datasets[SOURCE] = make_records()
    demo.app.faults = Faults()
    return demo


@pytest.fixture(scope="module")
def http():
    """One client for the module (building an httpx client costs ~50 ms)."""
    with httpx.Client() as client:
        yield client


def assert_retried_to_success(delivery) -> list:
    """Each failed attempt is followed by the next attempt at the same request; returns the failures."""
    attempts = delivery.attempts
    failed = [a for a in attempts if a.error is not None]
    for a in failed:
        later = [b for b in attempts if (b.url, b.params) == (a.url, a.params) and b.attempt == a.attempt + 1]
        assert len(later) == 1, a
    requests = {(a.url, json.dumps(a.params, sort_keys=True)) for a in attempts}
    succeeded = {(a.url, json.dumps(a.params, sort_keys=True)) for a in attempts if a.error is None}
    assert requests == succeeded and len(succeeded) == len(delivery.pages)
    assert all(a.status == 200 for a in attempts if a.error is None)
    return failed


@pytest.mark.parametrize(
    ("pagination", "page_size", "pages"),
    [("none", 50, 1), ("page", 50, 5), ("page", 79, 4), ("offset", 50, 5), ("offset", 79, 4),
     ("cursor", 50, 5), ("cursor", 79, 3), ("link", 50, 5), ("link", 237, 1)],
)
def test_each_pagination_style_returns_exactly_the_servers_records_in_order(http, api, pagination, page_size, pages):
    delivery = fetch(spec(api.url, pagination=pagination, page_size=page_size), env=ENV, client=http)
    assert delivered(delivery) == served_order(api.records)
    assert delivery.records == 237 and len(delivery.pages) == pages
    assert [a.attempt for a in delivery.attempts] == [1] * pages


def test_pages_are_kept_byte_for_byte(http, api):
    delivery = fetch(spec(api.url, pagination="offset", page_size=100), env=ENV)
    direct = [
        http.get(f"{api.url}/{SOURCE}", params={"page_size": 100, "offset": o}, headers=AUTH).content
        for o in (0, 100, 200)
    ]
    assert delivery.pages == direct


def test_records_path_empty_means_the_page_is_the_array(http):
    records = make_records(5)

    class Flat:  # the demo API wraps records; a tiny ASGI app that does not
        async def __call__(self, scope, receive, send):
            body = json.dumps(records).encode() if scope.get("path") != "/health" else b"{}"
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    with serve(Flat()) as url:
        delivery = fetch(RestSpec(url=f"{url}/flat", records=""), client=http)
    assert delivery.records == 5 and json.loads(delivery.pages[0]) == records


FAULTS = {
    "rate_limit": dict(rate_limit_every=3, retry_after_s=1),
    "burst_5xx": dict(burst_5xx=3, burst_every=2),
    "slow": dict(slow_every=3, slow_s=1.0),
    "malformed": dict(malformed_every=3),
    "drop": dict(drop_every=3),
}
FAILURES = {
    "rate_limit": {"HTTP 429"},
    "burst_5xx": {"HTTP 500", "HTTP 503"},
    "slow": {"ReadTimeout: timed out"},
    "malformed": {"malformed page: body is not valid JSON"},
    "drop": {"RemoteProtocolError: Server disconnected without sending a response."},
}


@pytest.mark.parametrize("pagination", ["page", "offset", "cursor", "link"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_is_retried_and_every_record_arrives_exactly_once(http, api, fault, pagination):
    api.app.faults = faults = Faults(**FAULTS[fault])
    waits = Waits()
    timeout_s = 0.3 if fault == "slow" else 2.0  # slow answers take 1 s; the others must not time out
    delivery = fetch(spec(api.url, pagination=pagination, timeout_s=timeout_s), env=ENV, client=http, sleep=waits)
    got = delivered(delivery)
    assert got == served_order(api.records)
    assert max(Counter(r["id"] for r in got).values()) == 1
    failed = assert_retried_to_success(delivery)
    assert failed, "the fault never fired"
    assert {a.error.split(" (")[0] for a in failed} == FAILURES[fault]
    assert len(delivery.attempts) == faults.requests  # every request the server saw is in the audit
    assert len(waits) == len(failed)


def test_429_waits_at_least_retry_after(http, api):
    waits = Waits()
    api.app.faults = Faults(rate_limit_every=2, retry_after_s=3)
    delivery = fetch(spec(api.url, backoff_max_s=30), env=ENV, client=http, sleep=waits)
    limited = [a for a in delivery.attempts if a.status == 429]
    assert len(limited) == 4 and all(a.retry_after_s == 3 for a in limited)  # requests 2, 4, 6, 8 of 9
    assert waits == [3.0] * 4


def test_retry_after_is_capped_by_backoff_max(http, api):
    waits = Waits()
    api.app.faults = Faults(rate_limit_every=2, retry_after_s=60)
    fetch(spec(api.url, backoff_max_s=0.5), env=ENV, client=http, sleep=waits)
    assert waits == [0.5] * 4


def test_retry_after_reads_seconds_and_http_dates():
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert _retry_after_s("7") == 7.0
    assert 28 <= _retry_after_s(soon) <= 30
    assert _retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert _retry_after_s("soon") is None and _retry_after_s(None) is None


def test_backoff_is_exponential_with_full_jitter_and_capped(http, api):
    waits = Waits()
    api.app.faults = Faults(down=True)
    with pytest.raises(CollectError):
        fetch(spec(api.url, max_attempts=8, backoff_initial_s=0.01, backoff_max_s=0.2), env=ENV, sleep=waits)
    assert len(waits) == 7
    for k, wait in enumerate(waits, start=1):
        assert 0 <= wait <= min(0.2, 0.01 * 2 ** (k - 1))


def test_a_server_that_stays_down_raises_after_max_attempts(http, api, caplog):
    waits = Waits()
    caplog.set_level(logging.DEBUG)
    api.app.faults = Faults(down=True)
    with pytest.raises(CollectError) as caught:
        fetch(spec(api.url, max_attempts=4), env=ENV, client=http, sleep=waits)
    message = str(caught.value)
    assert "\n" not in message and TOKEN not in message
    assert f"{api.url}/{SOURCE}" in message and "HTTP 503" in message and "4 attempts" in message
    assert len(waits) == 3
    assert len([r for r in caplog.records if r.levelno == logging.WARNING and "retrying" in r.getMessage()]) == 3


def test_connection_refused_is_retried_then_raises(http):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        attempts = []
        with pytest.raises(CollectError, match=r"ConnectError") as caught:
            fetch(spec(f"http://127.0.0.1:{port}", max_attempts=3), env=ENV, client=http,
                  on_attempt=attempts.append, sleep=Waits())
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert [(a.attempt, a.status) for a in attempts] == [(1, None), (2, None), (3, None)]


def test_a_page_that_stays_malformed_raises_naming_url_page_and_problem(http, api):
    api.app.faults = Faults(malformed_every=1)
    with pytest.raises(CollectError) as caught:
        fetch(spec(api.url, max_attempts=3), env=ENV, client=http, sleep=Waits())
    message = str(caught.value)
    assert f"{api.url}/{SOURCE}" in message and "page 1" in message and "not valid JSON" in message


def test_a_missing_records_path_is_a_malformed_page(http, api):
    with pytest.raises(CollectError, match=r"page 1: .*records path 'items' is missing"):
        fetch(spec(api.url, records="items", max_attempts=2), env=ENV, client=http, sleep=Waits())


def test_other_4xx_fail_at_once(http, api):
    attempts = []
    with pytest.raises(CollectError, match=r"HTTP 404 Not Found, not retried"):
        nope = replace(spec(api.url), url=f"{api.url}/churn/nope")
        fetch(nope, env=ENV, client=http, on_attempt=attempts.append, sleep=Waits())
    assert [(a.attempt, a.status) for a in attempts] == [(1, 404)]


def test_incremental_fetch_returns_only_records_updated_since_the_cursor(http, api):
    inc = dict(pagination="cursor", incremental_param="updated_since", incremental_field="updated_at")
    first = fetch(spec(api.url, **inc), env=ENV, client=http)
    assert delivered(first) == served_order(api.records)
    assert first.cursor == max(r["updated_at"] for r in api.records) == "2024-03-28T10:02:00Z"

    again = fetch(spec(api.url, **inc), cursor=first.cursor, env=ENV, client=http)
    assert again.records == 0 and again.cursor == first.cursor
    assert all(a.params["updated_since"] == first.cursor for a in again.attempts)

    new = [{"id": 1000 + i, "updated_at": f"2024-04-0{1 + i % 3}T00:00:00Z", "text": "new"} for i in range(60)]
    api.records.extend(new)  # the server reads the same list
    later = fetch(spec(api.url, **inc), cursor=first.cursor, env=ENV, client=http)
    assert delivered(later) == served_order(new)
    assert later.cursor == "2024-04-03T00:00:00Z"


def test_missing_secret_env_var_raises_before_any_request():
    attempts = []
    expected = r"^source http://127\.0\.0\.1:9/x: environment variable CHURN_API_TOKEN is not set$"
    with pytest.raises(CollectError, match=expected):
        fetch(RestSpec(url="http://127.0.0.1:9/x", auth_env="CHURN_API_TOKEN"), env={}, on_attempt=attempts.append)
    assert attempts == []


def test_wrong_token_fails_at_once_with_401(http, api):
    attempts, waits = [], Waits()
    with pytest.raises(CollectError, match=r"HTTP 401") as caught:
        wrong = {"CHURN_API_TOKEN": "wrong-token"}
        fetch(spec(api.url), env=wrong, client=http, on_attempt=attempts.append, sleep=waits)
    assert [(a.attempt, a.status) for a in attempts] == [(1, 401)]
    assert waits == [] and "wrong-token" not in str(caught.value)


def test_the_secret_never_appears_in_logs_or_attempts(http, api, caplog):
    caplog.set_level(logging.DEBUG)
    api.app.faults = Faults(rate_limit_every=4, burst_5xx=1, burst_every=5, malformed_every=7, drop_every=9)
    delivery = fetch(spec(api.url, pagination="link", page_size=20), env=ENV, client=http, sleep=Waits())
    assert delivered(delivery) == served_order(api.records)
    assert any(r.levelno == logging.DEBUG and r.name == "utils.ingest.rest" for r in caplog.records)
    assert any(r.levelno == logging.WARNING for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage() and TOKEN not in repr(record.args)
    assert TOKEN not in repr(delivery.attempts)


def test_on_attempt_sees_every_attempt_as_it_happens(http, api):
    seen = []
    api.app.faults = Faults(burst_5xx=2, burst_every=3)
    delivery = fetch(spec(api.url), env=ENV, client=http, on_attempt=seen.append, sleep=Waits())
    assert seen == delivery.attempts and len(seen) > len(delivery.pages)


def test_fetch_without_a_client_makes_and_closes_its_own(api):
    api.app.faults = Faults(drop_every=2)
    delivery = fetch(spec(api.url, pagination="cursor"), env=ENV, sleep=Waits())
    assert delivered(delivery) == served_order(api.records)


def test_max_pages_stops_a_pagination_that_does_not_end(http, api):
    with pytest.raises(CollectError, match=r"did not end after max_pages=2 pages"):
        fetch(spec(api.url, pagination="cursor", page_size=10, max_pages=2), env=ENV, client=http)


def test_an_invalid_url_is_a_collect_error():
    with pytest.raises(CollectError, match=r"^source http://127\.0\.0\.1:port/x: invalid URL"):
        fetch(RestSpec(url="http://127.0.0.1:port/x"))


def test_unknown_pagination_is_refused():
    with pytest.raises(CollectError, match=r"unknown pagination 'pages'"):
        fetch(RestSpec(url="http://127.0.0.1:9/x", pagination="pages"))
