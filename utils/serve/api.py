"""The serving API: predictions from each domain's champion model and the online store,
recommendations from the gold tables or the champion recommender, behind an API key.

    python -m utils.serve.api [--datamart DIR] [--host 127.0.0.1] [--port 8000]
                              [--online-store URL] [--tracking-uri URI]
                              [--reload-seconds 5] [--no-access-log]

Endpoints (OpenAPI docs at ``/docs``, the schema at ``/openapi.json``):

- ``GET /health``: status, the served domains with each one's champion (name, version,
  threshold) or null and its online-store summary. No key needed.
- ``GET /features/{domain}/{entity}``: the entity's latest features in the online store.
- ``POST /predict/{domain}`` with ``{"entity_id": "..."}`` (features from the online
  store) or ``{"features": {...}}`` (every input feature of the champion, null allowed):
  score (probability of label 1), label (score >= the champion's decision threshold),
  the threshold and where it came from, the model's name and version and the features'
  snapshot date (null for a payload). A regressor's score is its predicted value (energy:
  the building's heat use in kWh on the features' snapshot date), with label and threshold
  null.
- ``GET /recommend/{user}?k=10[&as_of=YYYY-MM-DD]``: the top-k items of
  :func:`utils.ml.retrieve.top_k` for the recommendation domain, as of the latest
  snapshot its gold similarity table holds unless `as_of` is given; ``fallback`` says
  whether popular items filled the list. With ``&source=champion``: the lists of the
  registered champion recommender (:mod:`utils.ml.reco_tracking`), as of its cut, with
  the model's name, version and cut under ``model``; 503 when none is registered.

Security: every endpoint but ``/health`` (and the docs and schema, which show no data)
needs the key in header ``X-API-Key``: env ``LAKEHOUSE_API_KEY``, else a key generated
at startup and logged once (like a notebook token). Keys are compared in constant time;
a missing or wrong key gets 401. The server binds 127.0.0.1 unless told otherwise.
Request bodies over 1 MB get 413, by their Content-Length or by the bytes streamed.

Errors are JSON ``{"detail": ...}``: 404 for an unknown domain, entity or path, 422 for a
bad payload (missing, unknown or mistyped features, k out of 1..100, a bad date), 503
when the domain has no champion (or the stores cannot answer for it).

The champions (:mod:`utils.serve.champion`) are re-read from the MLflow registry at
most every `reload_seconds`, so moving the ``champion`` alias changes the served model
without a restart. The online store (:mod:`utils.serve.online_store`) is opened once.
The service holds no logic of its own beyond checking requests.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import decimal
import ipaddress
import logging
import math
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, HTTPException, Path as PathParam, Query, Security
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from utils.lake.http_thread import serve_in_thread

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_PORT = 8000
API_KEY_HEADER = "X-API-Key"
API_KEY_ENV = "LAKEHOUSE_API_KEY"
MAX_BODY_BYTES = 1024 * 1024
MAX_K = 100
RECOMMEND_DOMAIN = "recommendation"
#: dates the recommender takes (pandas timestamps span 1677..2262)
AS_OF_RANGE = (dt.date(1700, 1, 1), dt.date(2200, 12, 31))

Scalar = float | int | str | bool | None


# --------------------------------------------------------------------------- request and response bodies


class PredictRequest(BaseModel):
    """Either an entity whose features the online store holds, or a full feature payload."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"entity_id": "C000042"}, {"features": {"tenure_days": 120, "plan": "basic"}}]})

    entity_id: str | None = Field(None, min_length=1, max_length=200,
                                  description="An entity of the domain; its features come from the online store.")
    features: dict[str, Scalar] | None = Field(
        None, description="Every input feature of the champion by name (null allowed); see GET /health.")

    @model_validator(mode="after")
    def _one_of(self) -> PredictRequest:
        if (self.entity_id is None) == (self.features is None):
            raise ValueError("give exactly one of entity_id or features")
        return self


class ModelRef(BaseModel):
    name: str
    version: int
    run_id: str


