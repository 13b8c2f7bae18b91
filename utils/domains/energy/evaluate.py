"""What a build of the energy domain runs after its gold tables (``gold.evaluate`` in
conf/energy.yaml): the exploitation report, then the two analysis pipelines that read
only the exploitation zone. Under ``<datamart>/_models/energy/``:

- ``exploitation.json``: what each gold step found, and the entity resolution's
  precision and recall against the sample's ground truth when the data root holds it
  (``_truth/device_building.csv`` of the generator);
- ``forecast.json`` and ``forecast_temperature.png``: next-day consumption, gradient
  boosting against the seasonal-naive baseline, out of time (:mod:`.forecast`);
- ``profiles.json`` and ``profiles.png``: k-means load profiles (:mod:`.profiles`).

Run by ``python main.py --domain energy`` after a build that wrote gold (or when one of
these files is missing); never by hand."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from utils.lake.datamart import Datamart

from . import forecast, profiles
from .exploitation import DOMAIN, write_report
from .synthetic import MATCHES_FILE

logger = logging.getLogger(__name__)
OUTPUTS = ("exploitation.json", "forecast.json", "profiles.json")


def evaluate(get_spark: Callable[[], object], datamart: Path, config, data_root: Path | None, *,
             force: bool = False) -> dict | None:
    """Write OUTPUTS (see the module) from the committed gold tables when `force` (the
    build wrote gold) or one of them is missing; their contents by file stem, or None
    when every file was there and nothing was forced (Spark not started)."""
    folder = Datamart(Path(datamart), DOMAIN).models
    if not force and all((folder / name).is_file() for name in OUTPUTS):
        logger.info("energy: gold unchanged and its evaluation present in %s; not rerun", folder)
        return None
    spark = get_spark()
    truth_file = Path(data_root) / MATCHES_FILE if data_root is not None else None
    truth = None
    if truth_file is not None and truth_file.is_file():
        truth = spark.read.csv(str(truth_file), header=True)
    else:
        logger.info("energy: no ground truth at %s; entity resolution not scored", truth_file)
    report = write_report(spark, Datamart(Path(datamart)), truth=truth)
    days = forecast.read_days(Path(datamart))
    out = {"exploitation": report, "forecast": forecast.run(Path(datamart), None, days=days),
           "profiles": profiles.run(Path(datamart), days=days)}
    er = report.get("entity_resolution")
    if er is not None:
        logger.info("energy entity resolution: precision %s, recall %s (matches); recall %s with reviews",
                    er["matches"]["precision"], er["matches"]["recall"], er["matches_and_reviews"]["recall"])
    return out
