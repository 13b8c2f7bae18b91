"""The gold layer of a run: the feature and label stores from silver, point in time,
rebuilt whole or from the first changed month, after the leakage guards passed."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from utils.lake import delta_io
from utils.lake.ledger import OutputRecord
from utils.layers.run import (
    Build,
    PendingWrite,
    PipelineError,
    committed_identity,
    fingerprint,
    partitions_in_range,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)

GOLD_TABLES = ("feature_store", "label_store")


def _gold_rows_from(spark, loans, since: dt.date, spec) -> int:
    """How many population and label rows the population table yields from `since` on
    (feature rows follow the population; every label comes from a loan row)."""
    from pyspark.sql import functions as F

    from utils.layers import gold

    recent = loans.where(F.col("snapshot_date") >= F.lit(since))
    frames = [gold.build_population(recent, spec).select("snapshot_date")]
    frames += [gold.build_label_store(recent, label).select("snapshot_date") for label in spec.labels]
    return functools.reduce(lambda a, b: a.unionByName(b), frames).count()


def _gold_since(build: Build, identities: dict[str, str], paths: dict[str, Path]) -> dt.date | None:
    """The first month gold must rebuild when its silver inputs changed only in some
    partitions since gold was last built (else None: gold is rebuilt whole). A feature
    or label row dated D reads silver rows dated <= D only (the cutoff guard checks
    it), so the rows dated before the first changed month stay as they are."""
    options, ledger, spec = build.options, build.ledger, build.config.gold
    if options.full_refresh or options.start is not None or options.end is not None:
        return None
    if spec.population_kind != "rows" or any(label.kind != "dpd_at_mob" for label in spec.labels):
        return None  # activity and label windows reach across months (and labels forward): rebuilt whole
    partial = {t: build.changes[f"silver/{t}"] for t in identities if f"silver/{t}" in build.changes}
    if not partial:
        return None
    before = {t: partial[t].previous if t in partial else identity for t, identity in identities.items()}
    fp_before = fingerprint("gold", spec.fingerprint(), before, options.start, options.end)
    if not all(ledger.unchanged(f"gold/{n}", fp_before, delta_io.table_version(p)) for n, p in paths.items()):
        return None
    dates = [dt.date.fromisoformat(p) for change in partial.values() for p in change.partitions if p is not None]
    return min(dates) if dates else None


class LeakageError(RuntimeError):
    """A leakage guard failed; nothing of the run was written."""


def build_gold(
    build: Build,
    silver_views: dict[str, delta_io.TableView],
    silver_fingerprints: dict[str, str],
) -> list[PendingWrite]:
    """Stage gold/feature_store and gold/label_store from silver as this run leaves it,
    after the leakage guards passed: (b) no feature row read a source row beyond its
    cutoff, (a) gold <= replay_cut rebuilt from silver cut at replay_cut equals the full
    build <= replay_cut, (c) no single feature separates the label with AUC above the
    threshold (an alarm: logged and recorded, not fatal)."""
    from pyspark import StorageLevel

    options, progress = build.options, build.progress
    if build.config.gold is None:
        raise PipelineError(f"{build.config.file}: no gold section; nothing to build")
    identities, fp, paths = _gold_inputs(build, silver_views, silver_fingerprints)
    if not options.full_refresh and all(
        build.ledger.unchanged(f"gold/{n}", fp, delta_io.table_version(paths[n])) for n in GOLD_TABLES
    ):
        for n in GOLD_TABLES:
            logger.info("gold/%s: inputs unchanged since version %s, skipped", n, delta_io.table_version(paths[n]))
        _record_gold_unchanged(build, paths, fp, 0.0)
        return []

    since = _gold_since(build, identities, paths)
    if since is not None:
        logger.info("gold: silver changed only from %s on; rebuilding the gold partitions from then", since)
    spark = build.get_spark()
    progress.start(4, "gold")
    began = time.perf_counter()
    inputs = _GoldInputs(build, spark, silver_views, since)
    persisted = []
    staged: dict[str, delta_io.StagedWrite] = {}
    try:
        if since is not None and _no_gold_rows_from(inputs, paths, since):
            # the changed months hold no feature or label row, before or now: gold stays as it is
            logger.info("gold: no feature or label row dated %s or later; gold unchanged (guards not rerun)", since)
            _record_gold_unchanged(build, paths, fp, time.perf_counter() - began)
            return []
        features, labels = inputs.assemble()
        features = features.persist(StorageLevel.MEMORY_AND_DISK)
        labels = labels.persist(StorageLevel.MEMORY_AND_DISK)
        persisted += [features, labels]
        results: list[dict] = []
        results += _cutoff_guard(build, features)
        progress.advance("cutoff guard")
        results += _replay_guard(build, inputs, features, labels)
        progress.advance("replay guard")
        results += _auc_alarm(build, spark, paths, since, features, labels)
        progress.advance("AUC alarm")
        _stage_gold(build, paths, since, {"feature_store": features, "label_store": labels}, staged)
        progress.advance("write")
    except BaseException:
        for write in staged.values():
            write.abort()
        raise
    finally:
        for df in persisted:
            df.unpersist()
        progress.stop()
    return _gold_pending(build, staged, paths, fp, time.perf_counter() - began, results)


def _gold_inputs(
    build: Build, silver_views: dict[str, delta_io.TableView], silver_fingerprints: dict[str, str]
) -> tuple[dict[str, str], str, dict[str, Path]]:
    """The identity of every silver table gold reads (by name), gold's fingerprint and
    the paths of the gold tables (by name). Raises when a silver table does not exist."""
    spec, datamart = build.config.gold, build.datamart
    tables = spec.silver_tables
    identities = {}
    for t in tables:
        path = datamart.table("silver", t)
        if t not in silver_views and not delta_io.table_exists(path):
            raise PipelineError(f"gold: silver/{t} does not exist yet; build --layers silver first")
        identities[t] = silver_fingerprints.get(f"silver/{t}") or committed_identity(build.ledger, f"silver/{t}", path)
    fp = fingerprint("gold", spec.fingerprint(), identities, build.options.start, build.options.end)
    return identities, fp, {n: datamart.table("gold", n) for n in GOLD_TABLES}


def _record_gold_unchanged(build: Build, paths: dict[str, Path], fp: str, seconds: float) -> None:
    """Record both gold tables as unchanged, at their committed versions."""
    for n in GOLD_TABLES:
        build.record.outputs.append(OutputRecord(
            "gold", f"gold/{n}", str(paths[n]), delta_io.table_version(paths[n]), 0, 0, 0, 0, 0, seconds,
            "unchanged", fp,
        ))


def _no_gold_rows_from(inputs: _GoldInputs, paths: dict[str, Path], since: dt.date) -> bool:
    """True when no feature or label row is dated `since` or later, neither from silver
    now nor in the committed gold tables."""
    spec = inputs.build.config.gold
    return _gold_rows_from(inputs.spark, inputs.silver(spec.population_table), since, spec) == 0 and not any(
        partitions_in_range(p, since, None) for p in paths.values())


@dataclass(frozen=True)
class _GoldInputs:
    """Silver as this run leaves it (staged views, else as committed), read for gold
    from `since` on (None: from the start of the run's range)."""

    build: Build
    spark: object
    silver_views: dict[str, delta_io.TableView]
    since: dt.date | None

    def silver(self, table: str, cut: dt.date | None = None) -> DataFrame:
        """Rows of silver `table` dated up to the run's end and `cut` (each when set)."""
        from pyspark.sql import functions as F

        end = self.build.options.end
        view = self.silver_views.get(table) or delta_io.view(self.build.datamart.table("silver", table))
        df = view.read(self.spark)
        last = min(d for d in (end, cut) if d is not None) if (end or cut) else None
        return df if last is None else df.where(F.col("snapshot_date") <= F.lit(last))

    def assemble(self, cut: dt.date | None = None) -> tuple[DataFrame, DataFrame]:
        """Feature and label rows from silver, as of `cut` (None: everything)."""
        from pyspark.sql import functions as F

        from utils.layers import gold

        spec = self.build.config.gold
        if spec.population_kind == "active":
            population, labels = self._event_population_and_labels(cut)
        else:
            loans = self.silver(spec.population_table, cut)
            population = gold.build_population(loans, spec)
            labels = functools.reduce(lambda a, b: a.unionByName(b),
                                      [gold.build_label_store(loans, label) for label in spec.labels])
        first = self.since or self.build.options.start
        if first is not None:
            population = population.where(F.col("snapshot_date") >= F.lit(first))
            labels = labels.where(F.col("snapshot_date") >= F.lit(first))
        sources = {name: self.silver(table, cut) for name, (table, _) in spec.sources.items()}
        features = gold.build_feature_store(population, sources, spec)
        return features, labels

    def _event_population_and_labels(self, cut: dt.date | None) -> tuple[DataFrame, DataFrame]:
        """Population kind active and its no_event labels, as of `cut`. The data reach
        to the last event day of the uncut tables (or `cut`, the day the data stop when
        cut): month ends after it get no feature row, windows past it no label."""
        from utils.layers import gold_events

        spec = self.build.config.gold
        tables = [(t, time) for t, time, _ in spec.activity] + [(lb.table, lb.time) for lb in spec.labels]
        end = gold_events.data_end([(self.silver(t), time) for t, time in tables])
        if end is None:
            raise PipelineError(f"gold: {', '.join(sorted({t for t, _ in tables}))} hold no events")
        end = end if cut is None else min(end, cut)
        first = dt.date.fromisoformat(spec.population_start) if spec.population_start else None
        population = gold_events.build_active_population(
            [(self.silver(t, cut), time, where) for t, time, where in spec.activity], spec, last=end, first=first)
        if any(lb.kind != "no_event" for lb in spec.labels):
            raise PipelineError("gold: population kind active takes labels of kind no_event")
        labels = functools.reduce(lambda a, b: a.unionByName(b), [
            gold_events.build_no_event_labels(population, self.silver(lb.table, cut), lb, spec.entity, data_end=end)
            for lb in spec.labels])
        return population, labels


def _cutoff_guard(build: Build, features: DataFrame) -> list[dict]:
    """(b) The `_meta/leakage` row of the cutoff guard: no feature row read a source row
    beyond its cutoff. Raises LeakageError when one did."""
    from utils.layers import gold, leakage

    run_id, domain = build.record.run_id, build.config.domain
    violations = features.agg(gold.cutoff_violations(features, build.config.gold).alias("n")).first()["n"] or 0
    row = leakage.result(run_id, "cutoff", "gold/feature_store", float(violations), 0.0,
                         violations == 0, "feature rows that read a source row beyond its cutoff", domain=domain)
    if violations:
        raise LeakageError(f"gold/feature_store: {violations} feature row(s) read source rows dated after "
                           "their cutoff; nothing was written")
    return [row]


def _replay_guard(build: Build, inputs: _GoldInputs, features: DataFrame, labels: DataFrame) -> list[dict]:
    """(a) The `_meta/leakage` rows of the replay guard (none without a replay_cut):
    gold <= cut built from data <= cut equals the full build <= cut. Raises
    LeakageError at the first table where it does not."""
    from utils.layers import leakage

    run_id, domain, spec, since = build.record.run_id, build.config.domain, build.config.gold, inputs.since
    results: list[dict] = []
    cut = dt.date.fromisoformat(spec.replay_cut) if spec.replay_cut else None
    if cut is not None and since is not None and cut < since:
        # no row <= cut is rebuilt: the rows kept passed this guard when they were built
        for name in ("gold/feature_store", "gold/label_store"):
            results.append(leakage.result(run_id, "replay", name, 0.0, 0.0, True,
                                          f"rows <= {cut} kept as built (this run rebuilds from {since})",
                                          domain=domain))
    elif cut is not None:
        cut_features, cut_labels = inputs.assemble(cut)
        for name, full, replay in (("gold/feature_store", features, cut_features),
                                   ("gold/label_store", labels, cut_labels)):
            mismatch = leakage.replay_mismatch(full, replay, cut)
            results.append(leakage.result(run_id, "replay", name, float(mismatch), 0.0, mismatch == 0,
                                          f"rows <= {cut} that differ when built from data cut at {cut}",
                                          domain=domain))
            if mismatch:
                raise LeakageError(f"{name}: {mismatch} row(s) <= {cut} change when the data is cut at {cut}: "
                                   "a feature or label reads the future; nothing was written")
    return results


def _auc_alarm(
    build: Build, spark, paths: dict[str, Path], since: dt.date | None, features: DataFrame, labels: DataFrame
) -> list[dict]:
    """(c) The `_meta/leakage` rows of the single-feature AUC alarm, one per label and
    numeric feature, over the whole gold tables as this run leaves them (the rows
    kept before `since` and the rebuilt ones); an AUC above the threshold is logged."""
    from pyspark.sql import functions as F

    from utils.layers import leakage

    spec = build.config.gold
    results: list[dict] = []
    all_features, all_labels = features, labels
    if since is not None:
        older = {n: [k[0] for k in delta_io.list_partitions(paths[n]) if k[0] is not None and k[0] < since.isoformat()]
                 for n in GOLD_TABLES}
        all_features = delta_io.read_table(spark, paths["feature_store"], partitions=older["feature_store"]
                                           ).unionByName(features)
        all_labels = delta_io.read_table(spark, paths["label_store"], partitions=older["label_store"]
                                         ).unionByName(labels)
    for label in spec.labels:
        aucs = leakage.single_feature_auc(all_features, all_labels.where(F.col("label_def") == label.name), spec)
        for feature, auc in aucs.items():
            ok = auc <= spec.max_single_feature_auc
            results.append(leakage.result(build.record.run_id, "single_feature_auc", f"{label.name}:{feature}", auc,
                                          spec.max_single_feature_auc, ok, "AUC of the feature alone",
                                          domain=build.config.domain))
            if not ok:
                logger.warning("LEAKAGE ALARM: %s alone separates %s with AUC %.3f (> %.2f); check its "
                               "point-in-time logic", feature, label.name, auc, spec.max_single_feature_auc)
    return results


def _stage_gold(
    build: Build, paths: dict[str, Path], since: dt.date | None, frames: dict[str, DataFrame],
    staged: dict[str, delta_io.StagedWrite],
) -> None:
    """Stage each gold table's rows into `staged[name]`: whole, or replacing the
    partitions of the run's range (from `since` when gold is rebuilt from a month on)."""
    options = build.options
    ranged = options.start is not None or options.end is not None or since is not None
    for name in GOLD_TABLES:
        staged[name] = delta_io.stage_table(
            frames[name], paths[name], mode="overwrite_partitions" if ranged else "overwrite",
            partitions=partitions_in_range(paths[name], since or options.start, options.end) if ranged else None,
            metadata={"run_id": build.record.run_id},
        )


def _gold_pending(
    build: Build, staged: dict[str, delta_io.StagedWrite], paths: dict[str, Path], fp: str, seconds: float,
    results: list[dict],
) -> list[PendingWrite]:
    """The gold writes handed to the caller; committing the label store (the last one)
    appends the guard rows to `_meta/leakage`."""
    from utils.layers import leakage

    def report(out: OutputRecord) -> None:
        logger.info("%s: %d rows in %d partitions -> version %s", out.table, out.rows_written,
                    out.partitions_written, out.version)
        if out.table == "gold/label_store":  # the last gold commit: record the guards that passed
            leakage.append(build.datamart.meta("leakage"), results)

    return [
        PendingWrite(staged[name], OutputRecord("gold", f"gold/{name}", str(paths[name]), None, staged[name].rows,
                                                0, 0, len(staged[name].partitions), 0, seconds, "staged", fp), report)
        for name in GOLD_TABLES
    ]