class Prediction(BaseModel):
    domain: str
    entity_id: str | None
    kind: Literal["classifier", "regressor"] = Field(description="What the champion predicts.")
    score: float = Field(description="A classifier's probability of label 1; a regressor's predicted value "
                                     "(energy: kWh used on the snapshot date).")
    label: int | None = Field(description="1 when score >= threshold; null for a regressor.")
    threshold: float | None = Field(description="A classifier's decision threshold; null for a regressor.")
    threshold_source: str | None = Field(description="The champion run's metrics.json, or the default 0.5; "
                                                     "null for a regressor.")
    model: ModelRef
    snapshot_date: str | None = Field(description="Snapshot of the features used; null for a payload.")
    features_from: str = Field(description="online_store or payload.")


class Features(BaseModel):
    model_config = ConfigDict(extra="allow")

    entity: str | int
    snapshot_date: str | None
    features: dict[str, Any]
    version: Any = None
    as_of: Any = None


class Item(BaseModel):
    product_id: str
    score: float
    rank: int
    source: str


class Recommendation(BaseModel):
    model_config = ConfigDict(extra="allow")

    user_id: str
    as_of: str
    snapshot_date: str
    fallback: bool = Field(description="True when popular items filled the list (little or no history).")
    items: list[Item]


class Detail(BaseModel):
    detail: Any


ERRORS = {401: {"model": Detail, "description": "Missing or wrong API key"},
          404: {"model": Detail, "description": "Unknown domain or entity"},
          413: {"model": Detail, "description": "Request body over 1 MB"},
          503: {"model": Detail, "description": "No champion, or a store cannot answer"}}


# --------------------------------------------------------------------------- the service


