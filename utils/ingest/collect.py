"""Collectors: bring each source of a domain into the landing zone, and audit every try.

`stage_domain` fetches every selected source into hidden staging folders (nothing is
visible yet); the caller checks the staged files and then calls `publish`, or `discard`
when anything failed, so a run whose source is down leaves landing as it was. Every
attempt, the failed ones and each HTTP retry included, becomes a row of the Delta table
`_meta/ingestion` (`write_audit`).

- File sources: the file, or every file a glob matches (dated drops), is copied in and
  hashed on the way; a file whose content is the newest landed for its name is not
  landed again.
- API sources: `utils.ingest.rest.fetch` with the source's pagination, retries and
  auth; the pages land byte for byte as page-00001.json, ...; an incremental cursor is
  read from the newest delivery's manifest and saved in the new one, so it is stored
  exactly when (and only if) its delivery is landed. `demo://<domain>/<source>` URLs
  point at the shipped demo server (`utils.ingest.demo_api`), started by the caller.
"""

from __future__ import annotations

import datetime as dt
import glob
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from utils.ingest import landing, rest
from utils.lake import delta_io
from utils.lake.ledger import InputRecord, RunLedger, RunRecord

logger = logging.getLogger(__name__)

DEMO_SCHEME = "demo://"

INGESTION_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("domain", pa.string()),
    ("source", pa.string()),
    ("type", pa.string()),  # file | api
    ("origin", pa.string()),  # file, glob or URL (never a secret)
    ("attempt", pa.int64()),  # 1.. per HTTP request; 1 for a file
    ("status", pa.string()),  # landed | unchanged | failed | retry | ok
    ("http_status", pa.int64()),
    ("error", pa.string()),
    ("bytes", pa.int64()),
    ("records", pa.int64()),
    ("sha256", pa.string()),
    ("delivery", pa.string()),  # landing folder, relative to the datamart
    ("at", pa.timestamp("us", tz="UTC")),
    ("seconds", pa.float64()),
])


class CollectError(RuntimeError):
    """A source could not be collected; one line naming the source and its file or URL."""


@dataclass
class Collected:
    """What collecting one source did: a staged delivery (None when nothing new) and
    the audit rows of its attempts."""

    source: str
    kind: str
    staged: landing.StagedDelivery | None
    rows: list[dict] = field(default_factory=list)
    status: str = "unchanged"  # landed | unchanged | failed
    error: str | None = None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _row(run_id: str, domain: str, source: str, kind: str, origin: str, **values) -> dict:
    row = {name: None for name in INGESTION_SCHEMA.names}
    row.update(run_id=run_id, domain=domain, source=source, type=kind, origin=origin, attempt=1, at=_now())
    row.update(values)
    return row


def matching_files(source, data_root: Path) -> list[Path]:
    """The files a file source names now: one path, or a glob's matches sorted by name.
    Raises CollectError (one line) when there is none."""
    pattern = Path(source.path).expanduser()
    pattern = pattern if pattern.is_absolute() else Path(data_root) / pattern
    label = f"source {source.name}: {pattern}"
    if getattr(source, "is_glob", False) or glob.has_magic(str(source.path)):
        found = sorted(Path(p) for p in glob.glob(str(pattern)) if Path(p).is_file())
        if not found:
            raise CollectError(f"{label}: no file matches (set --data-root or sources.{source.name}.path)")
        return found
    if not pattern.exists():
        raise CollectError(f"{label}: file not found (set --data-root or sources.{source.name}.path)")
    if pattern.is_dir():
        raise CollectError(f"{label}: is a directory, expected a file")
    return [pattern]


def collect_files(source, data_root: Path, landing_root: Path, *, domain: str, run_id: str) -> Collected:
    """Stage the new or changed files of a file source (see the module docstring)."""
    began = time.perf_counter()
    files = matching_files(source, data_root)
    origin_root = Path(data_root)
    latest = landing.latest_by_origin(landing_root, source.name, "file")
    delivery = landing.Delivery(domain=domain, source=source.name, type="file", origin=str(source.path),
                                run_id=run_id, fetched_at=_now().isoformat())
    staged = landing.StagedDelivery(landing_root, delivery)
    out = Collected(source.name, "file", None)
    try:
        for path in files:
            origin = _origin_name(path, origin_root)
            landed = staged.add_copy(origin, origin, path)
            previous = latest.get(origin)
            unchanged = previous is not None and previous[1].sha256 == landed.sha256
            if unchanged:
                staged.drop(landed)
            out.rows.append(_row(run_id, domain, source.name, "file", origin,
                                 status="unchanged" if unchanged else "landed", bytes=landed.bytes,
                                 sha256=landed.sha256, seconds=time.perf_counter() - began))
    except BaseException:
        staged.discard()
        raise
    if staged.empty:
        staged.discard()
        logger.info("collect %s/%s: %d file(s) unchanged, nothing landed", domain, source.name, len(files))
        return out
    out.staged, out.status = staged, "landed"
    return out


