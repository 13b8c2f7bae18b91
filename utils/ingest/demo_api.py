"""Demo API server: each domain's API sources served from sample data, with switchable faults.

So every REST path of the lakehouse runs offline against a real HTTP server on
127.0.0.1 (DESIGN §11). Run it with::

    python -m utils.ingest.demo_api --data data/domains --port 8123 --rate-limit-every 7

where the --data folder holds `<domain>/api/<source>.jsonl` (one JSON record per line), served at
`GET /<domain>/<source>`. Tests start it in-process with `serve(create_app(...))`.

One route answers every pagination style at once: `page`+`page_size` (1-based),
`offset`+`limit`/`page_size`, or an opaque `cursor` (with `page_size`/`limit`); with
none of them, every record in one page. The body is
`{"data": [...], "next_cursor": str|null, "page": n, "total": N}` plus a
`Link: <url>; rel="next"` header while there is a next page. `updated_since` keeps
records whose `updated_at` is greater (as text). Records are served sorted by
(`updated_at`, `id`), so page k of a query is the same bytes every time.

Faults (`Faults`) are deterministic counters over the data requests (not /health).
Each fault answers a request either with a failure the client can recognise and
retry (a status, a dropped connection, invalid JSON) or late but correct, never
with wrong data, so a client that retries the same request gets every record
exactly once. (Cursors are offsets into the sorted records: records added during a
walk must sort last, i.e. carry a later `updated_at`, as real updates do.)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from utils.lake.http_thread import serve_in_thread

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


@dataclass
class Faults:
    """Which faults the server injects; all off by default; may be changed while serving.

    Data requests are numbered n = 1, 2, ... and at most one fault applies to each,
    checked in this order:

    - `down`: every request gets 503 (no Retry-After).
    - `drop_every` N: request n % N == 0 has its connection closed without a response.
    - `rate_limit_every` N: request n % N == 0 gets 429 with `Retry-After: retry_after_s`.
    - `burst_5xx` K (with `burst_every` M): requests come in cycles of K + M; the first
      K of each cycle get 500, 503, 500, ... (so requests 1..K fail first).
    - `slow_every` N: request n % N == 0 waits `slow_s` before answering (correctly).
    - `malformed_every` N: request n % N == 0 gets 200 with its JSON body cut in half.

    On its own each "every N" fault (N >= 2) fails no two requests in a row and a burst
    fails K in a row, so a client with more than K attempts per request always gets
    through. Faults combined may line up on the same run of requests.
    """

    rate_limit_every: int = 0
    retry_after_s: float = 1
    burst_5xx: int = 0
    burst_every: int = 10
    slow_every: int = 0
    slow_s: float = 0.0
    malformed_every: int = 0
    drop_every: int = 0
    down: bool = False
    requests: int = field(default=0, init=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def next_fault(self) -> str | None:
        """Count one data request and name the fault it gets, or None for a normal answer."""
        with self._lock:
            self.requests += 1
            n = self.requests
        if self.down:
            return "down"
        if _every(n, self.drop_every):
            return "drop"
        if _every(n, self.rate_limit_every):
            return "rate_limit"
        if self.burst_5xx > 0:
            position = (n - 1) % (self.burst_5xx + max(self.burst_every, 1))
            if position < self.burst_5xx:
                return "burst_500" if position % 2 == 0 else "burst_503"
        if _every(n, self.slow_every):
            return "slow"
        if _every(n, self.malformed_every):
            return "malformed"
        return None

    def reset(self) -> None:
        """Start counting requests from 1 again."""
        with self._lock:
            self.requests = 0


def _every(n: int, every: int) -> bool:
    return every > 0 and n % every == 0


class DemoAPI(FastAPI):
    """A FastAPI app whose faults act at the raw ASGI edge, where a connection can be dropped."""

    faults: Faults

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/health":
            await super().__call__(scope, receive, send)
            return
        fault = self.faults.next_fault()
        if fault is not None:
            log.info("fault %s on request %d: %s", fault, self.faults.requests, scope.get("path"))
        if fault == "down":
            await _send_status(send, 503, b"service down")
        elif fault == "drop":
            await _drop(send)
        elif fault == "rate_limit":
            retry_after = f"{self.faults.retry_after_s:g}".encode()
            await _send_status(send, 429, b"rate limited", [(b"retry-after", retry_after)])
        elif fault in ("burst_500", "burst_503"):
            await _send_status(send, int(fault[-3:]), b"burst")
        elif fault == "slow":
            if not await _client_stays(receive, self.faults.slow_s):
                return  # the client gave up: nobody to answer
            await super().__call__(scope, _replay(receive), send)
        elif fault == "malformed":
            await super().__call__(scope, receive, _truncating(send))
        else:
            await super().__call__(scope, receive, send)


async def _send_status(send, status: int, body: bytes, headers: list | None = None) -> None:
    head = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": head + (headers or [])})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _drop(send) -> None:
    """Close the connection without a response (uvicorn's transport; else mid-response)."""
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:  # not uvicorn: start a response and return, which servers close
        await send({"type": "http.response.start", "status": 200, "headers": []})
        return
    transport.close()
    for _ in range(100):  # let uvicorn see the close, so it does not send a 500 instead
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)


