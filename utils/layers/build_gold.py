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

#: The gold tables every domain has; a domain may add entity and similarity tables
#: (GoldSpec.table_names lists them all, in the order they are committed).
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
        return None
    if spec.tables or spec.similarity:
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

    if build.config.gold_builder is not None:  # the domain's own builder (gold.builder in its YAML)
        from utils.layers.build_gold_builder import build_builder_gold

        return build_builder_gold(build, silver_views, silver_fingerprints)
    options, progress = build.options, build.progress
    if build.config.gold is None:
        raise PipelineError(f"{build.config.file}: no gold section; nothing to build")
    identities, fp, paths = _gold_inputs(build, silver_views, silver_fingerprints)
    if not options.full_refresh and all(
        build.ledger.unchanged(f"gold/{n}", fp, delta_io.table_version(paths[n])) for n in paths
    ):
        for n in paths:
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
        frames = {n: df.persist(StorageLevel.MEMORY_AND_DISK) for n, df in inputs.assemble().items()}
        persisted += list(frames.values())
        results: list[dict] = []
        results += _cutoff_guard(build, frames)
        progress.advance("cutoff guard")
        results += _replay_guard(build, inputs, frames)
        progress.advance("replay guard")
        results += _auc_alarm(build, spark, paths, since, frames["feature_store"], frames["label_store"])
        progress.advance("AUC alarm")
        _stage_gold(build, paths, since, frames, staged)
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
    return identities, fp, {n: datamart.table("gold", n) for n in spec.table_names}


def _record_gold_unchanged(build: Build, paths: dict[str, Path], fp: str, seconds: float) -> None:
    """Record every gold table as unchanged, at its committed version."""
    for n in paths:
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

    def assemble(self, cut: dt.date | None = None) -> dict[str, DataFrame]:
        """Every gold table's rows from silver (spec.table_names), as of `cut` (None:
        everything)."""
        from pyspark.sql import functions as F

        from utils.layers import gold

        spec = self.build.config.gold
        end = None
        if spec.population_kind == "active":
            population, labels, end = self._event_population_and_labels(cut)
        else:
            loans = self.silver(spec.population_table, cut)
            population = gold.build_population(loans, spec)
            labels = functools.reduce(lambda a, b: a.unionByName(b),
                                      [gold.build_label_store(loans, label) for label in spec.labels])
        first = self.since or self.build.options.start
        if first is not None:
            population = population.where(F.col("snapshot_date") >= F.lit(first))
            labels = labels.where(F.col("snapshot_date") >= F.lit(first))
        frames = {"feature_store": self._features(spec, population, cut)}
        for name, sub in spec.tables.items():
            frames[name] = self._features(sub, self._entity_population(sub, cut, end, first), cut)
        if spec.similarity:
            from utils.layers import gold_similarity

            snapshots = sorted(r[0] for r in population.select("snapshot_date").distinct().collect())
            for name, sim in spec.similarity.items():
                silver = {t: self.silver(t, cut) for t in sim.silver_tables}
                frames[name] = gold_similarity.build_similarity(self.spark, sim, silver, snapshots)
        frames["label_store"] = labels
        return frames

    def _features(self, spec, population: DataFrame, cut: dt.date | None) -> DataFrame:
        from utils.layers import gold

        sources = {name: self.silver(table, cut) for name, (table, _) in spec.sources.items()}
        return gold.build_feature_store(population, sources, spec)

    def _entity_population(self, sub, cut: dt.date | None, end: dt.date | None, first: dt.date | None) -> DataFrame:
        """The population of an entity table: its rows, or its active entities at the
        month ends up to the data's end (that of the feature store's population)."""
        from pyspark.sql import functions as F

        from utils.layers import gold, gold_events

        if sub.population_kind == "rows":
            population = gold.build_population(self.silver(sub.population_table, cut), sub)
        else:
            if end is None:
                tables = [(t, time) for t, time, _ in sub.activity]
                end = gold_events.data_end([(self.silver(t), time) for t, time in tables])
                end = end if cut is None or end is None else min(end, cut)
            start = dt.date.fromisoformat(sub.population_start) if sub.population_start else None
            population = gold_events.build_active_population(
                [(self.silver(t, cut), time, where) for t, time, where in sub.activity], sub, last=end, first=start)
        return population if first is None else population.where(F.col("snapshot_date") >= F.lit(first))

    def _event_population_and_labels(self, cut: dt.date | None) -> tuple[DataFrame, DataFrame, dt.date]:
        """Population kind active and its no_event / interactions labels, as of `cut`,
        and the day the data end. The data reach to the last event day of the uncut
        tables (or `cut`, the day the data stop when cut): month ends after it get no
        feature row, windows past it no label."""
        from utils.layers import gold_events

        spec = self.build.config.gold
        tables = [(t, time) for t, time, _ in spec.activity] + [(lb.table, lb.time) for lb in spec.labels if lb.table]
        tables += [(t, time) for lb in spec.labels for t, time, _, _ in lb.graded]
        end = gold_events.data_end([(self.silver(t), time) for t, time in tables])
        if end is None:
            raise PipelineError(f"gold: {', '.join(sorted({t for t, _ in tables}))} hold no events")
        end = end if cut is None else min(end, cut)
        first = dt.date.fromisoformat(spec.population_start) if spec.population_start else None
        population = gold_events.build_active_population(
            [(self.silver(t, cut), time, where) for t, time, where in spec.activity], spec, last=end, first=first)
        if any(lb.kind == "dpd_at_mob" for lb in spec.labels):
            raise PipelineError("gold: population kind active takes labels of kind no_event or interactions")
        parts = []
        for lb in spec.labels:
            if lb.kind == "no_event":
                parts.append(gold_events.build_no_event_labels(population, self.silver(lb.table, cut), lb,
                                                               spec.entity, data_end=end))
            else:
                parts.append(gold_events.build_interaction_labels(
                    population, {t: self.silver(t, cut) for t in lb.tables}, lb, spec.entity, data_end=end))
        return population, functools.reduce(lambda a, b: a.unionByName(b), parts), end