def _origin_name(path: Path, root: Path) -> str:
    """A file's name in landing: its path under the data root, else its file name."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def rest_spec(source, base_url: str | None) -> rest.RestSpec:
    """The REST client settings of an API source; demo:// URLs resolve against the demo
    server's base URL."""
    api = source.api
    url = api.url
    if url.startswith(DEMO_SCHEME):
        if base_url is None:
            raise CollectError(f"source {source.name}: {url} needs the demo API server, which is not running")
        url = f"{base_url.rstrip('/')}/{url[len(DEMO_SCHEME):].lstrip('/')}"
    return rest.RestSpec(
        url=url, records=api.records, pagination=api.pagination, page_size=api.page_size,
        params=dict(api.params or {}), incremental_param=api.incremental_param,
        incremental_field=api.incremental_field, auth_header=api.auth_header, auth_env=api.auth_env,
        auth_prefix=api.auth_prefix or "", timeout_s=api.timeout_s, max_attempts=api.max_attempts,
    )


def collect_api(source, landing_root: Path, *, domain: str, run_id: str, base_url: str | None = None,
                env: Mapping[str, str] | None = None, sleep=time.sleep) -> Collected:
    """Fetch an API source's pages and stage them as one delivery (none when there is
    nothing new). Raises CollectError naming the source and URL after the retries."""
    spec = rest_spec(source, base_url)
    out = Collected(source.name, "api", None)
    previous = landing.deliveries(landing_root, source.name, "api")
    cursor = previous[-1].cursor if previous and spec.incremental_param else None

    def audit(a: rest.Attempt) -> None:
        failed = a.error is not None or (a.status is not None and a.status >= 400)
        out.rows.append(_row(run_id, domain, source.name, "api", a.url, attempt=a.attempt,
                             status="retry" if failed else "ok", http_status=a.status, error=a.error,
                             seconds=a.seconds, at=_now()))

    try:
        got = rest.fetch(spec, cursor=cursor, env=os.environ if env is None else env, on_attempt=audit, sleep=sleep)
    except rest.CollectError as exc:
        out.error = f"source {source.name}: {exc}".splitlines()[0]
        out.rows.append(_row(run_id, domain, source.name, "api", spec.url, status="failed", error=out.error))
        out.status = "failed"
        return out
    delivery = landing.Delivery(domain=domain, source=source.name, type="api", origin=spec.url, run_id=run_id,
                                fetched_at=_now().isoformat(), params=dict(spec.params),
                                records=got.records, cursor=got.cursor)
    staged = landing.StagedDelivery(landing_root, delivery)
    for i, page in enumerate(got.pages, start=1):
        staged.add_bytes(f"page-{i:05d}.json", spec.url, page)
    same = previous and not spec.incremental_param and previous[-1].sha256 == delivery.sha256
    if got.records == 0 or same:
        staged.discard()
        status = "unchanged"
    else:
        out.staged, status = staged, "landed"
    out.status = status
    out.rows.append(_row(run_id, domain, source.name, "api", spec.url, status=status, bytes=delivery.bytes,
                         records=got.records, sha256=delivery.sha256))
    logger.info("collect %s/%s: %d record(s) in %d page(s) from %s (%s)", domain, source.name, got.records,
                len(got.pages), spec.url, status)
    return out


def publish(collected: list[Collected], datamart_root: Path) -> list[landing.Delivery]:
    """Make every staged delivery visible; fill in each audit row's delivery folder."""
    out = []
    for c in collected:
        if c.staged is None:
            continue
        delivery = c.staged.publish()
        rel = delivery.path.relative_to(datamart_root).as_posix()
        for row in c.rows:
            if row["status"] == "landed":
                row["delivery"] = rel
        out.append(delivery)
    return out


def discard(collected: list[Collected]) -> None:
    landing.discard_all(c.staged for c in collected if c.staged is not None)


def write_audit(path: Path, rows: list[dict]) -> None:
    """Append attempt rows to `_meta/ingestion`."""
    if rows:
        delta_io.append_rows(path, rows, INGESTION_SCHEMA)


@contextmanager
def demo_server(config, data_root: Path, env: Mapping[str, str]) -> Iterator[tuple[str | None, dict]]:
    """Start the demo API in-process on a free loopback port when a selected source's URL
    is ``demo://<domain>/<source>``; yields (base URL or None, the environment the
    collectors use: the caller's, plus a fresh token for demo sources that declare auth).
    Each demo source serves ``<data_root>/api/<source>.jsonl``."""
    demo = [s for s in config.sources.values() if getattr(s, "api", None) is not None and s.api.url.startswith(DEMO_SCHEME)]
    env = dict(env)
    if not demo:
        yield None, env
        return
    from utils.ingest import demo_api

    datasets, token = {}, None
    for s in demo:
        key = s.api.url[len(DEMO_SCHEME):].strip("/")
        datasets[key] = demo_api.read_jsonl(Path(data_root) / "api" / f"{key.rsplit('/', 1)[-1]}.jsonl")
        if s.api.auth_env:
            token = token or secrets.token_urlsafe(24)
            env.setdefault(s.api.auth_env, token)
    auth = {env[s.api.auth_env] for s in demo if s.api.auth_env}
    if len(auth) > 1:
        raise CollectError(f"{config.file}: demo sources declare different tokens ({len(auth)}); use one auth.env")
    with demo_api.serve(demo_api.create_app(datasets, token=auth.pop() if auth else None)) as base_url:
        logger.info("demo API for %s serving %s at %s", config.domain, ", ".join(sorted(datasets)), base_url)
        yield base_url, env