async def _client_stays(receive, seconds: float) -> bool:
    """Wait `seconds` (after reading the request); False as soon as the client disconnects."""
    await receive()  # the GET's (empty) request body

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(disconnected(), timeout=seconds)
    except TimeoutError:
        return True
    return False


def _replay(receive):
    """A receive that answers an empty request body first (already read), then defers."""
    first = [{"type": "http.request", "body": b"", "more_body": False}]

    async def again():
        return first.pop() if first else await receive()

    return again


def _truncating(send):
    """A send that cuts a 200 response's body in half (invalid JSON), other statuses untouched."""
    held: dict[str, Any] = {}

    async def cut(message):
        if message["type"] == "http.response.start" and message["status"] == 200:
            held["start"], held["body"] = message, b""
            return
        if "start" not in held:
            await send(message)
            return
        held["body"] += message.get("body", b"")
        if message.get("more_body"):
            return
        body = held["body"][: len(held["body"]) // 2]
        headers = [(k, v) for k, v in held["start"]["headers"] if k.lower() != b"content-length"]
        await send({**held["start"], "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    return cut


def create_app(datasets: Mapping[str, list[dict]], faults: Faults | None = None, token: str | None = None) -> FastAPI:
    """The demo API over `datasets` ("<domain>/<source>" -> records, read live per request).

    `app.faults` (a `Faults`) may be changed or replaced while serving. With `token`, data
    requests need `Authorization: Bearer <token>` (else 401); /health never does.
    """
    app = DemoAPI(title="Lakehouse demo API", docs_url=None, redoc_url=None)
    app.faults = faults or Faults()

    def check_token(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get("authorization", "")
        if not secrets.compare_digest(given.encode(), f"Bearer {token}".encode()):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "sources": sorted(datasets)}

    @app.get("/{domain}/{source}")
    def records(
        domain: str,
        source: str,
        request: Request,
        page: int | None = Query(None, ge=1),
        page_size: int | None = Query(None, ge=1, le=MAX_PAGE_SIZE),
        limit: int | None = Query(None, ge=1, le=MAX_PAGE_SIZE),
        offset: int | None = Query(None, ge=0),
        cursor: str | None = None,
        updated_since: str | None = None,
    ) -> JSONResponse:
        check_token(request)
        rows = datasets.get(f"{domain}/{source}")
        if rows is None:
            raise HTTPException(404, f"no source {domain}/{source}")
        return _page_response(request, _selected(rows, updated_since), page, page_size or limit, offset, cursor)

    return app


def _selected(rows: list[dict], updated_since: str | None) -> list[dict]:
    """The records newer than `updated_since` (all if None), sorted by (updated_at, id)."""
    if updated_since is not None:
        rows = [r for r in rows if r.get("updated_at") is not None and str(r["updated_at"]) > updated_since]
    return sorted(rows, key=_sort_key)


def _sort_key(record: dict) -> tuple:
    ident = record.get("id")
    numeric = isinstance(ident, int | float) and not isinstance(ident, bool)
    return (str(record.get("updated_at") or ""), (0, ident, "") if numeric else (1, 0, str(ident or "")))


def _page_response(request: Request, rows: list[dict], page, size, offset, cursor) -> JSONResponse:
    """One page of `rows` by whichever pagination style the query used, with its next link."""
    total = len(rows)
    if cursor is not None:
        start, step, style = _decode_cursor(cursor), size or DEFAULT_PAGE_SIZE, "cursor"
    elif offset is not None:
        start, step, style = offset, size or DEFAULT_PAGE_SIZE, "offset"
    elif page is not None:
        step = size or DEFAULT_PAGE_SIZE
        start, style = (page - 1) * step, "page"
    elif size is not None:
        start, step, style = 0, size, "cursor"
    else:
        start, step, style = 0, max(total, 1), "all"
    chunk = rows[start : start + step]
    end = start + len(chunk)
    next_cursor = _encode_cursor(end) if end < total else None
    headers = {}
    if next_cursor is not None:
        following = {"page": {"page": start // step + 2}, "offset": {"offset": end}}.get(style, {"cursor": next_cursor})
        headers["Link"] = f'<{request.url.include_query_params(**following)}>; rel="next"'
    body = {"data": chunk, "next_cursor": next_cursor, "page": start // step + 1, "total": total}
    return JSONResponse(body, headers=headers)


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "offset" or int(value) < 0:
            raise ValueError(text)
        return int(value)
    except ValueError:
        raise HTTPException(400, "invalid cursor") from None


def serve(app: FastAPI, host: str = HOST, port: int = 0, *, startup_timeout_s: float = 10.0):
    """Run `app` with uvicorn in a background thread (a context manager yielding its base
    URL, http://127.0.0.1:PORT). Port 0 picks a free port. Returns once GET /health
    answers; stops the server on exit."""
    return serve_in_thread(app, host, port, name="demo-api", startup_timeout_s=startup_timeout_s, lifespan="off")


def read_jsonl(path: Path) -> list[dict]:
    """The records of one JSON Lines file, in file order; a bad line raises ValueError
    naming file and line."""
    records = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: not a JSON record ({exc})") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}:{number}: a JSON {type(record).__name__}, expected an object")
        records.append(record)
    return records


def load_datasets(root: Path) -> dict[str, list[dict]]:
    """Every `root/<domain>/api/<source>.jsonl` as "<domain>/<source>" -> its records, in file order."""
    return {f"{path.parent.parent.name}/{path.stem}": read_jsonl(path)
            for path in sorted(Path(root).glob("*/api/*.jsonl"))}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m utils.ingest.demo_api",
        description="Serve DIR/<domain>/api/<source>.jsonl at http://127.0.0.1:PORT/<domain>/<source>, "
        "with optional faults. Requests need 'Authorization: Bearer <token>' (--token, env DEMO_API_TOKEN, "
        "or a generated token logged at startup).",
    )
    p.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder holding <domain>/api/<source>.jsonl")
    p.add_argument("--port", type=int, default=8123, help="port on 127.0.0.1 (0 = any free port; default 8123)")
    p.add_argument("--token", help="bearer token clients must send (default: env DEMO_API_TOKEN, else generated)")
    p.add_argument("--rate-limit-every", type=int, default=0, metavar="N", help="every Nth request gets 429")
    p.add_argument("--retry-after", type=float, default=1.0, metavar="S", help="Retry-After seconds of a 429")
    p.add_argument("--burst-5xx", type=int, default=0, metavar="K", help="K requests in a row get 500/503 ...")
    p.add_argument("--burst-every", type=int, default=10, metavar="M", help="... then M are served (default 10)")
    p.add_argument("--slow-every", type=int, default=0, metavar="N", help="every Nth request answers late")
    p.add_argument("--slow-s", type=float, default=15.0, metavar="S", help="how late a slow answer is")
    p.add_argument("--malformed-every", type=int, default=0, metavar="N", help="every Nth request gets invalid JSON")
    p.add_argument("--drop-every", type=int, default=0, metavar="N", help="every Nth connection is closed unanswered")
    p.add_argument("--down", action="store_true", help="every request gets 503")
    return p


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    datasets = load_datasets(args.data)
    if not datasets:
        log.error("no API sources under %s (expected <domain>/api/<source>.jsonl)", args.data)
        return 2
    token = args.token or os.environ.get("DEMO_API_TOKEN")
    if not token:
        token = secrets.token_urlsafe(24)
        log.warning("no --token or DEMO_API_TOKEN given; clients must send 'Authorization: Bearer %s'", token)
    faults = Faults(
        rate_limit_every=args.rate_limit_every, retry_after_s=args.retry_after, burst_5xx=args.burst_5xx,
        burst_every=args.burst_every, slow_every=args.slow_every, slow_s=args.slow_s,
        malformed_every=args.malformed_every, drop_every=args.drop_every, down=args.down,
    )
    try:
        with serve(create_app(datasets, faults, token), port=args.port) as url:
            for name in sorted(datasets):
                log.info("serving %s/%s (%d records)", url, name, len(datasets[name]))
            log.info("faults: %s; Ctrl-C to stop", faults)
            _wait_for_interrupt()
    except OSError as exc:  # the port is taken
        log.error("cannot serve on %s:%d: %s", HOST, args.port, exc)
        return 2
    return 0


def _wait_for_interrupt() -> None:
    try:
        while not threading.Event().wait(1.0):
            pass
    except KeyboardInterrupt:
        log.info("stopping")


if __name__ == "__main__":
    raise SystemExit(main())
