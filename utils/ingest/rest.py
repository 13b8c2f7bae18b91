"""REST collector: fetch every page of one JSON API source and hand back the raw bodies.

A pure client library (standard library, httpx, tenacity): it knows nothing of the
lake. The caller (the landing writer) lands `Delivery.pages` byte for byte, writes
`Delivery.attempts` to the ingestion audit log, and only then persists
`Delivery.cursor` (DESIGN §11). Used as::

    delivery = fetch(RestSpec(url="http://127.0.0.1:8123/churn/support_tickets",
                              pagination="cursor", incremental_param="updated_since",
                              incremental_field="updated_at"), cursor=saved_cursor)

Every request has a timeout; connection errors, timeouts, dropped connections,
HTTP 429 and 5xx, and malformed pages (invalid JSON, records path missing) are
retried with exponential back-off and full jitter, honouring Retry-After on 429/503.
Other 4xx (and 3xx: redirects are not followed) fail at once. Failures raise
`CollectError`, whose one-line message names the URL and never the secret.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

log = logging.getLogger(__name__)

PAGINATIONS = ("none", "page", "offset", "cursor", "link")
_RETRY_AFTER_STATUSES = (429, 503)
_MISSING = object()


@dataclass(frozen=True)
class RestSpec:
    """How to fetch one REST source: endpoint, records path, pagination, auth, retries."""

    url: str
    records: str = "data"
    pagination: str = "none"
    page_param: str = "page"
    size_param: str = "page_size"
    page_size: int = 100
    offset_param: str = "offset"
    cursor_param: str = "cursor"
    next_cursor: str = "next_cursor"
    incremental_param: str | None = None
    incremental_field: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    auth_header: str | None = None
    auth_env: str | None = None
    auth_prefix: str = ""
    timeout_s: float = 10.0
    max_attempts: int = 6
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_pages: int = 10_000


@dataclass
class Attempt:
    """One HTTP attempt (successful or not), one row of the ingestion audit log.

    `params` are the query parameters sent (never the secret, which travels in a header);
    for a followed Link the query is part of `url` and `params` is empty. `status` is None
    when no response came (`error` says why); `error` is None for a good page.
    """

    url: str
    params: dict
    attempt: int
    status: int | None
    error: str | None
    seconds: float
    retry_after_s: float | None


@dataclass
class Delivery:
    """What one fetch got: the raw page bodies in order, their record count, the new cursor."""

    pages: list[bytes]
    records: int
    cursor: str | None
    attempts: list[Attempt]


class CollectError(RuntimeError):
    """A source could not be fetched; the message is one line naming the URL."""


class _Retryable(Exception):
    """A failed attempt worth retrying; `retry_after_s` is the server's Retry-After, if any."""

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class _Page:
    response: httpx.Response
    body: Any
    records: list


