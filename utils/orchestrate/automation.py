"""Jobs, schedules, sensors and failure notification of the generated definitions.

  collect_<domain>        job: the domain's landing assets; scheduled (hourly by
                          default) and started by the file-drop sensor
  build_<domain>          job: the domain's bronze, silver and gold assets, partitioned
                          on snapshot_date (backfill months from the UI or the CLI)
  file_drops_<domain>     sensor: a source file under the data root appeared or changed
                          -> collect the sources whose files changed
  freshness checks        each landing asset was collected within its cadence
  notify_failure          hook on every step, and `run_failure_notifier` sensor on
                          every run: a log line and a JSON line appended to
                          <datamart>/_meta/logs/dagster-failures.jsonl
"""

# no `from __future__ import annotations`: Dagster reads the context and resource
# annotations of the decorated functions at definition time
import datetime as dt
import hashlib
import json
import logging
import warnings
from pathlib import Path

import dagster as dg

from utils.lake.config import DomainConfig
from utils.orchestrate.settings import Settings

logger = logging.getLogger(__name__)

FAILURES_FILE = "dagster-failures.jsonl"


def failures_file(settings: Settings) -> Path:
    """Where failures are written: <datamart>/_meta/logs/dagster-failures.jsonl."""
    from utils.lake.datamart import Datamart

    return Datamart(Path(settings.datamart)).logs / FAILURES_FILE


def record_failure(settings: Settings, entry: dict) -> Path:
    """Log a failure and append it, with the time, as one JSON line to the failures file."""
    entry = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), **entry}
    logger.error("dagster failure: %s", json.dumps(entry, default=str))
    path = failures_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(entry, default=str) + "\n")
    return path


def failure_hook(settings: Settings) -> dg.HookDefinition:
    """A hook on every asset step: a failed step is logged and written to the failures file."""

    @dg.failure_hook(name="notify_failure")
    def notify_failure(context: dg.HookContext) -> None:
        error = context.op_exception
        record_failure(settings, {
            "kind": "step", "run_id": context.run_id, "job": context.job_name, "step": context.step_key,
            "error": f"{type(error).__name__}: {error}".splitlines()[0] if error is not None else None,
        })

    return notify_failure


def run_failure_notifier(settings: Settings) -> dg.SensorDefinition:
    """A sensor on every run of the code location (needs the daemon, as `dagster dev`
    runs): a failed run is logged and written to the failures file."""

    @dg.run_failure_sensor(name="run_failure_notifier", default_status=dg.DefaultSensorStatus.RUNNING,
                           monitor_all_code_locations=False)
    def notify_run_failure(context: dg.RunFailureSensorContext) -> None:
        record_failure(settings, {
            "kind": "run", "run_id": context.dagster_run.run_id, "job": context.dagster_run.job_name,
            "error": (context.failure_event.message or "").splitlines()[0] if context.failure_event else None,
        })

    return notify_run_failure


def domain_jobs(config: DomainConfig, landing_keys: list[dg.AssetKey], built_keys: list[dg.AssetKey]) -> tuple:
    """(collect job, build job) of a domain (the build job absent when nothing is built);
    the build job is partitioned like its assets."""
    collect_job = dg.define_asset_job(f"collect_{config.domain}", selection=dg.AssetSelection.assets(*landing_keys),
                                      description=f"Collect every source of {config.domain} into landing.")
    if not built_keys:
        return (collect_job,)
    build_job = dg.define_asset_job(
        f"build_{config.domain}", selection=dg.AssetSelection.assets(*built_keys),
        description=f"Build bronze, silver and gold of {config.domain} for the selected snapshot months.")
    return collect_job, build_job


def collect_schedule(config: DomainConfig, job, settings: Settings) -> dg.ScheduleDefinition:
    """Run the domain's collectors on `settings.collect_cron` (hourly by default)."""
    return dg.ScheduleDefinition(name=f"collect_{config.domain}_schedule", job=job,
                                 cron_schedule=settings.collect_cron, execution_timezone="UTC",
                                 description=f"Collect the sources of {config.domain} periodically.")


def file_fingerprints(config: DomainConfig, data_root: Path) -> dict[str, str]:
    """Per file source: a hash of its matching files' names, sizes and modification times."""
    from utils.ingest import collect

    out = {}
    for name, source in config.sources.items():
        if getattr(source, "api", None) is not None:
            continue
        try:
            files = collect.matching_files(source, data_root)
        except collect.CollectError as exc:
            logger.warning("file drops of %s/%s: %s", config.domain, name, exc)
            files = []
        stats = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(files)]
        out[name] = hashlib.sha256(json.dumps(stats).encode()).hexdigest()[:16]
    return out


def file_drop_sensor(config: DomainConfig, job, settings: Settings, interval: int = 60) -> dg.SensorDefinition | None:
    """Start the collect job for the file sources whose files changed since the last tick
    (the first tick collects every file source); None for a domain without file sources."""
    from utils.orchestrate.assets import data_root_of
    from utils.orchestrate.checks import asset_key

    if all(getattr(s, "api", None) is not None for s in config.sources.values()):
        return None

    @dg.sensor(name=f"file_drops_{config.domain}", job=job, minimum_interval_seconds=interval,
               description=f"Collect the file sources of {config.domain} when their files appear or change.")
    def file_drops(context: dg.SensorEvaluationContext):
        now = file_fingerprints(config, data_root_of(settings, config.domain))
        before = json.loads(context.cursor) if context.cursor else {}
        changed = sorted(name for name, fp in now.items() if before.get(name) != fp)
        if not changed:
            return dg.SkipReason(f"no new or changed file of {', '.join(sorted(now))}")
        context.update_cursor(json.dumps(now, sort_keys=True))
        return dg.RunRequest(run_key=hashlib.sha256(json.dumps(now, sort_keys=True).encode()).hexdigest()[:16],
                             asset_selection=[asset_key(config.domain, "landing", n) for n in changed],
                             tags={"lakehouse/changed_sources": ",".join(changed)})

    return file_drops


def landing_freshness(config: DomainConfig, landing_keys: list[dg.AssetKey], cadence: str) -> list:
    """Freshness checks: each landing asset collected within its cadence (32 days for a
    monthly domain, 26 hours for a daily one)."""
    if not landing_keys:
        return []
    bound = dt.timedelta(days=32) if cadence == "monthly" else dt.timedelta(hours=26)
    with warnings.catch_warnings():
        # Dagster prefers FreshnessPolicy now, which is a status, not an asset check that
        # runs, fails and shows in the event log like the quality checks
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return list(dg.build_last_update_freshness_checks(assets=landing_keys, lower_bound_delta=bound))


def freshness_sensor(checks: list) -> dg.SensorDefinition:
    """The sensor that evaluates the freshness checks (the daemon runs it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.SupersessionWarning)
        return dg.build_sensor_for_freshness_checks(freshness_checks=checks,
                                                    default_status=dg.DefaultSensorStatus.RUNNING)