def _plain(value: Any) -> Any:
    """`value` as JSON: NaN and infinities as null, Decimal and numpy numbers as floats or
    ints, dates as ISO text, recursively."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, decimal.Decimal, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


class _TTL:
    """A value recomputed at most every `seconds`."""

    def __init__(self, compute: Callable[[], Any], seconds: float) -> None:
        self._compute, self._seconds = compute, seconds
        self._value, self._at = None, -math.inf

    def get(self) -> Any:
        if time.monotonic() - self._at >= self._seconds:
            self._value, self._at = self._compute(), time.monotonic()
        return self._value


class Service:
    """What the endpoints share: the datamart, the online store, the champions and
    the served domains."""

    def __init__(self, datamart: Path, online_url: str, tracking_uri: str, reload_seconds: float) -> None:
        from utils.serve.champion import Champions

        self.datamart = datamart
        self.online_url = online_url
        self.champions = Champions(tracking_uri, reload_seconds=reload_seconds)
        self._store = None
        self._store_lock = threading.Lock()
        self._domains = _TTL(self._find_domains, reload_seconds)
        self._recommend_as_of = _TTL(self._latest_recommend_snapshot, reload_seconds)
        # top_k filters with DuckDB's default connection, which refuses a second caller while
        # it is busy: one recommendation at a time (the work holds the GIL mostly anyway)
        self._recommend_lock = threading.Lock()

    def store(self):
        """The online store, opened on first use (its backends are safe across threads:
        SQLite keeps one connection per thread, a Redis client pools its connections)."""
        with self._store_lock:
            if self._store is None:
                from utils.serve.online_store import open_store

                self._store = open_store(self.online_url)
            return self._store

    def close(self) -> None:
        with self._store_lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def _find_domains(self) -> list[str]:
        """Domains with a configuration that the datamart or the online store holds."""
        from utils.lake.config import CONF_DIR
        from utils.lake.datamart import Datamart

        configured = {p.stem for p in CONF_DIR.glob("*.yaml")}
        present = set(Datamart(self.datamart).domains())
        try:
            present |= set(self.store().domains())
        except Exception:  # the store down: the datamart still names the domains
            logger.exception("online store %s: cannot list its domains", _scheme(self.online_url))
        return sorted(configured & present)

    def domains(self) -> list[str]:
        return self._domains.get()

    def check_domain(self, domain: str) -> None:
        if domain not in self.domains():
            raise HTTPException(404, f"unknown domain {domain!r}; served: {', '.join(self.domains()) or 'none'}")

    def features(self, domain: str, entity: str) -> dict:
        self.check_domain(domain)
        try:
            record = self.store().get(domain, entity)
        except Exception as exc:
            logger.exception("online store get(%s, %s)", domain, entity)
            raise HTTPException(503, f"the online store cannot answer for {domain}") from exc
        if record is None:
            raise HTTPException(404, f"no features for entity {entity!r} of domain {domain!r} in the online store")
        return _plain(record)

    def champion(self, domain: str):
        from utils.serve.champion import model_names

        self.check_domain(domain)
        if not model_names(domain):
            raise HTTPException(404, f"domain {domain!r} has no model to predict with (no classification label)")
        champion = self.champions.get(domain)
        if champion is None:
            raise HTTPException(503, f"domain {domain!r} has no champion model in the registry "
                                     f"(train one: python main.py train --domain {domain})")
        return champion

    def predict(self, domain: str, request: PredictRequest) -> dict:
        champion = self.champion(domain)
        if request.entity_id is not None:
            record = self.features(domain, request.entity_id)
            values, snapshot, source = record.get("features") or {}, record.get("snapshot_date"), "online_store"
            lacking = [f.name for f in champion.features if f.name not in values]
            if lacking:
                raise HTTPException(503, f"the online store lacks features of {champion.name} version "
                                         f"{champion.version}: {', '.join(lacking[:10])}; materialise it again")
        else:
            problems = champion.problems(request.features)
            if problems:
                more = [f"... and {len(problems) - 20} more"] if len(problems) > 20 else []
                raise HTTPException(422, problems[:20] + more)
            values, snapshot, source = request.features, None, "payload"
        try:
            frame = champion.frame(values)
        except ValueError as exc:  # a value in the online store of the wrong type
            raise HTTPException(503, f"the online store holds a bad value: {exc}") from exc
        score = float(champion.score(frame)[0])
        if not math.isfinite(score):
            raise HTTPException(503, f"{champion.name} version {champion.version} gave no finite score")
        label = None if champion.threshold is None else int(score >= champion.threshold)
        return {"domain": domain, "entity_id": request.entity_id, "kind": champion.kind, "score": score,
                "label": label, "threshold": champion.threshold,
                "threshold_source": champion.threshold_source,
                "model": {"name": champion.name, "version": champion.version, "run_id": champion.run_id},
                "snapshot_date": None if snapshot is None else str(snapshot), "features_from": source}

    def _latest_recommend_snapshot(self) -> dt.date | None:
        """The latest snapshot_date of the recommendation domain's similarity table."""
        from utils.lake import delta_io
        from utils.lake.config import load_config
        from utils.lake.datamart import Datamart

        gold = load_config(RECOMMEND_DOMAIN).gold
        if gold is None or not gold.similarity:
            return None
        path = Datamart(self.datamart, RECOMMEND_DOMAIN).table("gold", next(iter(gold.similarity)))
        if not path.exists():
            return None
        dates = [k[0] for k in delta_io.list_partitions(path) if k[0] is not None]
        return max((dt.date.fromisoformat(str(d)) for d in dates), default=None)

    def recommend(self, user: str, k: int, as_of: dt.date | None, source: str = "retrieval") -> dict:
        from utils.ml.retrieve import top_k

        if RECOMMEND_DOMAIN not in self.domains():
            raise HTTPException(503, f"the datamart holds no {RECOMMEND_DOMAIN} domain to recommend from")
        if source == "champion":
            return self._recommend_by_champion(user, k, as_of)
        if as_of is not None and not AS_OF_RANGE[0] <= as_of <= AS_OF_RANGE[1]:
            raise HTTPException(422, f"as_of must be within {AS_OF_RANGE[0]}..{AS_OF_RANGE[1]}")
        when = as_of or self._recommend_as_of.get()
        if when is None:
            raise HTTPException(503, f"gold/{RECOMMEND_DOMAIN} holds no similarity snapshot yet")
        try:
            with self._recommend_lock:
                found = top_k(self.datamart, user, when, k, domain=RECOMMEND_DOMAIN)
            return _plain(found)
        except LookupError as exc:  # no snapshot on or before as_of
            raise HTTPException(404, str(exc)) from exc

    def _recommend_by_champion(self, user: str, k: int, as_of: dt.date | None) -> dict:
        """The registered champion recommender's top k for `user`, as of its cut."""
        if as_of is not None:
            raise HTTPException(422, "as_of applies to source=retrieval; the champion ranks as of its cut")
        champion = self.champions.get(RECOMMEND_DOMAIN)
        if champion is None:
            raise HTTPException(503, f"no champion recommender registered for {RECOMMEND_DOMAIN}; run `python main.py "
                                     f"train --domain {RECOMMEND_DOMAIN}`")
        with self._recommend_lock:
            rows = champion.recommender.recommend([user], k)
        items = [{"product_id": str(r.product_id), "score": float(r.score), "rank": int(r.rank),
                  "source": "popularity" if r.fallback else champion.best} for r in rows.itertuples()]
        return {"user_id": user, "as_of": champion.cut, "snapshot_date": champion.cut,
                "fallback": bool(rows["fallback"].any()), "items": items, "model": champion.describe()}

    def health(self) -> dict:
        from utils.serve.champion import model_names, recommender_names

        domains = {}
        for domain in self.domains():
            champion = self.champions.get(domain) if model_names(domain) or recommender_names(domain) else None
            try:
                online = self.store().info(domain)
            except Exception:
                logger.exception("online store info(%s)", domain)
                online = {"error": "the online store cannot answer"}
            domains[domain] = {"champion": champion.describe() if champion is not None else None,
                               "predict": bool(model_names(domain)), "recommend": domain == RECOMMEND_DOMAIN,
                               "online_store": _plain(online)}
        return {"status": "ok", "domains": domains, "online_store": {"backend": _scheme(self.online_url)}}