def _cutoff_guard(build: Build, frames: dict[str, DataFrame]) -> list[dict]:
    """(b) The `_meta/leakage` rows of the cutoff guard, one per feature table: no
    feature row read a source row beyond its cutoff. Raises LeakageError when one did."""
    from utils.layers import gold, leakage

    run_id, domain, spec = build.record.run_id, build.config.domain, build.config.gold
    rows = []
    for name, sub in {"feature_store": spec, **spec.tables}.items():
        features = frames[name]
        violations = features.agg(gold.cutoff_violations(features, sub).alias("n")).first()["n"] or 0
        rows.append(leakage.result(run_id, "cutoff", f"gold/{name}", float(violations), 0.0, violations == 0,
                                   "feature rows that read a source row beyond its cutoff", domain=domain))
        if violations:
            raise LeakageError(f"gold/{name}: {violations} row(s) read source rows dated after their cutoff; "
                               "nothing was written")
    return rows


def _replay_guard(build: Build, inputs: _GoldInputs, frames: dict[str, DataFrame]) -> list[dict]:
    """(a) The `_meta/leakage` rows of the replay guard (none without a replay_cut), one
    per gold table: gold <= cut built from data <= cut equals the full build <= cut.
    Raises LeakageError at the first table where it does not."""
    from utils.layers import leakage

    run_id, domain, spec, since = build.record.run_id, build.config.domain, build.config.gold, inputs.since
    results: list[dict] = []
    cut = dt.date.fromisoformat(spec.replay_cut) if spec.replay_cut else None
    if cut is not None and since is not None and cut < since:
        # no row <= cut is rebuilt: the rows kept passed this guard when they were built
        for name in frames:
            results.append(leakage.result(run_id, "replay", f"gold/{name}", 0.0, 0.0, True,
                                          f"rows <= {cut} kept as built (this run rebuilds from {since})",
                                          domain=domain))
    elif cut is not None:
        replayed = inputs.assemble(cut)
        for name, full in frames.items():
            mismatch = leakage.replay_mismatch(full, replayed[name], cut)
            results.append(leakage.result(run_id, "replay", f"gold/{name}", float(mismatch), 0.0, mismatch == 0,
                                          f"rows <= {cut} that differ when built from data cut at {cut}",
                                          domain=domain))
            if mismatch:
                raise LeakageError(f"gold/{name}: {mismatch} row(s) <= {cut} change when the data is cut at {cut}: "
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
    for label in (lb for lb in spec.labels if lb.kind != "interactions"):  # binary labels only
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
    for name in frames:
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
        for name in paths
    ]
