"""The slide deck of a datamart's latest run: ten 16:9 slides in one PDF.

    python -m utils.present.deck [--datamart DIR] [--out deck/lakehouse_deck.pdf] [--run-id ID]

Two halves, so the numbers can be tested without drawing anything:

* :func:`gather_facts` reads what the deck shows into a :class:`DeckFacts`: the run
  ledger (`_meta/runs`) and the run record (`_meta/run_records/<run_id>.json`), the row
  counts per partition of every bronze, silver and gold table at the Delta version the
  run left it (from the Delta log, no data read), the labels of `gold/label_store`, the
  quarantined rows, the run's rows of `_meta/quality`, `_meta/accounting`,
  `_meta/leakage`, `_meta/statistics` and `_meta/profile`, the domain configuration
  (`conf/<domain>.yaml` through :mod:`utils.lake.config`) and the newest sanity model
  (`_models/<label_def>/<stamp>/metrics.json` of ``python -m utils.ml.train``).
  Metadata of a table the run did not rebuild (inputs unchanged, or a partition range)
  comes from the latest earlier run that did, per table and partition.
* one ``slide_*`` function per slide draws a matplotlib Figure from the facts alone;
  :func:`render_deck` writes them with PdfPages. Every number on a slide is a field of
  the facts; the headline of each slide (``headline_*``) states its takeaway.

No Spark, no network, no pyplot (so no global backend is switched).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.lake import delta_io
from utils.lake.config import ConfigError, DomainConfig, load_config
from utils.lake.ledger import RunLedger

logger = logging.getLogger(__name__)

from utils.lake.paths import PROJECT_ROOT  # noqa: E402  (resolved once, in utils.lake.paths)
DEFAULT_OUT = PROJECT_ROOT / "deck" / "lakehouse_deck.pdf"
QUARANTINE = "silver/_quarantine"
LABEL_STORE = "gold/label_store"
FEATURE_STORE = "gold/feature_store"
#: bronze columns the ingest adds to the file's own columns (a source column named
#: snapshot_date is kept as snapshot_date_raw, so it still counts as the file's)
BRONZE_LINEAGE = ("snapshot_date", "_source_file", "_source_line", "_ingested_at", "_run_id", "_malformed_line")
META_TABLES = ("runs", "quality", "accounting", "statistics", "leakage", "profile")
MAX_SLIDES = 10


class DeckError(RuntimeError):
    """The datamart cannot give a deck (no ledger, no successful run, unknown run id)."""


# --------------------------------------------------------------------------- facts


@dataclass(frozen=True)
class RunFacts:
    """The run the deck shows, from the ledger and its run record."""

    run_id: str
    status: str
    started_at: dt.datetime
    ended_at: dt.datetime | None
    seconds: float | None
    domain: str
    layers: tuple[str, ...]
    options: dict[str, Any]
    code_version: str
    config_hash: str
    data_root: str
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[dict[str, Any], ...]
    record_path: Path | None
    runs_in_ledger: int
    successful_runs: int


@dataclass(frozen=True)
class TableFacts:
    """One Delta table as the run left it: rows and partitions from the Delta log."""

    name: str  # e.g. silver/attributes
    layer: str
    grain: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...]
    version: int | None
    rows: int
    partitions: int
    first_partition: str | None
    last_partition: str | None
    columns: tuple[str, ...]


@dataclass(frozen=True)
class SourceFacts:
    """A raw source file and what it feeds."""

    name: str
    description: str
    file: str
    bytes: int | None
    sha256: str
    skipped: bool
    rows: int
    months: int
    first_month: str | None
    last_month: str | None
    raw_columns: int
    keys: tuple[str, ...]
    personal_data: tuple[str, ...]
    silver_table: str | None
    silver_columns: int
    features: int
    feeds_labels: bool


@dataclass(frozen=True)
class RuleFacts:
    """One rule of one silver table summed over the partitions."""

    table: str
    rule: str
    kind: str
    severity: str
    action: str
    checked: int
    failed: int


@dataclass(frozen=True)
class ReconcileFacts:
    """Row accounting of one silver table: bronze = silver + quarantine."""

    table: str
    bronze_rows: int
    silver_rows: int
    quarantined_rows: int
    partitions: int
    balanced_partitions: int


@dataclass(frozen=True)
class QualityFacts:
    """What the quality rules caught, as of the run."""

    rules: tuple[RuleFacts, ...]  # most failures first
    reconcile: tuple[ReconcileFacts, ...]
    quarantined_rows: int  # rows in silver/_quarantine at the run's version
    quarantine_by_rule: dict[str, int]  # "<table>: <rule>" -> rows
    checks_flagged: int  # sum of rows failed over every rule and partition
    checks_run: int  # rules x partitions evaluated
    failed_by_action: dict[str, int]
    runs_used: tuple[str, ...]

    @property
    def bronze_rows(self) -> int:
        return sum(r.bronze_rows for r in self.reconcile)

    @property
    def silver_rows(self) -> int:
        return sum(r.silver_rows for r in self.reconcile)

    @property
    def accounted_quarantine(self) -> int:
        return sum(r.quarantined_rows for r in self.reconcile)

    @property
    def partitions(self) -> int:
        return sum(r.partitions for r in self.reconcile)

    @property
    def balanced_partitions(self) -> int:
        return sum(r.balanced_partitions for r in self.reconcile)

    @property
    def rules_with_failures(self) -> int:
        return sum(1 for r in self.rules if r.failed > 0)


@dataclass(frozen=True)
class GuardFacts:
    guard: str
    subject: str
    value: float
    threshold: float
    passed: bool
    detail: str


@dataclass(frozen=True)
class LeakageFacts:
    """Point-in-time settings from the config and the guard results of the run."""

    cutoffs: dict[str, tuple[str, str]]  # feature source -> (silver table, "<=" | "<")
    replay_cut: str | None
    auc_threshold: float
    guards: tuple[GuardFacts, ...]  # cutoff and replay guards
    aucs: tuple[GuardFacts, ...]  # single-feature AUC, highest first
    run_id: str | None  # the run whose guard rows these are

    @property
    def all_passed(self) -> bool:
        return all(g.passed for g in self.guards + self.aucs)

    @property
    def checks(self) -> int:
        return len(self.guards) + len(self.aucs)

    @property
    def alarms(self) -> int:
        return sum(1 for g in self.aucs if not g.passed)


@dataclass(frozen=True)
class LabelFacts:
    """One label definition: config and counts from gold/label_store."""

    label_def: str
    dpd: int
    mob: int
    description: str
    total: int
    positives: int
    label_months: tuple[str, ...]
    application_months: tuple[str, ...]

    @property
    def rate(self) -> float:
        return self.positives / self.total if self.total else 0.0


@dataclass(frozen=True)
class FeatureFacts:
    """Features declared in the config and what the feature store holds."""

    total: int
    by_source: dict[str, int]
    by_kind: dict[str, int]  # "as of D" | "last" | "mean" | "slope" | "months"
    by_source_kind: dict[tuple[str, str], int]
    examples: tuple[tuple[str, str, str, str], ...]  # (name, source, kind, description)
    store_columns: int
    indicator_columns: tuple[str, ...]  # has_<source>
    asof_columns: tuple[str, ...]  # _asof_<source>
    missing_in_store: tuple[str, ...]
    rows: int
    months: int
    rows_without: dict[str, int]  # feature source -> rows with has_<source> = 0


@dataclass(frozen=True)
class ModelFacts:
    """The newest sanity model of the primary label definition (metrics.json)."""

    path: Path
    label_def: str
    timestamp: str
    best_model: str
    models: dict[str, dict[str, float]]  # name -> auc, precision, recall, f1, train_auc
    holdout_months: int
    test_months: tuple[str, ...]
    train_months: tuple[str, ...]
    train_rows: int
    test_rows: int
    train_positive_rate: float
    test_positive_rate: float
    n_features: int
    top_features: tuple[tuple[str, float], ...]
    table_versions: dict[str, int]
    matches_run: bool


@dataclass(frozen=True)
class StatisticFacts:
    table: str
    column: str
    method: str
    window_start: str
    window_end: str
    fit_version: int
    rows: int


@dataclass(frozen=True)
class MissingFacts:
    """Share of null values of a gold feature column (from _meta/profile)."""

    column: str
    rows: int
    nulls: int

    @property
    def share(self) -> float:
        return self.nulls / self.rows if self.rows else 0.0


@dataclass(frozen=True)
class DeckFacts:
    """Everything the deck shows, gathered from one datamart and one run."""

    datamart: Path
    title: str
    description: str
    config_file: str  # where the configuration came from (see run_config)
    config_matches_run: bool
    run: RunFacts
    sources: tuple[SourceFacts, ...]
    tables: tuple[TableFacts, ...]
    meta_rows: dict[str, int]  # _meta table -> rows (this run's rows where it has a run_id)
    quality: QualityFacts
    leakage: LeakageFacts
    labels: tuple[LabelFacts, ...]
    features: FeatureFacts
    statistics: tuple[StatisticFacts, ...]
    missing: tuple[MissingFacts, ...]  # gold feature columns, most nulls first
    model: ModelFacts | None
    model_hint: str  # the command that trains a model

    def table(self, name: str) -> TableFacts | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def label(self) -> LabelFacts | None:
        return self.labels[0] if self.labels else None

    def rows(self, layer: str) -> int:
        return sum(t.rows for t in self.tables if t.layer == layer and t.name != QUARANTINE)


def _runs(datamart: Path) -> list[dict[str, Any]]:
    return RunLedger(datamart / "_meta" / "runs").latest_runs()


def resolve_run(datamart: str | Path, run_id: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the run, every successful run up to it, oldest first): `run_id`, or the latest
    successful run of the ledger. Raises :class:`DeckError` naming the datamart."""
    root = Path(datamart)
    if not root.is_dir():
        raise DeckError(f"{root}: no such datamart folder")
    runs = _runs(root)
    if not runs:
        raise DeckError(f"{root}: no runs in the ledger (_meta/runs); build the datamart first with "
                        f"python main.py --datamart {root}")
    done = [r for r in runs if r["status"] == "success"]
    if run_id is None:
        if not done:
            raise DeckError(f"{root}: no successful run in the ledger ({len(runs)} runs, none succeeded)")
        run = done[-1]
        newer = [r for r in runs if r["started_at"] > run["started_at"]]
        if newer:
            logger.warning("%d newer run(s) did not succeed (latest: %s %s); the deck shows %s",
                           len(newer), newer[-1]["run_id"], newer[-1]["status"], run["run_id"])
    else:
        run = next((r for r in runs if r["run_id"] == run_id), None)
        if run is None:
            raise DeckError(f"{root}: no run {run_id} in the ledger")
        if run["status"] != "success":
            raise DeckError(f"{root}: run {run_id} has status {run['status']}; the deck shows successful runs only")
    upto = [r for r in done if r["started_at"] <= run["started_at"]]
    return run, upto


