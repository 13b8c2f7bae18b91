"""Gathering the facts of one run from the datamart: row counts from the Delta logs at
the versions the run left, the run's `_meta` rows (or those it inherits), the labels,
features and quarantine at those versions, and the newest sanity model or, when the
primary label is of kind interactions, the recommenders' evaluation. The domain's
tables are found through :class:`utils.lake.datamart.Datamart` (``<layer>/<domain>/<table>``).
Reads only; no Spark."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from utils.lake import delta_io
from utils.lake.config import DomainConfig
from utils.lake.datamart import Datamart

from .facts import (
    BRONZE_LINEAGE,
    FEATURE_STORE,
    LABEL_STORE,
    META_TABLES,
    QUARANTINE,
    DeckFacts,
    FeatureFacts,
    GuardFacts,
    LabelFacts,
    LeakageFacts,
    MissingFacts,
    ModelFacts,
    QualityFacts,
    RankingFacts,
    ReconcileFacts,
    RecommenderFacts,
    RuleFacts,
    RunFacts,
    SourceFacts,
    StatisticFacts,
    TableFacts,
)
from .format import month_of, portable_path
from .runs import (
    as_time,
    effective_rows,
    ledger_runs,
    resolve_run,
    run_config,
    run_options,
    run_record,
    source_inputs,
    table_versions,
)

logger = logging.getLogger(__name__)


def gather_facts(datamart: str | Path, run_id: str | None = None) -> DeckFacts:
    """Read everything the deck shows for `run_id` (default: the latest successful run)."""
    root = Path(datamart).resolve()
    row, upto = resolve_run(root, run_id)
    run, record = gather_run(root, row, upto)
    run_ids = [r["run_id"] for r in upto]
    config, config_source = run_config(run.options, run.domain or "loan_default", run.config_hash, run.code_version)
    dm = Datamart(root, config.domain)  # where the domain's tables are: <layer>/<domain>/<table>
    versions = table_versions(upto)
    tables = gather_tables(dm, config, versions)
    store = next((t for t in tables if t.name == FEATURE_STORE), None)
    features = gather_features(dm, config, store)
    labels = gather_labels(dm, config, versions.get(LABEL_STORE))
    primary = labels[0].label_def if labels else (config.gold.labels[0].name if config.gold else "")
    # a graded label (kind interactions) is judged by recommenders, not by a classifier
    ranks = bool(config.gold and config.gold.labels and config.gold.labels[0].kind == "interactions")
    model = gather_model(root, primary, versions) if primary and not ranks else None
    ranking = gather_ranking(dm, versions, store) if ranks else None
    feature_names = [f.name for f in config.gold.features] if config.gold else []
    # shown on a slide: the datamart relative to the project, never absolute
    hint = (f"python main.py train --domain {config.domain} --datamart {portable_path(root)}" if ranks else
            f"python -m utils.ml.train --domain {config.domain} --datamart {portable_path(root)} --label-def {primary}")
    return DeckFacts(
        datamart=root,
        title=f"Lakehouse for ML: {config.domain.replace('_', ' ')}",
        description=config.description,
        config_file=config_source,
        config_matches_run=config.config_hash == run.config_hash,
        run=run,
        sources=tuple(gather_sources(config, source_inputs([*upto[:-1], record]), tables, features)),
        tables=tuple(tables),
        meta_rows=_meta_counts(root, run.run_id),
        quality=gather_quality(dm, run_ids, versions.get(QUARANTINE)),
        leakage=gather_leakage(root, run_ids, config),
        labels=tuple(labels),
        features=features,
        statistics=tuple(gather_statistics(root, run_ids)),
        missing=tuple(gather_missing(root, run.run_id, feature_names)),
        model=model,
        model_hint=hint,
        ranking=ranking,
    )


def gather_run(datamart: Path, row: dict[str, Any], upto: Sequence[dict[str, Any]]) -> tuple[RunFacts, dict[str, Any]]:
    """(the run's facts, its run record): the record when it exists, else the ledger `row`;
    `upto` are the successful runs up to it."""
    record, record_path = run_record(datamart, row)
    options = run_options(record)
    run = RunFacts(
        run_id=row["run_id"], status=row["status"], started_at=as_time(record.get("started_at")),
        ended_at=as_time(record.get("ended_at")), seconds=record.get("seconds"), domain=record.get("domain") or "",
        layers=tuple(record.get("layers") or ()), options=options, code_version=record.get("code_version") or "",
        config_hash=record.get("config_hash") or "", data_root=str(options.get("data_root") or ""),
        inputs=tuple(record.get("inputs") or ()), outputs=tuple(record.get("outputs") or ()),
        record_path=record_path, runs_in_ledger=len(ledger_runs(datamart)), successful_runs=len(upto),
    )
    return run, record


def _view(path: Path, version: int | None) -> delta_io.TableView | None:
    """The table at `path` as of `version` (the current version when that one is gone); None without a table."""
    if not delta_io.table_exists(path):
        return None
    try:
        return delta_io.view(path, version=version)
    except delta_io.TableMissingError:
        logger.warning("%s: version %s is gone (vacuumed?); using the current version", path, version)
        return delta_io.view(path)


def _table_facts(dm: Datamart, name: str, version: int | None, text: str, keys: Sequence[str]) -> TableFacts | None:
    """Rows and partitions of table `name` (``<layer>/<name>``) at `version`, from its Delta log; None without a table."""
    view = _view(dm.path_of(name), version)
    if view is None:
        return None
    parts = view.partitions()
    dates = sorted(k[-1] for k in parts if k and k[-1] is not None)
    return TableFacts(
        name=name, layer=name.split("/", 1)[0], grain=text, keys=tuple(keys), partition_by=view.partition_by,
        version=version, rows=sum(parts.values()), partitions=len(parts),
        first_partition=dates[0] if dates else None, last_partition=dates[-1] if dates else None,
        columns=tuple(view.schema.names),
    )


def grain(description: str) -> str:
    """The grain part of a table description: its first clause ("One row per customer
    at application time; Name dropped" -> "One row per customer at application time")."""
    return re.split(r"[;,]| \(", description or "", maxsplit=1)[0].strip().rstrip(".")


def _unique_keys(table) -> tuple[str, ...]:
    """The columns of the silver table's first uniqueness rule: its key."""
    for rule in table.rules:
        if rule.unique:
            return tuple(rule.unique)
    return ()


def gather_tables(dm: Datamart, config: DomainConfig, versions: dict[str, int]) -> list[TableFacts]:
    """Every declared table as of `versions`: bronze per source, silver per table plus
    the quarantine, the gold stores and the domain's other gold tables (entity tables,
    item similarity). Tables that do not exist are left out."""
    specs: list[tuple[str, str, Sequence[str]]] = []
    for s in config.sources.values():
        specs.append((f"bronze/{s.name}", "Every raw line of the file, as text",
                      ("_source_file", "_source_line")))
    for t in config.silver.values():
        specs.append((f"silver/{t.name}", grain(t.description) or f"Typed rows of {t.source}", _unique_keys(t)))
    specs.append((QUARANTINE, "One row per rejected row: rule, reason, raw values", ("table", "_source_file", "_source_line")))
    if config.gold is not None:
        entity = config.gold.entity
        graded = next((lb for lb in config.gold.labels if lb.kind == "interactions"), None)
        if config.gold.population_kind == "active":
            specs.append((FEATURE_STORE, f"One row per active {entity.replace('_id', '')}, month end",
                          (entity, "snapshot_date")))
            for name, sub in config.gold.tables.items():
                specs.append((f"gold/{name}", grain(sub.description) or f"One row per {sub.entity} and month end",
                              (sub.entity, "snapshot_date")))
            for name, sim in config.gold.similarity.items():
                specs.append((f"gold/{name}", grain(sim.description) or f"Top {sim.top_n} neighbours per item",
                              (sim.item, "neighbour_id", "kind", "snapshot_date")))
            if graded is not None:
                specs.append((LABEL_STORE, f"One row per {entity.replace('_id', '')}, "
                              f"{graded.item.replace('_id', '')} and month end, graded",
                              (entity, graded.item, "feature_snapshot_date", "label_def")))
            else:
                specs.append((LABEL_STORE, "One row per feature row and label", (entity, "feature_snapshot_date",
                                                                                "label_def")))
        else:
            specs.append((FEATURE_STORE, f"One row per applying {entity.replace('_id', '')} and month",
                          (entity, "snapshot_date")))
            specs.append((LABEL_STORE, "One row per loan and label definition", ("loan_id", "label_def")))
    out = []
    for name, text, keys in specs:
        facts = _table_facts(dm, name, versions.get(name), text, keys)
        if facts is None:
            logger.info("%s: no table at %s", name, dm.path_of(name))
        else:
            out.append(facts)
    return out


def _meta_rows(datamart: Path, table: str) -> list[dict[str, Any]]:
    """Every row of `_meta/<table>` (small tables)."""
    return delta_io.read_rows(datamart / "_meta" / table)


def _partition_key(r: dict[str, Any]) -> tuple:
    """(table, snapshot_date) of a `_meta/quality` or `_meta/accounting` row."""
    return (r["table"], str(r["snapshot_date"]))


def gather_quality(dm: Datamart, run_ids: Sequence[str], quarantine_version: int | None) -> QualityFacts:
    """Rule results and accounting of the silver partitions as of the last of `run_ids`,
    and the rows of silver/_quarantine at its version."""
    q = effective_rows(_meta_rows(dm.root, "quality"), run_ids, _partition_key)
    acc = effective_rows(_meta_rows(dm.root, "accounting"), run_ids, _partition_key)

    totals: dict[tuple[str, str, str], dict[str, Any]] = {}
    by_action: dict[str, int] = {}
    for r in q:
        k = (r["table"], r["rule"], r["kind"])
        t = totals.setdefault(k, {"severity": r["severity"], "action": r["action"], "checked": 0, "failed": 0})
        t["checked"] += int(r["rows_checked"])
        t["failed"] += int(r["rows_failed"])
        by_action[r["action"]] = by_action.get(r["action"], 0) + int(r["rows_failed"])
    rules = sorted((RuleFacts(table, rule, kind, t["severity"], t["action"], t["checked"], t["failed"])
                    for (table, rule, kind), t in totals.items()), key=lambda r: (-r.failed, r.table, r.rule))

    recon: dict[str, dict[str, int]] = {}
    for r in acc:
        t = recon.setdefault(r["table"], {"b": 0, "s": 0, "q": 0, "p": 0, "ok": 0})
        t["b"] += int(r["bronze_rows"])
        t["s"] += int(r["silver_rows"])
        t["q"] += int(r["quarantined_rows"])
        t["p"] += 1
        t["ok"] += int(bool(r["balanced"]))
    reconcile = tuple(ReconcileFacts(name, t["b"], t["s"], t["q"], t["p"], t["ok"]) for name, t in sorted(recon.items()))

    by_rule: dict[str, int] = {}
    quarantined = 0
    path = dm.path_of(QUARANTINE)
    if delta_io.table_exists(path):
        from deltalake import DeltaTable

        table = DeltaTable(str(path))
        if quarantine_version is not None:
            table.load_as_version(int(quarantine_version))
        rows = table.to_pyarrow_table(columns=["table", "rule"]).to_pylist()
        quarantined = len(rows)
        for r in rows:
            k = f"{r['table']}: {r['rule']}"
            by_rule[k] = by_rule.get(k, 0) + 1
    used = tuple(rid for rid in run_ids if any(r["run_id"] == rid for r in q))
    return QualityFacts(
        rules=tuple(rules), reconcile=reconcile, quarantined_rows=quarantined,
        quarantine_by_rule=dict(sorted(by_rule.items(), key=lambda kv: -kv[1])),
        checks_flagged=sum(r.failed for r in rules), checks_run=len(q), failed_by_action=by_action, runs_used=used,
    )


def gather_leakage(datamart: Path, run_ids: Sequence[str], config: DomainConfig) -> LeakageFacts:
    """The guard rows of the newest of `run_ids` that ran the guards."""
    gold = config.gold
    rows = [r for r in _meta_rows(datamart, "leakage") if r["run_id"] in set(run_ids)]
    latest = next((rid for rid in reversed(run_ids) if any(r["run_id"] == rid for r in rows)), None)
    mine = [r for r in rows if r["run_id"] == latest]
    facts = [GuardFacts(r["guard"], r["subject"], float(r["value"]), float(r["threshold"]), bool(r["passed"]),
                        r["detail"] or "") for r in mine]
    return LeakageFacts(
        cutoffs=dict(gold.sources) if gold else {},
        replay_cut=gold.replay_cut if gold else None,
        auc_threshold=gold.max_single_feature_auc if gold else 0.0,
        guards=tuple(g for g in facts if g.guard != "single_feature_auc"),
        aucs=tuple(sorted((g for g in facts if g.guard == "single_feature_auc"), key=lambda g: -g.value)),
        run_id=latest,
    )


def gather_labels(dm: Datamart, config: DomainConfig, version: int | None) -> list[LabelFacts]:
    """Counts of gold/label_store per label definition of the config, at `version`."""
    if config.gold is None or not delta_io.table_exists(dm.path_of(LABEL_STORE)):
        return []
    from deltalake import DeltaTable

    table = DeltaTable(str(dm.path_of(LABEL_STORE)))
    if version is not None:
        table.load_as_version(int(version))
    entity = config.gold.entity
    columns = ["label_def", "label", "snapshot_date", "feature_snapshot_date"]
    items = sorted({lb.item for lb in config.gold.labels if lb.kind == "interactions"})
    names = [field.name for field in table.schema().fields]
    columns += [c for c in (entity, *items) if c in names and c not in columns]
    rows = table.to_pyarrow_table(columns=columns).to_pylist()
    out = []
    for spec in config.gold.labels:
        mine = [r for r in rows if r["label_def"] == spec.name]
        wording = {}
        if spec.kind == "no_event":
            event = f"a counted {spec.table} event"  # the predicate is on the label slide
            wording = {"kind": spec.kind, "days": spec.days, "event": event, "where": spec.where or "",
                       "unit": entity.removesuffix("_id"), "decision": "month end"}
        elif spec.kind == "interactions":  # graded (entity, item) rows: no positives, grades
            grades: dict[int, int] = {}
            for r in mine:
                grades[int(r["label"])] = grades.get(int(r["label"]), 0) + 1
            wording = {"kind": spec.kind, "days": spec.days, "unit": entity.removesuffix("_id"),
                       "decision": "month end", "item": spec.item.removesuffix("_id"),
                       "grades": tuple(sorted(grades.items())),
                       "entities": len({(r.get(entity), r["feature_snapshot_date"]) for r in mine}),
                       "items": len({r.get(spec.item) for r in mine})}
        out.append(LabelFacts(
            **wording, label_def=spec.name, dpd=spec.dpd, mob=spec.mob, description=spec.description,
            total=len(mine),
            positives=len(mine) if spec.kind == "interactions" else sum(1 for r in mine if r["label"] == 1),
            label_months=tuple(sorted({month_of(r["snapshot_date"]) for r in mine if r["snapshot_date"]})),
            application_months=tuple(sorted({month_of(r["feature_snapshot_date"]) for r in mine
                                             if r["feature_snapshot_date"]})),
        ))
    return out


#: examples of features on the features slide (more do not fit)
MAX_EXAMPLES = 6


def feature_kind(feature) -> str:
    """"as of D" for an expression over the as-of source row, "derived" for one over other
    features, else the aggregate."""
    if not feature.source:
        return "derived"
    return feature.aggregate or "as of D"


def gather_features(dm: Datamart, config: DomainConfig, store: TableFacts | None) -> FeatureFacts:
    """The declared features by source and kind, one example per (source, kind), and
    what gold/feature_store holds: its columns and, per source, rows without history."""
    features = config.gold.features if config.gold else ()
    by_source: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    by_both: dict[tuple[str, str], int] = {}
    for f in features:
        kind, source = feature_kind(f), f.source or "derived"
        by_source[source] = by_source.get(source, 0) + 1
        by_kind[kind] = by_kind.get(kind, 0) + 1
        by_both[(source, kind)] = by_both.get((source, kind), 0) + 1
    # one example per (source, kind), in config order; one per kind when that is too many for a slide
    seen, examples = set(), []
    per_kind = len(by_both) > MAX_EXAMPLES
    for f in features:
        k = feature_kind(f) if per_kind else (f.source or "derived", feature_kind(f))
        if k not in seen and len(examples) < MAX_EXAMPLES:
            seen.add(k)
            examples.append((f.name, f.source or "derived", feature_kind(f), f.description))
    columns = store.columns if store else ()
    indicators = tuple(c for c in columns if c.startswith("has_") and c[4:] in by_source)
    asof = tuple(c for c in columns if c.startswith("_asof_"))
    rows_without: dict[str, int] = {}
    if store is not None and indicators:
        from deltalake import DeltaTable

        table = DeltaTable(str(dm.path_of(FEATURE_STORE)))
        if store.version is not None:
            table.load_as_version(int(store.version))
        data = table.to_pyarrow_table(columns=list(indicators)).to_pydict()
        rows_without = {c[4:]: sum(1 for v in data[c] if not v) for c in indicators}
    return FeatureFacts(
        total=len(features), by_source=by_source, by_kind=by_kind, by_source_kind=by_both,
        examples=tuple(examples), store_columns=len(columns), indicator_columns=indicators, asof_columns=asof,
        missing_in_store=tuple(f.name for f in features if columns and f.name not in columns),
        rows=store.rows if store else 0, months=store.partitions if store else 0, rows_without=rows_without,
        entity_tables={name: len(sub.features) for name, sub in config.gold.tables.items()} if config.gold else {},
    )


def _file_of(source, records: Sequence[dict[str, Any]]) -> str:
    """The name a slide gives the input of `source`: the file's name when the run read one,
    else the pattern of the declared path (users_*.csv), else "<source> (API)"."""
    if len(records) == 1 and (records[0].get("path") or source.path):
        return Path(records[0].get("path") or source.path).name
    return Path(source.path).name if source.path else f"{source.name} (API)"


def gather_sources(config: DomainConfig, inputs: dict[str, Any], tables: Sequence[TableFacts],
                   features: FeatureFacts) -> list[SourceFacts]:
    """One fact per declared source: its input records (a record, or the records of every
    file the run read: their bytes summed, the sha256 of a single file only), its bronze
    table, the silver table it feeds and the features that silver table gives."""
    silver_of = {t.source: t for t in config.silver.values()}
    feature_source_of = {}  # silver table -> feature source name
    label_tables: set[str | None] = set()
    readers: dict[str, list[str]] = {}  # silver table -> the other gold tables reading it
    if config.gold:
        for name, spec in [*config.gold.tables.items(), *config.gold.similarity.items()]:
            for table in sorted(spec.silver_tables):
                readers.setdefault(table, []).append(name)
        feature_source_of = {table: name for name, (table, _) in config.gold.sources.items()}
        # the table that gives the population and labels (kind active: the labels' event table),
        # and the graded event tables of a label of kind interactions
        label_tables = {config.gold.population_table or next((lb.table for lb in config.gold.labels if lb.table), None)}
        label_tables |= {t for lb in config.gold.labels if lb.kind == "interactions" for t in lb.tables}
    out = []
    for s in config.sources.values():
        bronze = next((t for t in tables if t.name == f"bronze/{s.name}"), None)
        silver = silver_of.get(s.name)
        given = inputs.get(s.name) or []
        records = [given] if isinstance(given, dict) else list(given)
        i = records[0] if len(records) == 1 else {}
        sizes = [r.get("bytes") for r in records]
        out.append(SourceFacts(
            name=s.name, description=s.description, file=_file_of(s, records),
            bytes=sum(sizes) if sizes and None not in sizes else None, sha256=i.get("sha256") or "",
            skipped=bool(records) and all(r.get("skipped") for r in records), files=max(len(records), 1),
            rows=bronze.rows if bronze else 0, months=bronze.partitions if bronze else 0,
            first_month=month_of(bronze.first_partition) if bronze else None,
            last_month=month_of(bronze.last_partition) if bronze else None,
            raw_columns=len([c for c in bronze.columns if c not in BRONZE_LINEAGE]) if bronze else len(s.required_columns),
            keys=s.keys, personal_data=s.personal_data,
            silver_table=silver.name if silver else None, silver_columns=len(silver.columns) if silver else 0,
            features=features.by_source.get(feature_source_of.get(silver.name, ""), 0) if silver else 0,
            feeds_labels=bool(silver and silver.name in label_tables),
            gold_tables=tuple(readers.get(silver.name, ())) if silver else (),
        ))
    return out


def gather_statistics(datamart: Path, run_ids: Sequence[str]) -> list[StatisticFacts]:
    """The fitted statistics in use: the newest fit per table, column and fit_version
    made by one of `run_ids` or before (they are reused, not refitted)."""
    rows = [r for r in _meta_rows(datamart, "statistics") if r.get("run_id") in set(run_ids)]
    newest: dict[tuple, dict] = {}
    for r in sorted(rows, key=lambda r: r["fitted_at"]):
        newest[(r["table"], r["column"])] = r
    return [StatisticFacts(r["table"], r["column"], r["method"], str(r["window_start"]), str(r["window_end"]),
                           int(r["fit_version"]), int(r["rows"])) for r in newest.values()]


def gather_missing(datamart: Path, run_id: str, features: Sequence[str]) -> list[MissingFacts]:
    """Null share of each gold feature column over all partitions, from the run's rows
    of _meta/profile; [] when the run was not profiled."""
    path = datamart / "_meta" / "profile"
    if not delta_io.table_exists(path):
        return []
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    data = DeltaTable(str(path)).to_pyarrow_dataset().to_table(
        columns=["run_id", "table", "column", "row_count", "null_count"],
        filter=(pc.field("run_id") == run_id) & (pc.field("table") == FEATURE_STORE)).to_pylist()
    sums: dict[str, list[int]] = {}
    for r in data:
        if r["column"] in features:
            s = sums.setdefault(r["column"], [0, 0])
            s[0] += int(r["row_count"] or 0)
            s[1] += int(r["null_count"] or 0)
    out = [MissingFacts(c, rows, nulls) for c, (rows, nulls) in sums.items()]
    return sorted(out, key=lambda m: (-m.share, m.column))


def _meta_counts(datamart: Path, run_id: str) -> dict[str, int]:
    """Rows per _meta table: the run's own rows where the table has a run_id, the
    number of runs for the ledger."""
    out: dict[str, int] = {}
    for name in META_TABLES:
        path = datamart / "_meta" / name
        if not delta_io.table_exists(path):
            continue
        if name == "runs":
            out[name] = len(ledger_runs(datamart))
            continue
        import pyarrow.compute as pc
        from deltalake import DeltaTable

        dataset = DeltaTable(str(path)).to_pyarrow_dataset()
        out[name] = dataset.count_rows(filter=pc.field("run_id") == run_id) if "run_id" in dataset.schema.names \
            else dataset.count_rows()
    return out


def newest_model(datamart: Path, label_def: str) -> Path | None:
    """metrics.json of the newest model under _models/<label_def>/ (stamps sort by time)."""
    folder = datamart / "_models" / label_def
    found = sorted(folder.glob("*/metrics.json")) if folder.is_dir() else []
    return found[-1] if found else None


def gather_model(datamart: Path, label_def: str, versions: dict[str, int]) -> ModelFacts | None:
    """The newest model's metrics.json as facts, and whether it used the table versions
    of the run; None when there is none or it cannot be read."""
    path = newest_model(datamart, label_def)
    if path is None:
        return None
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
        split = m["split"]
        models = {name: {"auc": r["test"]["auc"], "precision": r["test"]["precision"], "recall": r["test"]["recall"],
                         "f1": r["test"]["f1"], "train_auc": r["train_auc"]} for name, r in m["models"].items()}
        b = m.get("baseline")
        baseline = ({"auc": b["test"]["auc"], "precision": b["test"]["precision"], "recall": b["test"]["recall"],
                     "f1": b["test"]["f1"], "train_auc": b["train_auc"]} if b else None)
        used = {k: int(v) for k, v in (m.get("table_versions") or {}).items()}
        matches = all(versions.get(f"gold/{k}") == v for k, v in used.items()) if used else False
        return ModelFacts(
            path=path, label_def=m["label_def"], timestamp=m.get("timestamp", ""), best_model=m["best_model"],
            models=models, holdout_months=int(split["holdout_months"]),
            test_months=tuple(month_of(x) for x in split["test_months"]),
            train_months=tuple(month_of(x) for x in split["train_months"]),
            train_rows=int(split["train_rows"]), test_rows=int(split["test_rows"]),
            train_positive_rate=float(split["train_positive_rate"]), test_positive_rate=float(split["test_positive_rate"]),
            n_features=sum(len(v) for v in (m.get("features") or {}).values()),
            top_features=tuple((t["feature"], float(t["importance_mean"])) for t in m.get("top_features") or []),
            table_versions=used, matches_run=matches, baseline=baseline,
            baseline_feature=b["feature"] if b else "",
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("cannot read model metrics %s (%s); the deck shows how to train instead", path, exc)
        return None


def gather_ranking(dm: Datamart, versions: dict[str, int], store: TableFacts | None) -> RankingFacts | None:
    """The recommenders' evaluation of the domain (`_models/<domain>/evaluation.json`, the
    newest; a copy of each lies beside it per training): models best NDCG@10 of warm
    users first, and whether it read the gold tables at the versions of the run. The
    users of gold/feature_store at the cut come from its Delta log. None when there is
    none or it cannot be read."""
    path = dm.models / "evaluation.json"
    if not path.is_file():
        return None
    try:
        e = json.loads(path.read_text(encoding="utf-8"))
        models = [RecommenderFacts(
            name=name, fit_seconds=float(r["fit_seconds"]), recommend_seconds=float(r["recommend_seconds"]),
            fallback_users=int(r.get("fallback_users") or 0), params=dict(r.get("params") or {}),
            metrics={seg: {int(k): {m: float(v) for m, v in at.items()} for k, at in by_k.items()}
                     for seg, by_k in r["metrics"].items()},
        ) for name, r in e["models"].items()]
        # the best: the highest NDCG@10 of warm users, as the registry picks its champion
        models.sort(key=lambda m: (-(m.at("warm", 10, "ndcg") or m.at("all", 10, "ndcg") or 0.0), m.name))
        # the evaluation names gold tables without their layer (feature_store), silver with it
        used = {(k if "/" in k else f"gold/{k}"): int(v) for k, v in (e.get("table_versions") or {}).items()}
        gold = {k: v for k, v in used.items() if k.startswith("gold/")}
        population = None
        view = _view(dm.path_of(FEATURE_STORE), store.version) if store is not None else None
        if view is not None:
            population = sum(rows for key, rows in view.partitions().items() if key and str(key[-1]) == e["cut"])
        return RankingFacts(
            path=path, label_def=e["label_def"], trained_at=e.get("trained_at", ""), cut=str(e["cut"]),
            users={k: int(v) for k, v in e["users"].items()}, population=population,
            train_events=int(e["train_events"]), train_users=int(e.get("train_users") or 0),
            catalogue_items=int(e["catalogue_items"]), ks=tuple(int(k) for k in e.get("ks") or ()),
            models=tuple(models), ceiling={k: float(v) for k, v in (e.get("ceiling") or {}).items()},
            alarms=tuple(e.get("leakage_alarms") or ()), table_versions=used,
            matches_run=bool(gold) and all(versions.get(k) == v for k, v in gold.items()),
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        logger.warning("cannot read the recommenders' evaluation %s (%s); the deck shows how to train instead",
                       path, exc)
        return None
