"""What a build of the energy domain runs after its gold tables (``gold.evaluate`` in
conf/energy.yaml): the exploitation report, then the two analysis pipelines that read
only the exploitation zone. Under ``<datamart>/_models/energy/``:

- ``exploitation.json``: what each gold step found, and the entity resolution's
  precision and recall against the sample's ground truth when the data root holds it
  (``_truth/device_building.csv`` of the generator);
- ``forecast.json`` and ``forecast_temperature.png``: next-day consumption, gradient
  boosting against the seasonal-naive baseline, out of time (:mod:`.forecast`);
- ``profiles.json`` and ``profiles.png``: k-means load profiles (:mod:`.profiles`).

Each file records the Delta versions of the gold tables it was computed from (key
``gold_versions``) and is written whole (a temporary file renamed over it). Run by
``python main.py --domain energy`` after its gold: every file is recomputed after a
build that wrote gold, and otherwise each one that is missing, unreadable or recorded
other versions than the current ones (gold written by another command, a crash between
files); never by hand."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from utils.lake.datamart import Datamart
from utils.lake.json_files import read_json, write_json

from . import forecast, profiles
from .exploitation import DOMAIN, VERSIONS_KEY, gold_versions, write_report
from .synthetic import MATCHES_FILE

logger = logging.getLogger(__name__)
OUTPUTS = ("exploitation.json", "forecast.json", "profiles.json")


def recorded_versions(path: Path) -> dict | None:
    """The gold versions an analysis file was computed from; None when the file is
    missing, unreadable or records none."""
    doc = read_json(path)
    return doc.get(VERSIONS_KEY) if isinstance(doc, dict) else None


def stale_outputs(folder: Path, current: dict[str, int | None], *, force: bool = False) -> list[str]:
    """The OUTPUTS in `folder` to recompute: all when `force`, else those whose recorded
    gold versions are not `current` (or that are missing or unreadable)."""
    return [name for name in OUTPUTS if force or recorded_versions(folder / name) != current]


def stamp(path: Path, metrics: dict, versions: dict[str, int | None]) -> dict:
    """`metrics` with the gold `versions`, written to `path` atomically (over the file
    the analysis wrote): a crash before this leaves a file without versions, rerun next
    time."""
    metrics[VERSIONS_KEY] = dict(versions)
    write_json(path, metrics)
    return metrics


def evaluate(get_spark: Callable[[], object], datamart: Path, config, data_root: Path | None, *,
             force: bool = False) -> dict | None:
    """Write the OUTPUTS (see the module) that are stale (:func:`stale_outputs`; all
    when `force`: the build wrote gold) from the committed gold tables; their contents
    by file stem, or None when every file was current (Spark not started)."""
    datamart = Path(datamart)
    folder = Datamart(datamart, DOMAIN).models
    current = gold_versions(Datamart(datamart, DOMAIN))  # before reading: a later write makes them stale
    todo = stale_outputs(folder, current, force=force)
    if not todo:
        logger.info("energy: gold unchanged (versions %s) and its evaluation current in %s; not rerun",
                    current, folder)
        return None
    logger.info("energy: %s %s from gold versions %s", "recomputing" if force else "stale, recomputing",
                ", ".join(todo), current)
    out = {}
    if "exploitation.json" in todo:
        spark = get_spark()
        truth_file = Path(data_root) / MATCHES_FILE if data_root is not None else None
        truth = None
        if truth_file is not None and truth_file.is_file():
            truth = spark.read.csv(str(truth_file), header=True)
        else:
            logger.info("energy: no ground truth at %s; entity resolution not scored", truth_file)
        out["exploitation"] = report = write_report(spark, Datamart(datamart), truth=truth, versions=current)
        er = report.get("entity_resolution")
        if er is not None:
            logger.info("energy entity resolution: precision %s, recall %s (matches); recall %s with reviews",
                        er["matches"]["precision"], er["matches"]["recall"], er["matches_and_reviews"]["recall"])
    days = forecast.read_days(datamart) if {"forecast.json", "profiles.json"} & set(todo) else None
    if "forecast.json" in todo:
        out["forecast"] = stamp(folder / "forecast.json", forecast.run(datamart, None, days=days), current)
    if "profiles.json" in todo:
        out["profiles"] = stamp(folder / "profiles.json", profiles.run(datamart, days=days), current)
    return out