def _run_record(datamart: Path, run: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """The run's JSON record when it exists (same content as the ledger row), else the row."""
    path = datamart / "_meta" / "run_records" / f"{run['run_id']}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8")), path
        except (OSError, ValueError) as exc:
            logger.warning("cannot read run record %s (%s); using the ledger row", path, exc)
    return run, None


def _options(record: dict[str, Any]) -> dict[str, Any]:
    opts = record.get("options") or {}
    if isinstance(opts, str):
        try:
            opts = json.loads(opts)
        except ValueError:
            opts = {}
    return dict(opts)


def _as_time(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def table_versions(runs: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The Delta version of every table as the last of `runs` left it: the newest
    version any of them recorded (runs oldest first)."""
    versions: dict[str, int] = {}
    for run in runs:
        for o in run.get("outputs") or []:
            if o.get("version") is not None:
                versions[o["table"]] = int(o["version"])
    return versions


def _load_config(options: dict[str, Any], domain: str) -> DomainConfig:
    path = options.get("config_file")
    if path and Path(path).is_file():
        return load_config(domain, path=path)
    if path:
        logger.warning("the run's configuration %s is gone; using conf/%s.yaml", path, domain)
    return load_config(domain)


def _config_at_version(config: DomainConfig, code_version: str) -> DomainConfig | None:
    """The same configuration file as committed at the run's code version (``git show``),
    or None when git, the commit or the file is not there."""
    import subprocess
    import tempfile

    sha = code_version.removesuffix("-dirty")
    try:
        rel = config.file.resolve().relative_to(PROJECT_ROOT)
        text = subprocess.run(["git", "show", f"{sha}:{rel.as_posix()}"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=10, check=True).stdout
    except (ValueError, OSError, subprocess.SubprocessError) as exc:
        logger.debug("no configuration at %s: %s", sha, exc)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / config.file.name
        file.write_text(text, encoding="utf-8")
        try:
            old = load_config(config.domain, path=file)
        except ConfigError as exc:
            logger.debug("configuration at %s does not load: %s", sha, exc)
            return None
    return old


def run_config(options: dict[str, Any], domain: str, config_hash: str, code_version: str) -> tuple[DomainConfig, str]:
    """(the configuration of the run, where it came from): the run's file when its hash
    still matches, else that file as committed at the run's code version when that one
    matches, else the current file (with a warning)."""
    config = _load_config(options, domain)
    where = _display_path(config.file)
    if config.config_hash == config_hash:
        return config, where
    old = _config_at_version(config, code_version) if code_version else None
    if old is not None and old.config_hash == config_hash:
        logger.info("configuration %s changed since the run; using it as of git %s", config.file, code_version)
        return old, f"{where} at git {code_version.removesuffix('-dirty')}"
    logger.warning("configuration %s has changed since run (hash %s, run %s); descriptions and features come "
                   "from the current file", config.file, config.config_hash, config_hash)
    return config, f"{where} (changed since the run)"


def _display_path(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def _view(path: Path, version: int | None) -> delta_io.TableView | None:
    if not delta_io.table_exists(path):
        return None
    try:
        return delta_io.view(path, version=version)
    except delta_io.TableMissingError:
        logger.warning("%s: version %s is gone (vacuumed?); using the current version", path, version)
        return delta_io.view(path)


def _month(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)[:7]


def _table_facts(datamart: Path, name: str, version: int | None, text: str, keys: Sequence[str]) -> TableFacts | None:
    view = _view(datamart / name, version)
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
    return re.split(r"[;,]", description or "", maxsplit=1)[0].strip().rstrip(".")


def _unique_keys(table) -> tuple[str, ...]:
    for rule in table.rules:
        if rule.unique:
            return tuple(rule.unique)
    return ()


def gather_tables(datamart: Path, config: DomainConfig, versions: dict[str, int]) -> list[TableFacts]:
    """Every declared table as of `versions`: bronze per source, silver per table plus
    the quarantine, the two gold stores. Tables that do not exist are left out."""
    specs: list[tuple[str, str, Sequence[str]]] = []
    for s in config.sources.values():
        specs.append((f"bronze/{s.name}", "Every raw line of the file, as text",
                      ("_source_file", "_source_line")))
    for t in config.silver.values():
        specs.append((f"silver/{t.name}", grain(t.description) or f"Typed rows of {t.source}", _unique_keys(t)))
    specs.append((QUARANTINE, "One row per rejected row: rule, reason, raw values", ("table", "_source_file", "_source_line")))
    if config.gold is not None:
        entity = config.gold.entity
        specs.append((FEATURE_STORE, f"One row per applying {entity.replace('_id', '')} and month",
                      (entity, "snapshot_date")))
        specs.append((LABEL_STORE, "One row per loan and label definition", ("loan_id", "label_def")))
    out = []
    for name, text, keys in specs:
        facts = _table_facts(datamart, name, versions.get(name), text, keys)
        if facts is None:
            logger.info("%s: no table at %s", name, datamart / name)
        else:
            out.append(facts)
    return out


def _meta_rows(datamart: Path, table: str) -> list[dict[str, Any]]:
    return delta_io.read_rows(datamart / "_meta" / table)


def effective_rows(rows: list[dict[str, Any]], run_ids: Sequence[str], key: Callable[[dict], Any]) -> list[dict[str, Any]]:
    """The rows that describe the state after the last of `run_ids` (oldest first): for
    every `key`, the rows of the newest of those runs that wrote that key."""
    order = {rid: i for i, rid in enumerate(run_ids)}
    newest: dict[Any, int] = {}
    for r in rows:
        i = order.get(r["run_id"])
        if i is not None:
            k = key(r)
            newest[k] = max(newest.get(k, -1), i)
    return [r for r in rows if r["run_id"] in order and order[r["run_id"]] == newest[key(r)]]


def _partition_key(r: dict[str, Any]) -> tuple:
    return (r["table"], str(r["snapshot_date"]))


def gather_quality(datamart: Path, run_ids: Sequence[str], quarantine_version: int | None) -> QualityFacts:
    """Rule results and accounting of the silver partitions as of the last of `run_ids`,
    and the rows of silver/_quarantine at its version."""
    q = effective_rows(_meta_rows(datamart, "quality"), run_ids, _partition_key)
    acc = effective_rows(_meta_rows(datamart, "accounting"), run_ids, _partition_key)

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
    path = datamart / QUARANTINE
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


def gather_labels(datamart: Path, config: DomainConfig, version: int | None) -> list[LabelFacts]:
    """Counts of gold/label_store per label definition of the config, at `version`."""
    if config.gold is None or not delta_io.table_exists(datamart / LABEL_STORE):
        return []
    from deltalake import DeltaTable

    table = DeltaTable(str(datamart / LABEL_STORE))
    if version is not None:
        table.load_as_version(int(version))
    rows = table.to_pyarrow_table(columns=["label_def", "label", "snapshot_date", "feature_snapshot_date"]).to_pylist()
    out = []
    for spec in config.gold.labels:
        mine = [r for r in rows if r["label_def"] == spec.name]
        out.append(LabelFacts(
            label_def=spec.name, dpd=spec.dpd, mob=spec.mob, description=spec.description,
            total=len(mine), positives=sum(1 for r in mine if r["label"] == 1),
            label_months=tuple(sorted({_month(r["snapshot_date"]) for r in mine if r["snapshot_date"]})),
            application_months=tuple(sorted({_month(r["feature_snapshot_date"]) for r in mine
                                             if r["feature_snapshot_date"]})),
        ))
    return out


def feature_kind(feature) -> str:
    """"as of D" for an expression over the as-of source row, else the aggregate."""
    return feature.aggregate or "as of D"


def gather_features(datamart: Path, config: DomainConfig, store: TableFacts | None) -> FeatureFacts:
    features = config.gold.features if config.gold else ()
    by_source: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    by_both: dict[tuple[str, str], int] = {}
    for f in features:
        kind = feature_kind(f)
        by_source[f.source] = by_source.get(f.source, 0) + 1
        by_kind[kind] = by_kind.get(kind, 0) + 1
        by_both[(f.source, kind)] = by_both.get((f.source, kind), 0) + 1
    # one example per (source, kind), in config order
    seen, examples = set(), []
    for f in features:
        k = (f.source, feature_kind(f))
        if k not in seen:
            seen.add(k)
            examples.append((f.name, f.source, feature_kind(f), f.description))
    columns = store.columns if store else ()
    indicators = tuple(c for c in columns if c.startswith("has_") and c[4:] in by_source)
    asof = tuple(c for c in columns if c.startswith("_asof_"))
    rows_without: dict[str, int] = {}
    if store is not None and indicators:
        from deltalake import DeltaTable

        table = DeltaTable(str(datamart / FEATURE_STORE))
        if store.version is not None:
            table.load_as_version(int(store.version))
        data = table.to_pyarrow_table(columns=list(indicators)).to_pydict()
        rows_without = {c[4:]: sum(1 for v in data[c] if not v) for c in indicators}
    return FeatureFacts(
        total=len(features), by_source=by_source, by_kind=by_kind, by_source_kind=by_both,
        examples=tuple(examples), store_columns=len(columns), indicator_columns=indicators, asof_columns=asof,
        missing_in_store=tuple(f.name for f in features if columns and f.name not in columns),
        rows=store.rows if store else 0, months=store.partitions if store else 0, rows_without=rows_without,
    )


def latest_inputs(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per source, the input record of the newest of `runs` (oldest first) that read it,
    so a run restricted to some sources still shows the files of the others."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        for i in run.get("inputs") or []:
            out[i["source"]] = i
    return out


def gather_sources(config: DomainConfig, inputs: dict[str, dict[str, Any]], tables: Sequence[TableFacts],
                   features: FeatureFacts) -> list[SourceFacts]:
    silver_of = {t.source: t for t in config.silver.values()}
    feature_source_of = {}  # silver table -> feature source name
    population = None
    if config.gold:
        feature_source_of = {table: name for name, (table, _) in config.gold.sources.items()}
        population = config.gold.population_table
    out = []
    for s in config.sources.values():
        bronze = next((t for t in tables if t.name == f"bronze/{s.name}"), None)
        silver = silver_of.get(s.name)
        i = inputs.get(s.name, {})
        out.append(SourceFacts(
            name=s.name, description=s.description, file=Path(i.get("path") or s.path).name,
            bytes=i.get("bytes"), sha256=i.get("sha256") or "", skipped=bool(i.get("skipped")),
            rows=bronze.rows if bronze else 0, months=bronze.partitions if bronze else 0,
            first_month=_month(bronze.first_partition) if bronze else None,
            last_month=_month(bronze.last_partition) if bronze else None,
            raw_columns=len([c for c in bronze.columns if c not in BRONZE_LINEAGE]) if bronze else len(s.required_columns),
            keys=s.keys, personal_data=s.personal_data,
            silver_table=silver.name if silver else None, silver_columns=len(silver.columns) if silver else 0,
            features=features.by_source.get(feature_source_of.get(silver.name, ""), 0) if silver else 0,
            feeds_labels=bool(silver and silver.name == population),
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
            out[name] = len(_runs(datamart))
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
    path = newest_model(datamart, label_def)
    if path is None:
        return None
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
        split = m["split"]
        models = {name: {"auc": r["test"]["auc"], "precision": r["test"]["precision"], "recall": r["test"]["recall"],
                         "f1": r["test"]["f1"], "train_auc": r["train_auc"]} for name, r in m["models"].items()}
        used = {k: int(v) for k, v in (m.get("table_versions") or {}).items()}
        matches = all(versions.get(f"gold/{k}") == v for k, v in used.items()) if used else False
        return ModelFacts(
            path=path, label_def=m["label_def"], timestamp=m.get("timestamp", ""), best_model=m["best_model"],
            models=models, holdout_months=int(split["holdout_months"]),
            test_months=tuple(_month(x) for x in split["test_months"]),
            train_months=tuple(_month(x) for x in split["train_months"]),
            train_rows=int(split["train_rows"]), test_rows=int(split["test_rows"]),
            train_positive_rate=float(split["train_positive_rate"]), test_positive_rate=float(split["test_positive_rate"]),
            n_features=sum(len(v) for v in (m.get("features") or {}).values()),
            top_features=tuple((t["feature"], float(t["importance_mean"])) for t in m.get("top_features") or []),
            table_versions=used, matches_run=matches,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        logger.warning("cannot read model metrics %s (%s); the deck shows how to train instead", path, exc)
        return None


def gather_facts(datamart: str | Path, run_id: str | None = None) -> DeckFacts:
    """Read everything the deck shows for `run_id` (default: the latest successful run)."""
    root = Path(datamart).resolve()
    row, upto = resolve_run(root, run_id)
    record, record_path = _run_record(root, row)
    options = _options(record)
    run_ids = [r["run_id"] for r in upto]
    run = RunFacts(
        run_id=row["run_id"], status=row["status"], started_at=_as_time(record.get("started_at")),
        ended_at=_as_time(record.get("ended_at")), seconds=record.get("seconds"), domain=record.get("domain") or "",
        layers=tuple(record.get("layers") or ()), options=options, code_version=record.get("code_version") or "",
        config_hash=record.get("config_hash") or "", data_root=str(options.get("data_root") or ""),
        inputs=tuple(record.get("inputs") or ()), outputs=tuple(record.get("outputs") or ()),
        record_path=record_path, runs_in_ledger=len(_runs(root)), successful_runs=len(upto),
    )
    config, config_source = run_config(options, run.domain or "loan_default", run.config_hash, run.code_version)
    versions = table_versions(upto)
    tables = gather_tables(root, config, versions)
    store = next((t for t in tables if t.name == FEATURE_STORE), None)
    features = gather_features(root, config, store)
    labels = gather_labels(root, config, versions.get(LABEL_STORE))
    primary = labels[0].label_def if labels else (config.gold.labels[0].name if config.gold else "")
    model = gather_model(root, primary, versions) if primary else None
    feature_names = [f.name for f in config.gold.features] if config.gold else []
    return DeckFacts(
        datamart=root,
        title=f"Lakehouse for ML: {config.domain.replace('_', ' ')}",
        description=config.description,
        config_file=config_source,
        config_matches_run=config.config_hash == run.config_hash,
        run=run,
        sources=tuple(gather_sources(config, latest_inputs([*upto[:-1], record]), tables, features)),
        tables=tuple(tables),
        meta_rows=_meta_counts(root, run.run_id),
        quality=gather_quality(root, run_ids, versions.get(QUARANTINE)),
        leakage=gather_leakage(root, run_ids, config),
        labels=tuple(labels),
        features=features,
        statistics=tuple(gather_statistics(root, run_ids)),
        missing=tuple(gather_missing(root, run.run_id, feature_names)),
        model=model,
        model_hint=f"python -m utils.ml.train --datamart {root} --label-def {primary}",
    )


# --------------------------------------------------------------------------- visual system

#: 16:9 slide in inches, and the grid every slide uses (inches from the top-left corner)
SLIDE_W, SLIDE_H = 40 / 3, 7.5  # 960 x 540 points
MARGIN_X = 0.6
CONTENT_W = SLIDE_W - 2 * MARGIN_X
KICKER_Y = 0.42
HEADLINE_Y = 0.66
CONTENT_TOP = 1.95
CONTENT_BOTTOM = 6.8
FOOTER_RULE_Y = 6.98
FOOTER_Y = 7.12
COLUMNS, GUTTER = 12, 0.25
COLUMN_W = (CONTENT_W - (COLUMNS - 1) * GUTTER) / COLUMNS

#: type scale (points): big numbers, headline, body, small (tables, charts, footer)
DISPLAY, TITLE, BODY, SMALL = 34, 24, 14, 11
#: one palette: a corporate navy, one accent, greys
NAVY = "#1B2A4A"
NAVY_TINT = "#E8ECF3"
ACCENT = "#E07A2E"
INK = "#23272E"
GREY_DARK = "#555B65"
GREY = "#8C929B"
GREY_LIGHT = "#D4D7DC"
GREY_FAINT = "#F3F4F6"
FONT = "DejaVu Sans"
MONO = "DejaVu Sans Mono"
LINESPACING = 1.3
ASCENT = 0.93  # of the font size: from the top of a line to its baseline
HEADLINE_LINES = 2


def grid(start: int, span: int) -> tuple[float, float]:
    """(x, width) in inches of `span` grid columns starting at column `start` (0-based)."""
    return MARGIN_X + start * (COLUMN_W + GUTTER), span * COLUMN_W + (span - 1) * GUTTER


def text_width(text: str, size: float, *, weight: str = "normal", family: str = FONT) -> float:
    """Width in inches of `text` set in `family` at `size` points (no renderer needed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(family=family, size=size, weight=weight)
    width, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def wrap(text: str, width: float, size: float, *, weight: str = "normal", family: str = FONT) -> list[str]:
    """`text` broken into lines no wider than `width` inches (words longer than a line
    stay whole); explicit newlines are kept."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        words, line = para.split(" "), ""
        for word in words:
            trial = f"{line} {word}" if line else word
            if line and text_width(trial, size, weight=weight, family=family) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def line_height(size: float, family: str = FONT) -> float:
    """Distance in inches between baselines of consecutive lines at `size` points."""
    return size * 1.17 * LINESPACING / 72 if family == FONT else size * 1.18 * LINESPACING / 72


def n(value: float | int | None) -> str:
    """12,500 (integers), or '–' for missing."""
    return "–" if value is None else f"{int(round(value)):,}"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}\u00a0%"  # no break before %


def month_span(months: Sequence[str]) -> str:
    months = [m for m in months if m]
    if not months:
        return "–"
    return months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"


def mb(size: int | None) -> str:
    return "–" if size is None else f"{size / 1e6:.1f}\u00a0MB"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}\u00a0s"


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{n(count)} {word if count == 1 else (words or word + 's')}"


def plain(text: str) -> str:
    """`text` with "$" escaped, so matplotlib never reads it as mathtext ($DM, $DATA)."""
    return str(text).replace("$", r"\$")


class Slide:
    """One 16:9 Figure with a kicker, a headline of at most two lines and helpers that
    place text, tables, boxes and charts in inches from the top-left corner."""

    def __init__(self, kicker: str, headline: str):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(SLIDE_W, SLIDE_H), facecolor="white")
        FigureCanvasAgg(self.fig)
        self.kicker, self.headline = kicker, headline
        self.text(MARGIN_X, KICKER_Y, kicker.upper(), size=SMALL, color=ACCENT, weight="bold")
        lines = wrap(headline, CONTENT_W, TITLE, weight="bold")
        if len(lines) > HEADLINE_LINES:
            logger.warning("headline of slide %r takes %d lines: %s", kicker, len(lines), headline)
        self.text(MARGIN_X, HEADLINE_Y, "\n".join(lines), size=TITLE, color=NAVY, weight="bold")

    # positions: x from the left edge, y from the top edge, in inches
    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return x / SLIDE_W, 1 - y / SLIDE_H

    def text(self, x: float, y: float, s: str, *, size: float = BODY, color: str = INK, weight: str = "normal",
             ha: str = "left", va: str = "top", family: str = FONT, **kw) -> None:
        """Text at (x, y). With va="top" every line is placed on its own baseline
        (top + ascent + i x line height), so bold and regular text, and every backend,
        line up on the same grid."""
        s = plain(s)
        if va != "top":
            self.fig.text(*self._xy(x, y), s, fontsize=size, color=color, fontweight=weight, ha=ha, va=va,
                          family=family, **kw)
            return
        for i, line in enumerate(str(s).split("\n")):
            base = y + ASCENT * size / 72 + i * line_height(size, family)
            self.fig.text(*self._xy(x, base), line, fontsize=size, color=color, fontweight=weight, ha=ha,
                          va="baseline", family=family, **kw)

    def paragraph(self, x: float, y: float, s: str, width: float, *, size: float = BODY, color: str = INK,
                  weight: str = "normal", family: str = FONT) -> float:
        """Wrapped text from (x, y) down; returns the y below its last line."""
        lines = wrap(s, width, size, weight=weight, family=family)
        self.text(x, y, "\n".join(lines), size=size, color=color, weight=weight, family=family)
        return y + len(lines) * line_height(size, family)

    def bullets(self, x: float, y: float, items: Sequence[str], width: float, *, size: float = BODY,
                color: str = INK, gap: float = 0.12, marker_color: str = ACCENT) -> float:
        indent = size * 1.1 / 72
        for item in items:
            self.text(x, y, "■", size=size * 0.6, color=marker_color, va="top")
            y = self.paragraph(x + indent, y - size * 0.12 / 72, item, width - indent, size=size, color=color) + gap
        return y

    def rule(self, x0: float, x1: float, y: float, *, color: str = GREY_LIGHT, width: float = 0.8) -> None:
        from matplotlib.lines import Line2D

        (a, b), (c, d) = self._xy(x0, y), self._xy(x1, y)
        self.fig.add_artist(Line2D([a, c], [b, d], color=color, linewidth=width, transform=self.fig.transFigure))

    def line(self, x0: float, y0: float, x1: float, y1: float, *, color: str = GREY_LIGHT, width: float = 0.8) -> None:
        from matplotlib.lines import Line2D

        (a, b), (c, d) = self._xy(x0, y0), self._xy(x1, y1)
        self.fig.add_artist(Line2D([a, c], [b, d], color=color, linewidth=width, transform=self.fig.transFigure))

    def box(self, x: float, y: float, w: float, h: float, *, fill: str = "white", edge: str = GREY_LIGHT,
            lw: float = 1.0, radius: float = 0.06, dashed: bool = False) -> None:
        from matplotlib.patches import FancyBboxPatch

        self.fig.add_artist(FancyBboxPatch(
            (x, SLIDE_H - y - h), w, h, boxstyle=f"round,pad=0,rounding_size={radius}", facecolor=fill,
            edgecolor=edge, linewidth=lw, linestyle="--" if dashed else "-", transform=self.fig.dpi_scale_trans))

    def arrow(self, x0: float, y0: float, x1: float, y1: float, *, color: str = NAVY, lw: float = 1.6,
              dashed: bool = False, head: bool = True) -> None:
        from matplotlib.patches import FancyArrowPatch

        self.fig.add_artist(FancyArrowPatch(
            (x0, SLIDE_H - y0), (x1, SLIDE_H - y1), arrowstyle="-|>,head_length=5,head_width=3" if head else "-",
            mutation_scale=1.6, color=color, linewidth=lw, linestyle="--" if dashed else "-",
            transform=self.fig.dpi_scale_trans, shrinkA=0, shrinkB=0))

    def axes(self, x: float, y: float, w: float, h: float):
        """Chart axes with the deck's style: no top/right spines, small grey ticks."""
        ax = self.fig.add_axes([x / SLIDE_W, 1 - (y + h) / SLIDE_H, w / SLIDE_W, h / SLIDE_H])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(GREY_LIGHT)
        ax.tick_params(labelsize=SMALL, colors=GREY_DARK, length=0)
        ax.set_facecolor("white")
        return ax

    def table(self, x: float, y: float, widths: Sequence[float], header: Sequence[str], rows: Sequence[Sequence[str]],
              *, size: float = SMALL, aligns: Sequence[str] | None = None, pad: float = 0.07,
              strong_first: bool = True, row_colors: Sequence[str | None] | None = None) -> float:
        """A table from (x, y) down: header, navy rule, rows with light rules; cells
        wrap to their column width. Returns the y below the last row."""
        aligns = aligns or ["left"] * len(widths)
        lh = line_height(size)

        half = 0.1  # half the gutter between columns; none at the table's outer edges
        last = len(widths) - 1

        def inner(i: int, w: float) -> tuple[float, float]:
            return (half if i else 0.0), (half if i < last else 0.0)

        def cells(values, weight):
            return [wrap(str(v), w - sum(inner(i, w)), size, weight=weight) for i, (v, w) in enumerate(zip(values, widths))]

        def draw(values, top, weight, color, first_weight):
            lines = cells(values, weight)
            cx = x
            for i, (cell, w, al) in enumerate(zip(lines, widths, aligns)):
                lpad, rpad = inner(i, w)
                tx = cx + w - rpad if al == "right" else cx + lpad
                self.text(tx, top + pad, "\n".join(cell), size=size, color=color, ha=al,
                          weight=first_weight if i == 0 else weight)
                cx += w
            return top + max(len(c) for c in lines) * lh + 2 * pad

        bottom = draw(header, y, "bold", GREY_DARK, "bold")
        self.rule(x, x + sum(widths), bottom, color=NAVY, width=1.2)
        for i, row in enumerate(rows):
            color = (row_colors[i] if row_colors and row_colors[i] else INK)
            bottom = draw(row, bottom, "normal", color, "bold" if strong_first else "normal")
            self.rule(x, x + sum(widths), bottom)
        if bottom > CONTENT_BOTTOM:
            logger.warning("table of slide %r runs %.2f in into the footer", self.kicker, bottom - CONTENT_BOTTOM)
        return bottom

    def tile(self, x: float, y: float, w: float, value: str, label: str, *, color: str = NAVY) -> float:
        """A big number with a small label under it; returns the y below."""
        self.rule(x, x + w, y, color=color, width=2.0)
        self.text(x, y + 0.12, value, size=DISPLAY, color=color, weight="bold")
        return self.paragraph(x, y + 0.12 + DISPLAY * 1.25 / 72, label, w, size=SMALL, color=GREY_DARK)


def add_footer(fig, facts: DeckFacts, page: int, total: int) -> None:
    """Footer: run id, data root and datamart on the left, page number on the right."""
    from matplotlib.lines import Line2D

    y = 1 - FOOTER_RULE_Y / SLIDE_H
    fig.add_artist(Line2D([MARGIN_X / SLIDE_W, 1 - MARGIN_X / SLIDE_W], [y, y], color=GREY_LIGHT, linewidth=0.8))
    room = SLIDE_W - 2 * MARGIN_X - 1.0  # leave the page number its place
    root, dm = facts.run.data_root or "–", str(facts.datamart)
    left = f"run {facts.run.run_id}   ·   data root {root}   ·   datamart {dm}"
    while text_width(left, SMALL) > room and max(len(root), len(dm)) > 12:
        if len(root) >= len(dm):  # shorten the longer path from its start: its end says the most
            root = "…" + root.lstrip("…")[1:]
        else:
            dm = "…" + dm.lstrip("…")[1:]
        left = f"run {facts.run.run_id}   ·   data root {root}   ·   datamart {dm}"
    fig.text(MARGIN_X / SLIDE_W, 1 - FOOTER_Y / SLIDE_H, plain(left), fontsize=SMALL, color=GREY, va="top", family=FONT)
    fig.text(1 - MARGIN_X / SLIDE_W, 1 - FOOTER_Y / SLIDE_H, f"{page} / {total}", fontsize=SMALL, color=GREY,
             va="top", ha="right", family=FONT)


# --------------------------------------------------------------------------- slides


def _short_table(name: str) -> str:
    return name.split("/", 1)[1] if "/" in name else name


def _model_name(name: str) -> str:
    return name.replace("_", " ")


def _label_rule(label: LabelFacts) -> str:
    return f"{label.dpd}+ days past due at month {label.mob} on book"


def headline_title(f: DeckFacts) -> str:
    label = f.label
    if label is None:
        return f"{len(f.sources)} raw CSV files, {n(f.rows('bronze'))} rows, landed and cleaned; no label store yet"
    return (f"{n(label.total)} loans labelled from {len(f.sources)} raw CSV files: {pct(label.rate)} were "
            f"{_label_rule(label)}")


def slide_title(f: DeckFacts) -> Slide:
    s = Slide(f"{f.title} · {Path(f.run.data_root).name or 'data'}", headline_title(f))
    x, w = grid(0, 7)
    y = CONTENT_TOP
    s.text(x, y, "The problem", size=SMALL, color=GREY_DARK, weight="bold")
    y = s.paragraph(x, y + 0.3, f.description, w, size=BODY) + 0.3
    label = f.label
    s.text(x, y, "The label", size=SMALL, color=GREY_DARK, weight="bold")
    if label is None:
        s.paragraph(x, y + 0.3, "The run built no gold/label_store; run every layer to get labels.", w)
    else:
        items = [
            f"{label.label_def}: a loan is positive (1) when it is {_label_rule(label)}, else 0.",
            "Days past due as the course defines them: missed instalments = ceil(overdue / due); the first "
            "missed date lies that many months before the snapshot.",
            f"{n(label.positives)} positives of {n(label.total)} labelled loans; labels observed in "
            f"{len(label.label_months)} months, {month_span(label.label_months)}.",
            f"Features belong to the application month, {label.mob} months earlier: "
            f"{month_span(label.application_months)}.",
        ]
        s.bullets(x, y + 0.32, items, w, size=BODY)
    tx, tw = grid(8, 4)
    half = (tw - GUTTER) / 2
    if label is not None:
        tiles = [(n(label.total), "labelled loans"), (pct(label.rate, 1), f"positive ({label.label_def})"),
                 (n(f.features.total), "features per application"),
                 (seconds(f.run.seconds), "run time: " + ", ".join(f.run.layers))]
    else:
        tiles = [(n(f.rows("bronze")), "bronze rows"), (n(f.rows("silver")), "silver rows"),
                 (n(f.features.total), "features declared"), (seconds(f.run.seconds), "run time")]
    for i, (value, text) in enumerate(tiles):
        col, row = i % 2, i // 2
        s.tile(tx + col * (half + GUTTER), CONTENT_TOP + row * 1.75, half, value, text,
               color=ACCENT if i == 1 else NAVY)
    return s


def headline_architecture(f: DeckFacts) -> str:
    written = sum(1 for o in f.run.outputs if o.get("status") == "written")
    return (f"Raw CSVs flow landing → bronze → silver → gold; this run rebuilt {written} of {len(f.tables)} tables "
            f"in {seconds(f.run.seconds)}, with its evidence in _meta")


def slide_architecture(f: DeckFacts) -> Slide:
    s = Slide("Architecture", headline_architecture(f))
    by_layer = {layer: [t for t in f.tables if t.layer == layer] for layer in ("bronze", "silver", "gold")}
    auc = f.model.models[f.model.best_model]["auc"] if f.model else None
    gap = 0.42
    cw = (CONTENT_W - gap * 4) / 5

    # file names, or all stems when one name is too wide for its box
    fits = all(text_width(src.file, SMALL, weight="bold") <= cw - 0.2 for src in f.sources)
    columns = [
        ("landing: CSV files", [(src.file if fits else Path(src.file).stem, mb(src.bytes), False)
                                for src in f.sources]),
        ("bronze: raw as text", [(_short_table(t.name), plural(t.rows, "row"), False) for t in by_layer["bronze"]]),
        ("silver: typed, checked", [(_short_table(t.name), plural(t.rows, "row"), t.name == QUARANTINE and t.rows > 0)
                                    for t in by_layer["silver"]]),
        ("gold: point in time", [(_short_table(t.name), plural(t.rows, "row"), False) for t in by_layer["gold"]]),
        ("consumers", [("training_set()", "labels joined to features", False),
                       ("sanity model", f"test AUC {auc:.3f}" if auc is not None else "python -m utils.ml.train", False),
                       ("quality report", "python -m utils.quality.report", False)]),
    ]
    top, item_h, item_gap, head_h = CONTENT_TOP, 0.52, 0.1, 0.36
    centers = []
    for i, (head, items) in enumerate(columns):
        x = MARGIN_X + i * (cw + gap)
        s.box(x, top, cw, head_h, fill=NAVY, edge=NAVY)
        s.text(x + cw / 2, top + head_h / 2, head, size=SMALL, color="white", weight="bold", ha="center", va="center")
        y = top + head_h + item_gap
        for name, detail, alert in items:
            s.box(x, y, cw, item_h, fill="white", edge=ACCENT if alert else GREY_LIGHT, lw=1.4 if alert else 1.0)
            s.text(x + 0.1, y + 0.07, name, size=SMALL, color=INK, weight="bold")
            s.text(x + 0.1, y + 0.29, detail, size=SMALL, color=ACCENT if alert else GREY_DARK)
            y += item_h + item_gap
        centers.append((x, y))
    mid = top + head_h + item_gap + 1.5 * (item_h + item_gap)
    for i in range(len(columns) - 1):
        x0 = MARGIN_X + i * (cw + gap) + cw + 0.05
        s.arrow(x0, mid, x0 + gap - 0.1, mid)
    # _meta band under the layers
    band_y = max(y for _, y in centers) + 0.25
    band_h = 1.05
    s.box(MARGIN_X, band_y, CONTENT_W, band_h, fill=NAVY_TINT, edge=NAVY_TINT)
    s.text(MARGIN_X + 0.15, band_y + 0.1, "_meta side tables (Delta): what this run recorded", size=SMALL,
           color=NAVY, weight="bold")
    labels = {"runs": ("run in the ledger", "runs in the ledger"), "quality": ("rule result", "rule results"),
              "accounting": ("partition balance", "partition balances"), "statistics": ("fitted bound", "fitted bounds"),
              "leakage": ("guard result", "guard results"), "profile": ("profile metric", "profile metrics")}
    present = [(k, f.meta_rows[k]) for k in META_TABLES if k in f.meta_rows]
    if present:
        iw = (CONTENT_W - 0.3) / len(present)
        for i, (k, rows) in enumerate(present):
            ix = MARGIN_X + 0.15 + i * iw
            s.text(ix, band_y + 0.42, f"_meta/{k}", size=SMALL, color=INK, weight="bold")
            s.text(ix, band_y + 0.68, plural(rows, *labels[k]), size=SMALL, color=GREY_DARK)
    for i in (1, 2, 3):  # bronze, silver and gold write to _meta
        x = MARGIN_X + i * (cw + gap) + cw / 2
        s.arrow(x, centers[i][1] - item_gap + 0.02, x, band_y - 0.02, color=GREY, lw=1.0, dashed=True)
    note_y = band_y + band_h + 0.18
    if note_y < CONTENT_BOTTOM:
        s.paragraph(MARGIN_X, note_y, "Every table is Delta, partitioned by snapshot_date; a run commits nothing "
                    "until every layer passed its checks.", CONTENT_W, size=SMALL, color=GREY_DARK)
    return s


def headline_sources(f: DeckFacts) -> str:
    pop = next((src for src in f.sources if src.feeds_labels), None)
    feeders = [src for src in f.sources if src.features]
    if pop is None:
        return f"{len(f.sources)} source files, {n(sum(src.rows for src in f.sources))} raw rows"
    return (f"{len(f.sources)} sources, {n(sum(src.rows for src in f.sources))} raw rows: {pop.name} gives the loans "
            f"and labels, {len(feeders)} customer files give {n(sum(src.features for src in feeders))} features")


def slide_sources(f: DeckFacts) -> Slide:
    s = Slide("Sources", headline_sources(f))
    header = ["Source", "What it holds", "File", "Rows", "Snapshot months", "Columns", "Contributes"]
    widths = [2.35, 3.25, 1.0, 1.15, 2.05, 0.95, 1.38]
    rows = []
    for src in f.sources:
        if src.feeds_labels:
            feeds = "population and labels"
        elif src.features:
            feeds = f"{src.features} features"
        else:
            feeds = "–"
        pii = f" Personal data: {', '.join(src.personal_data)}." if src.personal_data else ""
        rows.append([src.name, src.description + pii, mb(src.bytes), n(src.rows),
                     f"{src.months}: {src.first_month} to {src.last_month}", f"{src.raw_columns} → {src.silver_columns}",
                     feeds])
    y = s.table(MARGIN_X, CONTENT_TOP, widths, header, rows, size=SMALL,
                aligns=["left", "left", "right", "right", "left", "right", "left"])
    notes = [
        "Rows: data lines of the file as landed in bronze (every line lands, also malformed ones). "
        "Columns: in the file → in the silver table (Name dropped, SSN only as a keyed hash).",
        f"Run inputs are fingerprinted by sha256; an unchanged file is skipped on the next run "
        f"({sum(1 for src in f.sources if src.skipped)} of {len(f.sources)} skipped in this run).",
    ]
    s.bullets(MARGIN_X, y + 0.35, notes, CONTENT_W, size=SMALL, color=GREY_DARK, marker_color=GREY)
    return s


def headline_tables(f: DeckFacts) -> str:
    fs, ls = f.table(FEATURE_STORE), f.table(LABEL_STORE)
    gold = f"; gold has {n(fs.rows)} feature and {n(ls.rows)} label rows" if fs and ls else ""
    return (f"{len(f.tables)} Delta tables by month: {n(f.rows('silver'))} of {n(f.rows('bronze'))} bronze rows "
            f"reached silver{gold}")


def slide_tables(f: DeckFacts) -> Slide:
    s = Slide("Tables per layer", headline_tables(f))
    header = ["Table", "Grain", "Key", "Partitions", "Rows", "Version"]
    widths = [2.45, 3.4, 2.4, 2.05, 0.95]
    widths.append(CONTENT_W - sum(widths))
    rows, colors = [], []
    for t in f.tables:
        parts = t.partitions
        span = f"{parts}: {_month(t.first_partition)}–{_month(t.last_partition)}" if parts else "0"
        rows.append([t.name, t.grain, ", ".join(t.keys), span, n(t.rows), "–" if t.version is None else str(t.version)])
        colors.append(ACCENT if t.name == QUARANTINE and t.rows else None)
    y = s.table(MARGIN_X, CONTENT_TOP, widths, header, rows, size=SMALL, pad=0.05,
                aligns=["left", "left", "left", "left", "right", "right"], row_colors=colors)
    q = f.table(QUARANTINE)
    qpart = f" silver/_quarantine by ({', '.join(q.partition_by)})." if q else ""
    s.paragraph(MARGIN_X, y + 0.2, "Partitions: snapshot months (count: first–last), from the Delta log at the "
                "version the run left;" + qpart, CONTENT_W, size=SMALL, color=GREY_DARK)
    return s


def headline_quality(f: DeckFacts) -> str:
    q = f.quality
    balance = (f"all {n(q.partitions)} partitions balance" if q.balanced_partitions == q.partitions
               else f"{n(q.partitions - q.balanced_partitions)} of {n(q.partitions)} partitions do not balance")
    return (f"The pipeline quarantined {n(q.quarantined_rows)} of {n(q.bronze_rows)} rows; "
            f"{n(q.checks_flagged)} checks flagged values; {balance}")


def slide_quality(f: DeckFacts) -> Slide:
    s = Slide("Data quality", headline_quality(f))
    q = f.quality
    x, w = grid(0, 7)
    s.text(x, CONTENT_TOP, "Rules that flagged the most rows (all partitions)", size=SMALL, color=GREY_DARK,
           weight="bold")
    top = [r for r in q.rules if r.failed > 0][:10]
    if top:
        labels = [f"{_short_table(r.table)} · {r.rule}" for r in top]
        lw = max(text_width(lab, SMALL) for lab in labels) + 0.15
        ax = s.axes(x + lw, CONTENT_TOP + 0.4, w - lw - 0.7, min(0.36 * len(top), 3.9))
        ypos = list(range(len(top)))[::-1]
        colors = [ACCENT if r.action == "quarantined" else NAVY for r in top]
        ax.barh(ypos, [r.failed for r in top], color=colors, height=0.62)
        ax.set_yticks(ypos, labels)
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(False)
        peak = max(r.failed for r in top)
        for yy, r in zip(ypos, top):
            ax.text(r.failed + peak * 0.015, yy, n(r.failed), va="center", fontsize=SMALL, color=INK)
        ax.set_xlim(0, peak * 1.15)
        ax.set_ylim(-0.6, len(top) - 0.4)
        key_y = CONTENT_TOP + 0.4 + min(0.36 * len(top), 3.9) + 0.15
        actions = ", ".join(f"{a} {n(v)}" for a, v in sorted(q.failed_by_action.items(), key=lambda kv: -kv[1]) if v)
        s.paragraph(x, key_y, f"Navy: value nulled, stripped or counted (row kept, flagged); orange: row "
                    f"quarantined. Flagged rows by action: {actions or 'none'}.", w, size=SMALL, color=GREY_DARK)
    else:
        s.paragraph(x, CONTENT_TOP + 0.4, f"No rule flagged any row in {n(q.checks_run)} rule checks.", w)
    rx, rw = grid(7, 5)
    s.text(rx, CONTENT_TOP, "Row accounting: bronze = silver + quarantine", size=SMALL, color=GREY_DARK, weight="bold")
    rows = [[_short_table(r.table), n(r.bronze_rows), n(r.silver_rows), n(r.quarantined_rows),
             f"{r.balanced_partitions}/{r.partitions}"] for r in q.reconcile]
    rows.append(["total", n(q.bronze_rows), n(q.silver_rows), n(q.accounted_quarantine),
                 f"{q.balanced_partitions}/{q.partitions}"])
    widths = [rw * 0.27, rw * 0.19, rw * 0.19, rw * 0.17, rw * 0.18]
    y = s.table(rx, CONTENT_TOP + 0.35, widths, ["Table", "Bronze", "Silver", "Quar.", "Balanced"], rows,
                aligns=["left", "right", "right", "right", "right"])
    y += 0.3
    s.text(rx, y, "Quarantine by rule", size=SMALL, color=GREY_DARK, weight="bold")
    if q.quarantine_by_rule:
        items = [f"{k}: {plural(v, 'row')}" for k, v in list(q.quarantine_by_rule.items())[:5]]
        s.bullets(rx, y + 0.32, items, rw, size=SMALL)
    else:
        s.paragraph(rx, y + 0.32, f"silver/_quarantine holds {n(q.quarantined_rows)} rows: no row failed a drop "
                    f"rule; {q.rules_with_failures} rules flagged values that were cleaned in place.", rw, size=SMALL)
    return s


def headline_leakage(f: DeckFacts) -> str:
    lk = f.leakage
    if not lk.checks:
        return "No leakage guard has run on this datamart yet: build the gold layer to run them"
    failed = lk.checks - sum(1 for g in lk.guards + lk.aucs if g.passed)
    if failed:
        return f"{failed} of {lk.checks} leakage checks failed in this run; read the guard table before training"
    top = f", top single-feature AUC {lk.aucs[0].value:.3f} < {lk.auc_threshold:g}" if lk.aucs else ""
    return f"All {lk.checks} leakage checks passed: no read past a cutoff, the replay matched{top}"


def _guard_text(g: GuardFacts) -> str:
    return f"{n(g.value)} {g.detail}".replace("<=", "≤") if g.detail else n(g.value)


def slide_leakage(f: DeckFacts) -> Slide:
    s = Slide("Point in time and leakage", headline_leakage(f))
    lk, label = f.leakage, f.label
    x, w = grid(0, 6)
    mob = label.mob if label else 0
    # timeline of months D-5 .. D+mob: features left of D, the label at D+mob
    s.text(x, CONTENT_TOP, "How one training row is assembled", size=SMALL, color=GREY_DARK, weight="bold")
    months = list(range(-5, mob + 1))
    axis_y = CONTENT_TOP + 1.3
    x0, x1 = x + 0.25, x + w - 0.25
    step = (x1 - x0) / max(len(months) - 1, 1)
    s.rule(x0, x1, axis_y, color=GREY, width=1.2)
    for i, m in enumerate(months):
        mx = x0 + i * step
        s.line(mx, axis_y - 0.05, mx, axis_y + 0.05, color=GREY, width=1.0)
        s.text(mx, axis_y + 0.12, "D" if m == 0 else f"D{m:+d}", size=SMALL, color=NAVY if m == 0 else GREY_DARK,
               ha="center", weight="bold" if m == 0 else "normal")
    d_x = x0 + 5 * step
    s.box(x0 - 0.12, axis_y - 0.6, d_x - x0 + 0.24, 0.4, fill=NAVY_TINT, edge=NAVY_TINT)
    s.text(x0, axis_y - 0.52, "features: rows dated ≤ D", size=SMALL, color=NAVY, weight="bold")
    if label:
        lx = x0 + (5 + mob) * step
        s.box(lx - 0.12, axis_y - 0.6, 0.24, 0.4, fill=ACCENT, edge=ACCENT)
        s.text(lx - 0.22, axis_y - 0.52, f"label {label.label_def}", size=SMALL, color=ACCENT, weight="bold",
               ha="right")
        s.arrow(lx, axis_y + 0.6, d_x, axis_y + 0.6, color=GREY_DARK, lw=1.2)
        s.text((lx + d_x) / 2, axis_y + 0.7, f"joined back {mob} months to its application", size=SMALL,
               color=GREY_DARK, ha="center")
    cuts = ", ".join(f"{src} {cut.replace('<=', '≤')} D" for src, (_, cut) in lk.cutoffs.items())
    items = [f"Cutoff per source (gold.sources): {cuts}." if cuts else "No gold sources declared.",
             "Each feature row records _asof_<source>, the latest source month it read; the cutoff guard "
             "re-checks them on every build."]
    if lk.replay_cut:
        items.append(f"Replay guard: gold up to {lk.replay_cut}, rebuilt from data cut at that month, must equal "
                     f"the full build.")
    items.append(f"Single-feature guard: a feature that alone separates the label with AUC above "
                 f"{lk.auc_threshold:g} raises an alarm.")
    s.bullets(x, axis_y + 1.15, items, w, size=SMALL, gap=0.1)

    rx, rw = grid(6, 6)
    s.text(rx, CONTENT_TOP, f"Guard results (_meta/leakage, run {lk.run_id or '–'})", size=SMALL, color=GREY_DARK,
           weight="bold")
    rows, colors = [], []
    for g in lk.guards:
        rows.append([g.guard, _short_table(g.subject), _guard_text(g), "pass" if g.passed else "FAIL"])
        colors.append(None if g.passed else ACCENT)
    if lk.aucs:
        passed = sum(1 for g in lk.aucs if g.passed)
        rows.append(["AUC", plural(len(lk.aucs), "feature"), f"{passed} of {len(lk.aucs)} below {lk.auc_threshold:g}",
                     "pass" if passed == len(lk.aucs) else "ALARM"])
        colors.append(None if passed == len(lk.aucs) else ACCENT)
    y = s.table(rx, CONTENT_TOP + 0.35, [0.8, 1.2, rw - 2.55, 0.55], ["Guard", "Subject", "Result", ""], rows,
                row_colors=colors, aligns=["left", "left", "left", "right"])
    cy = y + 0.6
    fits = min(5, int((CONTENT_BOTTOM - cy) / 0.3))  # bars that fit at a readable height
    if lk.aucs and fits >= 2:
        top = lk.aucs[:fits]
        labels = [g.subject.split(":", 1)[-1] for g in top]
        lw = max(text_width(lab, SMALL) for lab in labels) + 0.15
        s.text(rx, y + 0.25, "Highest single-feature AUCs; dashed: alarm threshold", size=SMALL,
               color=GREY_DARK, weight="bold")
        h = 0.3 * len(top)
        ax = s.axes(rx + lw, cy, rw - lw - 0.1, h)
        ypos = list(range(len(top)))[::-1]
        ax.barh(ypos, [g.value - 0.5 for g in top], left=0.5, color=[NAVY if g.passed else ACCENT for g in top],
                height=0.62)
        ax.axvline(lk.auc_threshold, color=ACCENT, linestyle="--", linewidth=1.2)
        ax.set_yticks(ypos, labels)
        ax.set_xlim(0.5, max(lk.auc_threshold, top[0].value) + 0.04)
        ax.set_ylim(-0.5, len(top) - 0.5)
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(False)
        for yy, g in zip(ypos, top):
            ax.text(g.value + 0.006, yy, f"{g.value:.3f}", va="center", fontsize=SMALL, color=INK)
        ax.text(lk.auc_threshold - 0.006, 0, f"{lk.auc_threshold:g}", ha="right", va="center", fontsize=SMALL,
                color=ACCENT)
    return s


def headline_features(f: DeckFacts) -> str:
    ft = f.features
    windows = sum(v for (src, kind), v in ft.by_source_kind.items() if kind != "as of D")
    where = sorted({src for (src, kind) in ft.by_source_kind if kind != "as of D"})
    asof = ft.by_kind.get("as of D", 0)
    over = f" over {' and '.join(where)} history" if where else ""
    return (f"{ft.total} features per application: {asof} read as of the month, {windows} window aggregates"
            f"{over}, all point in time")


KIND_NAMES = {"as of D": "value as of D", "last": "latest month ≤ D", "mean": "mean over a window",
              "slope": "slope over a window", "months": "months of history"}


def slide_features(f: DeckFacts) -> Slide:
    ft = f.features
    s = Slide("Features", headline_features(f))
    x, w = grid(0, 4)
    s.text(x, CONTENT_TOP, "Features by source and kind", size=SMALL, color=GREY_DARK, weight="bold")
    sources = list(ft.by_source)
    kinds = list(ft.by_kind)
    shades = {k: c for k, c in zip(kinds, [NAVY, "#3E5580", "#7486A8", "#A9B5CB", GREY])}
    if sources:
        ax = s.axes(x + 1.25, CONTENT_TOP + 0.45, w - 1.35, 0.55 * len(sources))
        ypos = list(range(len(sources)))[::-1]
        lefts = [0] * len(sources)
        for k in kinds:
            vals = [ft.by_source_kind.get((src, k), 0) for src in sources]
            ax.barh(ypos, vals, left=lefts, color=shades[k], height=0.6, edgecolor="white", linewidth=1)
            lefts = [a + b for a, b in zip(lefts, vals)]
        for yy, total in zip(ypos, lefts):
            ax.text(total + max(lefts) * 0.02, yy, str(total), va="center", fontsize=SMALL, color=INK, weight="bold")
        ax.set_yticks(ypos, sources)
        ax.set_xticks([])
        ax.set_xlim(0, max(lefts) * 1.15)
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(False)
        ky = CONTENT_TOP + 0.45 + 0.55 * len(sources) + 0.25
        for k in kinds:
            s.box(x, ky + 0.03, 0.16, 0.16, fill=shades[k], edge=shades[k], radius=0.02)
            s.text(x + 0.25, ky, f"{KIND_NAMES.get(k, k)}: {ft.by_kind[k]}", size=SMALL, color=INK)
            ky += 0.3
        store = (f"gold/feature_store: {n(ft.rows)} rows in {ft.months} months, {ft.store_columns} columns = "
                 f"{ft.total} features + {len(ft.indicator_columns)} has_<source> + {len(ft.asof_columns)} "
                 f"_asof_<source> + {ft.store_columns - ft.total - len(ft.indicator_columns) - len(ft.asof_columns)} keys.")
        if ft.missing_in_store:
            store += f" Missing from the store: {', '.join(ft.missing_in_store)}."
        s.paragraph(x, ky + 0.2, store, w, size=SMALL, color=GREY_DARK)
    rx, rw = grid(4, 8)
    s.text(rx, CONTENT_TOP, "One example of each kind (declared in the YAML, no code)", size=SMALL, color=GREY_DARK,
           weight="bold")
    rows = [[name, src, KIND_NAMES.get(kind, kind), desc] for name, src, kind, desc in ft.examples]
    s.table(rx, CONTENT_TOP + 0.35, [2.0, 1.15, 1.85, rw - 5.0], ["Feature", "Source", "Kind", "Description"], rows)
    return s


def headline_model(f: DeckFacts) -> str:
    m = f.model
    if m is None:
        return "No sanity model has been trained on this datamart yet; one command trains and scores it"
    best = m.models[m.best_model]
    return (f"The sanity model ({_model_name(m.best_model)}) scores AUC {best['auc']:.3f} on {len(m.test_months)} "
            f"held-out months ({month_span(m.test_months)}, {n(m.test_rows)} loans)")


def slide_model(f: DeckFacts) -> Slide:
    m = f.model
    s = Slide("Sanity model, out of time", headline_model(f))
    x, w = grid(0, 7)
    if m is None:
        s.text(x, CONTENT_TOP, "Train it", size=SMALL, color=GREY_DARK, weight="bold")
        s.box(x, CONTENT_TOP + 0.35, CONTENT_W, 0.6, fill=GREY_FAINT, edge=GREY_FAINT)
        s.text(x + 0.2, CONTENT_TOP + 0.5, f.model_hint, size=BODY, family=MONO, color=INK)
        s.bullets(x, CONTENT_TOP + 1.3, [
            "fits a logistic regression and a gradient-boosted tree on the training set from gold (labels joined "
            "to the features of their application month);",
            "holds out the latest labelled application months as the test set (out of time);",
            "writes metrics.json, the model, a ROC plot and the table versions under _models/<label_def>/<time>/; "
            "rerun python\u00a0-m\u00a0utils.deck to put its numbers on this slide.",
        ], CONTENT_W, size=BODY)
        return s
    s.text(x, CONTENT_TOP, "Test metrics on the held-out months", size=SMALL, color=GREY_DARK, weight="bold")
    rows = []
    for name, r in sorted(m.models.items(), key=lambda kv: -kv[1]["auc"]):
        rows.append([_model_name(name) + (" (best)" if name == m.best_model else ""), f"{r['auc']:.3f}",
                     f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", f"{r['train_auc']:.3f}"])
    y = s.table(x, CONTENT_TOP + 0.35, [w - 4.45, 0.8, 1.0, 0.85, 0.75, 1.05],
                ["Model", "AUC", "Precision", "Recall", "F1", "Train AUC"], rows,
                aligns=["left", "right", "right", "right", "right", "right"])
    items = [
        f"Train: {len(m.train_months)} application months, {month_span(m.train_months)}, {n(m.train_rows)} loans, "
        f"positive rate {pct(m.train_positive_rate)}.",
        f"Test: the latest {m.holdout_months} labelled months, {month_span(m.test_months)}, {n(m.test_rows)} loans, "
        f"positive rate {pct(m.test_positive_rate)}.",
        f"{m.n_features} features from gold/feature_store v{m.table_versions.get('feature_store', '–')}, labels from "
        f"gold/label_store v{m.table_versions.get('label_store', '–')}"
        + ("; the same versions this run left." if m.matches_run else
           "; this run left newer versions: retrain with " + f.model_hint + "."),
    ]
    s.bullets(x, y + 0.35, items, w, size=SMALL)
    rx, rw = grid(7, 5)
    s.text(rx, CONTENT_TOP, f"Top features of the {_model_name(m.best_model)}", size=SMALL, color=GREY_DARK,
           weight="bold")
    s.text(rx, CONTENT_TOP + 0.28, "permutation importance: drop of test AUC", size=SMALL, color=GREY_DARK)
    top = list(m.top_features[:8])
    if top:
        lw = max(text_width(name, SMALL) for name, _ in top) + 0.15
        ax = s.axes(rx + lw, CONTENT_TOP + 0.7, rw - lw - 0.6, 0.38 * len(top))
        ypos = list(range(len(top)))[::-1]
        ax.barh(ypos, [v for _, v in top], color=NAVY, height=0.6)
        ax.set_yticks(ypos, [name for name, _ in top])
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(False)
        peak = max(v for _, v in top)
        ax.set_xlim(0, peak * 1.3)
        for yy, (_, v) in zip(ypos, top):
            ax.text(v + peak * 0.02, yy, f"{v:.3f}", va="center", fontsize=SMALL, color=INK)
    return s


def headline_run(f: DeckFacts) -> str:
    return (f"Four commands rebuild everything from the raw files; this run wrote "
            f"{sum(1 for o in f.run.outputs if o.get('status') == 'written')} tables in {n(f.run.seconds)} s")


def run_commands(f: DeckFacts) -> list[tuple[str, str]]:
    """(comment, command) of the how-to-run slide, with this run's paths in two shell
    variables; the first entries set them."""
    label = f.label.label_def if f.label else (f.model.label_def if f.model else "")
    train = "python -m utils.ml.train --datamart $DM" + (f" --label-def {label}" if label else "")
    return [
        ("where the raw files are, where the tables go", f"DATA={f.run.data_root or 'data'}"),
        ("", f"DM={f.datamart}"),
        ("build every layer (skips unchanged inputs)", "python main.py --data-root $DATA --datamart $DM"),
        ("profile the run and write the quality report", "python -m utils.quality.report --datamart $DM"),
        ("train the out-of-time sanity model", train),
        ("render this deck from the latest run", "python -m utils.present.deck --datamart $DM"),
    ]


def shell_lines(cmd: str, width: float, size: float) -> list[str]:
    """`cmd` as shell lines that fit `width`: broken before an option with " \\", and a
    word still too long broken anywhere with a bare "\\" (the shell joins both)."""
    parts = re.split(r" (?=--)", cmd)
    lines, line = [], parts[0]
    for part in parts[1:]:
        if text_width(f"{line} {part} \\", size, family=MONO) > width:
            lines.append(line + " \\")
            line = "    " + part
        else:
            line = f"{line} {part}"
    lines.append(line)
    out = []
    for line in lines:
        while text_width(line, size, family=MONO) > width:
            cut = len(line) - 1
            while cut > 1 and text_width(line[:cut] + "\\", size, family=MONO) > width:
                cut -= 1
            out.append(line[:cut] + "\\")
            line = line[cut:]
        out.append(line)
    return out


def run_options_text(f: DeckFacts) -> str:
    """The options of the run that differ from the defaults, as command-line flags."""
    flags = []
    for key, value in sorted(f.run.options.items()):
        if key in ("config_file", "data_root", "datamart") or value in (None, False, [], ""):
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        else:
            flags.append(f"{flag} {','.join(map(str, value)) if isinstance(value, (list, tuple)) else value}")
    if set(f.run.layers) != {"bronze", "silver", "gold"}:
        flags.append("--layers " + ",".join(f.run.layers))
    if not flags:
        return "This run used the defaults: every layer, every source, every snapshot date, no full refresh."
    return "This run was started with " + " ".join(flags) + "."


def slide_run(f: DeckFacts) -> Slide:
    s = Slide("How to run", headline_run(f))
    x, w = grid(0, 7)
    s.text(x, CONTENT_TOP, "From a fresh clone: pip install -r requirements.txt, then", size=SMALL, color=GREY_DARK,
           weight="bold")
    y = CONTENT_TOP + 0.38
    cmds = run_commands(f)
    block_lines = []
    for comment, cmd in cmds:
        if comment:
            block_lines.append(("# " + comment, GREY_DARK))
        block_lines += [(line, INK) for line in shell_lines(cmd, w - 0.4, SMALL)]
    lh = line_height(SMALL, MONO)
    h = len(block_lines) * lh + 0.3 + 0.12 * (sum(1 for c, _ in cmds if c) - 1)
    s.box(x, y, w, h, fill=GREY_FAINT, edge=GREY_FAINT)
    ly = y + 0.15
    for text, color in block_lines:
        if text.startswith("# ") and ly > y + 0.2:
            ly += 0.12
        s.text(x + 0.2, ly, text, size=SMALL, family=MONO, color=color)
        ly += lh
    s.paragraph(x, y + h + 0.2, run_options_text(f), w, size=SMALL, color=GREY_DARK)
    rx, rw = grid(7, 5)
    s.text(rx, CONTENT_TOP, "Provenance of this run (run record)", size=SMALL, color=GREY_DARK, weight="bold")
    started = f.run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if f.run.started_at else "–"
    duration = f"{f.run.seconds:.1f}\u00a0s" if f.run.seconds is not None else "–"
    rows = [["run id", f.run.run_id], ["status, duration", f"{f.run.status}, {duration}"], ["started", started],
            ["layers", ", ".join(f.run.layers)], ["code version", f.run.code_version],
            ["config", f"{f.config_file}, hash {f.run.config_hash}"
             + ("" if f.config_matches_run else " (run's config no longer found)")],
            ["runs in the ledger", f"{f.run.runs_in_ledger}, {f.run.successful_runs} successful up to this one"]]
    rows += [[src.file, f"sha256 {src.sha256[:12]}…"] for src in f.sources if src.sha256]
    s.table(rx, CONTENT_TOP + 0.35, [2.3, rw - 2.3], ["Item", "Value"], rows, pad=0.05)
    return s


def limits(f: DeckFacts) -> list[str]:
    """The limits slide's items, each with its number from the facts."""
    out = []
    ft = f.features
    for src, missing in ft.rows_without.items():
        if missing:
            out.append(f"{n(missing)} of {n(ft.rows)} feature rows ({pct(missing / ft.rows if ft.rows else 0)}) have "
                       f"no {src} history up to their month (has_{src} = 0); those features are null there.")
    if f.missing:
        worst = f.missing[0]
        same = sum(1 for m in f.missing if m.nulls == worst.nulls)
        out.append(f"{worst.column}{f' and {same - 1} more columns' if same > 1 else ''} are null in "
                   f"{pct(worst.share)} of feature rows (profile of this run): windows need enough history.")
    nulled = f.quality.failed_by_action.get("nulled", 0)
    if nulled:
        out.append(f"Cleaning nulled {n(nulled)} unusable raw values; the rows stay, marked in <column>_invalid "
                   f"flags, and models must cope with the gaps.")
    label = f.label
    if label and ft.rows:
        unlabelled = ft.rows - label.total
        if unlabelled > 0:
            out.append(f"{n(unlabelled)} applications have no label yet: they reach month {label.mob} on book after "
                       f"the last loan snapshot.")
        else:
            out.append(f"Labels lag {label.mob} months: the newest applications ({label.application_months[-1]}) got "
                       f"their labels in {label.label_months[-1]}; newer ones must wait.")
    if f.statistics:
        st = f.statistics[0]
        out.append(f"Outlier bounds of {len(f.statistics)} columns were fitted once on {_month(st.window_start)} to "
                   f"{_month(st.window_end)} (fit_version {st.fit_version}); a refit is a config change, not automatic.")
    if f.model:
        best = f.model.models[f.model.best_model]
        if best["train_auc"] - best["auc"] > 0:
            out.append(f"The {_model_name(f.model.best_model)} scores train AUC {best['train_auc']:.3f} against test "
                       f"{best['auc']:.3f}: a sanity check, not a tuned model.")
    return out


NEXT_STEPS = (
    "Incremental builds across sources: a month new in every file still re-checks whole the tables "
    "whose rules read a changed table, and gold.",
    "The quality report on every run by default, with drift alerts between runs.",
    "Collectors and an immutable landing zone for CSV drops and REST/JSON APIs.",
    "Monitoring: drift per month from _meta/profile, with alerts on quality and leakage guards.",
    "Serving: point-in-time feature lookup for scoring new applications.",
    "More domains on the same flow: churn and recommendation, each a YAML file in conf/.",
)


def headline_limits(f: DeckFacts) -> str:
    ft = f.features
    gaps = sorted(ft.rows_without.items(), key=lambda kv: -kv[1])
    nulled = f.quality.failed_by_action.get("nulled", 0)
    if gaps and gaps[0][1]:
        return (f"Limits: {n(gaps[0][1])} feature rows lack {gaps[0][0]} history, {n(nulled)} raw values were "
                f"nulled; next: monitoring and more sources")
    return f"Limits: {n(nulled)} raw values were nulled in cleaning; next: monitoring and more sources"


def slide_limits(f: DeckFacts) -> Slide:
    s = Slide("Limits and next steps", headline_limits(f))
    x, w = grid(0, 7)
    s.text(x, CONTENT_TOP, "Limits, measured on this run", size=SMALL, color=GREY_DARK, weight="bold")
    s.bullets(x, CONTENT_TOP + 0.35, limits(f), w, size=SMALL, gap=0.16)
    rx, rw = grid(8, 4)
    s.text(rx, CONTENT_TOP, "Next steps", size=SMALL, color=GREY_DARK, weight="bold")
    s.bullets(rx, CONTENT_TOP + 0.35, NEXT_STEPS, rw, size=SMALL, gap=0.16, marker_color=NAVY)
    return s


#: the deck, in order: (headline, drawing) per slide
SLIDES: tuple[tuple[Callable[[DeckFacts], str], Callable[[DeckFacts], Slide]], ...] = (
    (headline_title, slide_title),
    (headline_architecture, slide_architecture),
    (headline_sources, slide_sources),
    (headline_tables, slide_tables),
    (headline_quality, slide_quality),
    (headline_leakage, slide_leakage),
    (headline_features, slide_features),
    (headline_model, slide_model),
    (headline_run, slide_run),
    (headline_limits, slide_limits),
)
assert len(SLIDES) <= MAX_SLIDES


def headlines(f: DeckFacts) -> list[str]:
    """The headline sentence of every slide, in order (what a reader gets without a presenter)."""
    return [headline(f) for headline, _ in SLIDES]


def build_slides(f: DeckFacts) -> list:
    """Every slide as a matplotlib Figure with its footer."""
    figures = []
    for i, (_, draw) in enumerate(SLIDES, 1):
        fig = draw(f).fig
        add_footer(fig, f, i, len(SLIDES))
        figures.append(fig)
    return figures


def render_deck(f: DeckFacts, out: str | Path) -> Path:
    """Write the slides of `f` to the PDF `out` (folders created); returns the path."""
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _rc({"pdf.fonttype": 42, "font.family": FONT, "axes.unicode_minus": False}):
        figures = build_slides(f)
        metadata = {"Title": f"{f.title}: run {f.run.run_id}", "Subject": str(f.datamart),
                    "Creator": "python -m utils.present.deck"}
        with PdfPages(out, metadata=metadata) as pdf:
            for fig in figures:
                pdf.savefig(fig)
    logger.info("wrote %d slides of run %s to %s", len(figures), f.run.run_id, out)
    return out


class _rc:
    """Temporarily set matplotlib rcParams (like matplotlib.rc_context, without pyplot)."""

    def __init__(self, values: dict[str, Any]):
        self.values, self.saved = values, {}

    def __enter__(self):
        from matplotlib import rcParams

        self.saved = {k: rcParams[k] for k in self.values}
        rcParams.update(self.values)

    def __exit__(self, *exc):
        from matplotlib import rcParams

        rcParams.update(self.saved)


def build_deck(datamart: str | Path, out: str | Path = DEFAULT_OUT, run_id: str | None = None) -> Path:
    """Gather the facts of `run_id` (default: latest successful run) and render the deck."""
    return render_deck(gather_facts(datamart, run_id), out)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m utils.present.deck", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="PDF to write")
    p.add_argument("--run-id", help="run to show (default: the latest successful run of the ledger)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Render the deck and print its path. 0 on success; 1 with one line "error: ..."
    on stderr when the datamart cannot give a deck; 2 for wrong options."""
    args = build_parser().parse_args(argv)
    try:
        path = build_deck(args.datamart, args.out, args.run_id)
    except (DeckError, ConfigError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    sys.exit(main())