def _scheme(url: str) -> str:
    """The store's kind (sqlite, redis, ...) without host, path or password."""
    return url.split(":", 1)[0] if ":" in url else "unknown"


# --------------------------------------------------------------------------- the app


class BodyLimit:
    """ASGI middleware: 413 for a request body over `max_bytes`, judged by Content-Length
    before reading and by the bytes actually received (chunked or lying clients). The
    body is read here, up to the limit, and replayed to the app. (FastAPI's own
    `max_body_size` answers a too-large Content-Length in plain text, and only once an
    endpoint reads the body; this answers JSON at once, like every other error.)"""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            if not length.isdigit():
                await _json(send, 400, "Content-Length is not a number")
                return
            if int(length) > self.max_bytes:
                await _json(send, 413, f"request body over {self.max_bytes} bytes")
                return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await _json(send, 413, f"request body over {self.max_bytes} bytes")
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _json(send, status: int, detail: str) -> None:
    body = JSONResponse({"detail": detail}).body
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def create_app(datamart: str | Path, *, online_url: str | None = None, api_key: str | None = None,
               tracking_uri: str | None = None, reload_seconds: float = 5.0) -> FastAPI:
    """The serving API over `datamart` (see the module). `online_url` defaults to the
    datamart's embedded store, `tracking_uri` to its embedded MLflow store; without
    `api_key` one is generated and logged once. The key is ``app.state.api_key``."""
    from utils.ml.tracking import default_tracking_uri
    from utils.serve.online_store import default_url

    datamart = Path(datamart).resolve()
    service = Service(datamart, online_url or default_url(datamart), tracking_uri or default_tracking_uri(datamart),
                      reload_seconds)
    if not api_key:
        api_key = secrets.token_urlsafe(32)
        logger.warning("no API key given (env %s); clients must send the header '%s: %s'", API_KEY_ENV,
                       API_KEY_HEADER, api_key)
    expected = api_key.encode()
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, scheme_name="APIKey",
                          description=f"The server's key: env {API_KEY_ENV}, or the one it logged at startup.")

    def require_key(given: str | None = Security(header)) -> None:
        if not given or not secrets.compare_digest(given.encode("utf-8", "surrogateescape"), expected):
            raise HTTPException(401, f"missing or wrong API key (header {API_KEY_HEADER})",
                                headers={"WWW-Authenticate": "APIKey"})

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        for domain in await run_in_threadpool(service.domains):  # load the champions before the first request
            await run_in_threadpool(service.champions.get, domain)
        yield
        service.close()

    app = FastAPI(title="Lakehouse serving API", version="1",
                  description="Predictions from each domain's champion model and the online store; recommendations "
                              "from the gold tables. Send the key in header X-API-Key (Authorize).",
                  lifespan=lifespan)
    app.state.api_key = api_key
    app.state.service = service
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)
    keyed = [Depends(require_key)]
    domain_param = PathParam(description="A domain of conf/, e.g. churn or loan_default.", max_length=100)

    @app.get("/health", summary="Status, domains, champions and the online store (no key)")
    def health() -> dict:
        return service.health()

    @app.get("/features/{domain}/{entity}", dependencies=keyed, responses=ERRORS, response_model=Features,
             summary="An entity's latest features in the online store")
    def features(domain: str = domain_param, entity: str = PathParam(max_length=200)) -> dict:
        return service.features(domain, entity)

    @app.post("/predict/{domain}", dependencies=keyed, responses=ERRORS, response_model=Prediction,
              summary="Score an entity (features from the online store) or a full feature payload")
    def predict(body: PredictRequest, domain: str = domain_param) -> dict:
        return service.predict(domain, body)

    @app.get("/recommend/{user}", dependencies=keyed, responses=ERRORS, response_model=Recommendation,
             summary="Top-k items for a user (recommendation domain)")
    def recommend(user: str = PathParam(max_length=200), k: int = Query(10, ge=1, le=MAX_K),
                  as_of: dt.date | None = Query(None, description="Default: the latest snapshot in gold "
                                                "(source=retrieval only)."),
                  source: Literal["retrieval", "champion"] = Query(
                      "retrieval", description="retrieval: item-to-item similarity of the user's recent events as of "
                      "as_of, from the gold tables; champion: the registered champion recommender, as of its cut "
                      "(503 when none is registered).")) -> dict:
        return service.recommend(user, k, as_of, source)

    return app