def stage_domain(config, *, data_root: Path, landing_root: Path, run_id: str, sources=None,
                 env: Mapping[str, str] | None = None, sleep=time.sleep) -> list[Collected]:
    """Collect every selected source of a domain into staging (see the module docstring).
    Raises CollectError naming the first failed source, after discarding what was
    staged; its `collected` attribute holds every source's audit rows."""
    landing.clean_stale(landing_root)
    names = list(sources or config.sources)
    collected: list[Collected] = []
    try:
        with demo_server(config, data_root, os.environ if env is None else env) as (base_url, env_used):
            for name in names:
                source = config.sources[name]
                if getattr(source, "api", None) is not None:
                    c = collect_api(source, landing_root, domain=config.domain, run_id=run_id, base_url=base_url,
                                    env=env_used, sleep=sleep)
                else:
                    c = _collect_file_source(source, data_root, landing_root, config.domain, run_id)
                collected.append(c)
                if c.status == "failed":
                    break
    except BaseException:
        discard(collected)
        raise
    failed = [c for c in collected if c.status == "failed"]
    if failed:
        discard(collected)
        error = CollectError(failed[0].error)
        error.collected = collected
        raise error
    return collected


def _collect_file_source(source, data_root, landing_root, domain, run_id) -> Collected:
    try:
        return collect_files(source, data_root, landing_root, domain=domain, run_id=run_id)
    except CollectError as exc:
        out = Collected(source.name, "file", None, status="failed", error=str(exc))
        out.rows.append(_row(run_id, domain, source.name, "file", str(source.path), status="failed", error=str(exc)))
        return out


def collect_run(config, *, data_root: Path, datamart, run_id: str, sources=None, env=None) -> RunRecord:
    """One collection round of a domain as one ledger run (`python main.py collect`):
    stage every selected source, publish the new deliveries, audit every attempt.
    Raises CollectError (after recording the run as failed) when a source failed; landing
    then holds nothing of this round."""
    ledger = RunLedger(datamart.runs, domain=config.domain)
    record = RunRecord(run_id=run_id, domain=config.domain, layers=["landing"],
                       options={"data_root": str(data_root), "datamart": str(datamart.root),
                                "sources": list(sources or []), "config_file": str(config.file)},
                       config_hash=config.config_hash, started_at=_now())
    ledger.append(record)
    collected: list[Collected] = []
    try:
        collected = stage_domain(config, data_root=Path(data_root), landing_root=datamart.landing(), run_id=run_id,
                                 sources=sources, env=env)
        delivered = publish(collected, datamart.root)
    except BaseException as exc:
        write_audit(datamart.meta("ingestion"), [r for c in getattr(exc, "collected", collected) for r in c.rows])
        record.status, record.error, record.ended_at = "failed", f"{type(exc).__name__}: {exc}".splitlines()[0], _now()
        ledger.append(record)
        raise
    write_audit(datamart.meta("ingestion"), [r for c in collected for r in c.rows])
    for d in delivered:
        for f in d.files:
            record.inputs.append(InputRecord(source=d.source, path=(d.path / f.name).relative_to(datamart.root).as_posix(),
                                             sha256=f.sha256, bytes=f.bytes, source_config_hash="",
                                             range_start=None, range_end=None))
    record.status, record.ended_at = "success", _now()
    ledger.append(record)
    return record


def collect_every(rounds, seconds: float, *, stop: threading.Event, max_rounds: int | None = None) -> int:
    """Call `rounds()` every `seconds` until `stop` is set (Ctrl-C sets it: the round in
    progress finishes first) or `max_rounds` ran; a failed round is logged and the next
    one still runs. Returns the number of rounds that ran."""
    done = 0
    while not stop.is_set() and (max_rounds is None or done < max_rounds):
        began = time.monotonic()
        try:
            rounds()
        except Exception as exc:  # one failed round does not end the loop; it is in the ledger
            logger.error("collection round failed: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        done += 1
        if max_rounds is not None and done >= max_rounds:
            break
        stop.wait(max(0.0, seconds - (time.monotonic() - began)))
    return done


def parse_every(text: str) -> float:
    """'15m' -> 900.0 seconds; units s, m, h, d; a bare number is seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        value = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        value = -1
    if value <= 0:
        raise ValueError(f"{text!r} is not a period (e.g. 30s, 15m, 1h)")
    return value