def fetch(
    spec: RestSpec,
    *,
    cursor: str | None = None,
    env: Mapping[str, str] | None = None,
    client: httpx.Client | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Every page of `spec.url`, in order, as raw bytes, with the record count and new cursor.

    `cursor` is the incremental cursor saved by the previous run (sent as
    `spec.incremental_param`). The returned `Delivery.cursor` is the largest
    `spec.incremental_field` among the records and the old cursor, compared as text
    (ISO-8601 timestamps sort right); the old cursor when no record has one. The
    CALLER persists it only after the pages are landed, so a failed landing refetches.
    `env` (default: `os.environ`) holds the secret named by `spec.auth_env`; `sleep`
    is how back-off waits (tests inject a recorder). Raises `CollectError`.
    """
    if spec.pagination not in PAGINATIONS:
        raise CollectError(f"source {spec.url}: unknown pagination {spec.pagination!r}, expected one of {PAGINATIONS}")
    try:
        httpx.URL(spec.url)
    except httpx.InvalidURL as exc:
        raise CollectError(f"source {spec.url}: invalid URL ({exc})") from None
    headers, secret = _auth_headers(spec, env)
    own_client = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(spec.timeout_s), follow_redirects=False)
    run = _Run(spec, http, headers, secret, on_attempt, sleep)
    try:
        return run.all_pages(cursor)
    finally:
        if own_client:
            http.close()


def _auth_headers(spec: RestSpec, env: Mapping[str, str] | None) -> tuple[dict[str, str], str | None]:
    """The request headers carrying the secret, and the secret itself (for redaction)."""
    if not spec.auth_env:
        return {}, None
    secret = (os.environ if env is None else env).get(spec.auth_env)
    if not secret:
        raise CollectError(f"source {spec.url}: environment variable {spec.auth_env} is not set")
    return {spec.auth_header or "Authorization": spec.auth_prefix + secret}, secret


class _Run:
    """One fetch: the pagination loop and the retried page request."""

    def __init__(self, spec, http, headers, secret, on_attempt, sleep) -> None:
        self.spec, self.http, self.headers, self.secret = spec, http, headers, secret
        self.on_attempt, self.sleep = on_attempt, sleep
        self.attempts: list[Attempt] = []

    def all_pages(self, cursor: str | None) -> Delivery:
        """Walk the pages as `spec.pagination` says; stop at the last page or fail."""
        spec = self.spec
        base = dict(spec.params)
        if spec.incremental_param and cursor is not None:
            base[spec.incremental_param] = cursor
        if spec.pagination != "none":
            base[spec.size_param] = str(spec.page_size)
        pages: list[bytes] = []
        count = 0
        new_cursor = cursor
        url, params = spec.url, dict(base)
        offset, seen_cursors = 0, set()
        for number in range(1, spec.max_pages + 1):
            if spec.pagination == "page":
                params[spec.page_param] = str(number)
            elif spec.pagination == "offset":
                params[spec.offset_param] = str(offset)
            page = self._get_page(url, params, number)
            pages.append(page.response.content)
            count += len(page.records)
            new_cursor = _max_cursor(new_cursor, page.records, spec.incremental_field)
            if spec.pagination == "none":
                break
            if spec.pagination in ("page", "offset"):
                if len(page.records) < spec.page_size:
                    break
                offset += len(page.records)
            elif spec.pagination == "cursor":
                token = _next_cursor(page.body, spec.next_cursor)
                if token is None:
                    break
                if token in seen_cursors:
                    raise self._error(f"page {number}: next cursor {token!r} was already followed (a loop)")
                seen_cursors.add(token)
                params = {**base, spec.cursor_param: token}
            else:  # link
                target = self._next_link(page.response, number)
                if target is None:
                    break
                url, params = target, {}
        else:
            raise self._error(f"pagination did not end after max_pages={spec.max_pages} pages")
        log.info("source %s: %d page(s), %d record(s), %d attempt(s)", spec.url, len(pages), count, len(self.attempts))
        return Delivery(pages=pages, records=count, cursor=new_cursor, attempts=self.attempts)

    def _get_page(self, url: str, params: dict[str, str], number: int) -> _Page:
        """One page, retried on transient failures; CollectError when the retries run out."""
        spec = self.spec
        retrying = Retrying(
            stop=stop_after_attempt(max(1, spec.max_attempts)),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self.sleep,
            before_sleep=lambda state: self._log_retry(state, url, params, number),
            reraise=True,
        )
        tries = itertools.count(1)
        try:
            return retrying(self._attempt, url, params, number, tries)
        except _Retryable as exc:
            where = "" if url == spec.url else f" at {url}"
            problem = f"page {number}: gave up after {spec.max_attempts} attempts{where}, last error: {exc}"
            raise self._error(problem) from None

    def _attempt(self, url: str, params: dict[str, str], number: int, tries: itertools.count) -> _Page:
        """One HTTP request and the checks on its answer; raises _Retryable or CollectError."""
        spec = self.spec
        attempt = next(tries)
        log.debug("GET %s params=%s (page %d, attempt %d)", url, params, number, attempt)
        started = time.monotonic()
        status, error, retry_after = None, None, None
        try:
            try:
                response = self.http.get(  # params None keeps a query already in the URL (a next link)
                    url, params=params or None, headers=self.headers, timeout=httpx.Timeout(spec.timeout_s)
                )
            except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                error = self._clean(f"{type(exc).__name__}: {exc}")
                raise _Retryable(error) from None
            except (httpx.HTTPError, httpx.InvalidURL) as exc:  # not transient: a bad URL, protocol
                error = self._clean(f"{type(exc).__name__}: {exc}")
                raise self._error(f"page {number}: {error}") from None
            status = response.status_code
            if status == 429 or status >= 500:
                if status in _RETRY_AFTER_STATUSES:
                    retry_after = _retry_after_s(response.headers.get("Retry-After"))
                error = f"HTTP {status}"
                raise _Retryable(error, retry_after)
            if status >= 300 or status < 200:
                error = f"HTTP {status}"
                hint = " (redirects are not followed)" if 300 <= status < 400 else ""
                raise self._error(f"page {number}: HTTP {status} {response.reason_phrase}{hint}, not retried")
            try:
                body = json.loads(response.content)
            except ValueError as exc:
                error = self._clean(f"malformed page: body is not valid JSON ({exc})")
                raise _Retryable(error) from None
            records = _dig(body, spec.records)
            if not isinstance(records, list):
                what = "missing" if records is _MISSING else f"a {type(records).__name__}, not a list"
                error = f"malformed page: records path {spec.records or '(the page)'!r} is {what}"
                raise _Retryable(error)
            token = _dig(body, spec.next_cursor) if spec.pagination == "cursor" else None
            if token is not _MISSING and token is not None and not isinstance(token, str | int):
                error = f"malformed page: next cursor {spec.next_cursor!r} is a {type(token).__name__}, not text"
                raise _Retryable(error)
            return _Page(response, body, records)
        finally:
            self._record(Attempt(url, dict(params), attempt, status, error, time.monotonic() - started, retry_after))

    def _record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        if self.on_attempt is not None:
            self.on_attempt(attempt)

    def _wait(self, state: RetryCallState) -> float:
        """Seconds before the next attempt: Retry-After (capped) if given, else full-jitter back-off."""
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            return min(retry_after, self.spec.backoff_max_s)
        backoff = wait_random_exponential(multiplier=self.spec.backoff_initial_s, max=self.spec.backoff_max_s)
        return backoff(state)

    def _log_retry(self, state: RetryCallState, url: str, params: dict[str, str], number: int) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning(
            "GET %s params=%s (page %d) attempt %d/%d failed (%s); retrying in %.2f s",
            url, params, number, state.attempt_number, self.spec.max_attempts, exc, wait,
        )

    def _next_link(self, response: httpx.Response, number: int) -> str | None:
        """The absolute URL of the Link rel="next" target; only on the source's own origin."""
        target = response.links.get("next", {}).get("url")
        if not target:
            return None
        absolute = response.url.join(target)
        origin = httpx.URL(self.spec.url)
        if (absolute.scheme, absolute.host, absolute.port) != (origin.scheme, origin.host, origin.port):
            raise self._error(f"page {number}: next link leaves the source's origin ({absolute.host}), not followed")
        return str(absolute)

    def _clean(self, text: str) -> str:
        """One line, with the secret (if it ever came back in an error) redacted."""
        text = " ".join(text.split())
        return text.replace(self.secret, "***") if self.secret else text

    def _error(self, problem: str) -> CollectError:
        return CollectError(self._clean(f"source {self.spec.url}: {problem}"))


def _dig(obj: Any, path: str) -> Any:
    """The value at a dotted path of nested objects ("" = obj itself), or _MISSING."""
    if not path:
        return obj
    for key in path.split("."):
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _next_cursor(body: Any, path: str) -> str | None:
    """The next page's cursor as text, or None on the last page (null, absent or empty)."""
    value = _dig(body, path)
    if value is _MISSING or value is None or value == "":
        return None
    return str(value)


def _max_cursor(current: str | None, records: list, field_path: str | None) -> str | None:
    """The largest of `current` and each record's `field_path`, compared as text."""
    if not field_path:
        return current
    values = [_dig(r, field_path) for r in records]
    texts = [str(v) for v in values if v is not _MISSING and v is not None]
    if current is not None:
        texts.append(current)
    return max(texts) if texts else None


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent/unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