# --------------------------------------------------------------------------- running it


def serve(app: FastAPI, host: str = HOST, port: int = 0, *, startup_timeout_s: float = 60.0,
          log_level: str = "warning", access_log: bool = True):
    """Run `app` with uvicorn in a background thread (a context manager yielding its base
    URL). Port 0 picks a free port. Returns once GET /health answers (the champions
    loaded); stops on exit."""
    return serve_in_thread(app, host, port, name="serving API", startup_timeout_s=startup_timeout_s,
                           join_timeout_s=10.0, log_level=log_level, access_log=access_log)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def build_parser() -> argparse.ArgumentParser:
    from utils.lake.paths import PROJECT_ROOT

    p = argparse.ArgumentParser(
        prog="python -m utils.serve.api",
        description="Serve predictions and recommendations over HTTP. Clients send header X-API-Key: env "
                    f"{API_KEY_ENV}, else a key generated and logged at startup.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--host", default=HOST, help="address to bind (anything but loopback exposes the API)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0: any free port)")
    p.add_argument("--online-store", default=None, metavar="URL",
                   help="online store (default: the datamart's embedded SQLite store)")
    p.add_argument("--tracking-uri", default=None, metavar="URI",
                   help="MLflow registry of the champions (default: sqlite under <datamart>/_mlflow)")
    p.add_argument("--reload-seconds", type=float, default=5.0, help="how often the champion aliases are re-read")
    p.add_argument("--no-access-log", dest="access_log", action="store_false", help="no log line per request")
    return p


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; 0 on a clean stop, 2 when the address cannot be bound."""
    args = build_parser().parse_args(argv)
    if not _loopback(args.host):
        logger.warning("binding %s: the API is reachable from other machines (the key is its only guard)", args.host)
    app = create_app(args.datamart, online_url=args.online_store, api_key=os.environ.get(API_KEY_ENV) or None,
                     tracking_uri=args.tracking_uri, reload_seconds=args.reload_seconds)
    try:
        with serve(app, args.host, args.port, startup_timeout_s=300.0, log_level="info",
                   access_log=args.access_log) as url:
            logger.info("serving at %s (docs: %s/docs); Ctrl-C to stop", url, url)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())  # docker stop: a clean shutdown too
            try:
                while not stop.wait(1.0):
                    pass
            except KeyboardInterrupt:
                pass
            logger.info("stopping")
    except OSError as exc:  # the port is taken, or the address is not ours
        logger.error("cannot serve on %s:%d: %s", args.host, args.port, exc)
        return 2
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    raise SystemExit(main())
