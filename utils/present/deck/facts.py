"""What the deck shows, as frozen dataclasses: one per part of the story (the run, a
table, a source, rules, accounting, guards, labels, features, the model or, for a label
of kind interactions, the recommenders), gathered into one :class:`DeckFacts` by
:func:`utils.present.deck.gather.gather_facts`. Data only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUARANTINE = "silver/_quarantine"
LABEL_STORE = "gold/label_store"
FEATURE_STORE = "gold/feature_store"
#: bronze columns the ingest adds to the file's own columns (a source column named
#: snapshot_date is kept as snapshot_date_raw, so it still counts as the file's)
BRONZE_LINEAGE = ("snapshot_date", "_source_file", "_source_line", "_ingested_at", "_run_id", "_malformed_record")
META_TABLES = ("runs", "quality", "accounting", "statistics", "leakage", "profile")


class DeckError(RuntimeError):
    """The datamart cannot give a deck (no ledger, no successful run, unknown run id)."""


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
    files: int = 1  # files (or API pages) the run read; file is then their pattern
    #: the domain's other gold tables (entity tables, item similarity) that read its silver table
    gold_tables: tuple[str, ...] = ()


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
    #: rows labelled 1 (binary kinds); kind interactions: every row (each is an interaction)
    positives: int
    label_months: tuple[str, ...]
    application_months: tuple[str, ...]
    #: dpd_at_mob (loans), no_event (e.g. churn: no completed order in the days after D) or
    #: interactions (e.g. recommendation: the items an entity interacts with after D, graded)
    kind: str = "dpd_at_mob"
    days: int | None = None  # no_event, interactions: the window (D, D + days]
    event: str = ""  # no_event: the events that count, in words
    where: str = ""  # no_event: their predicate (SQL)
    unit: str = "loan"  # what one label row is about
    decision: str = "application"  # what D is
    item: str = ""  # interactions: the other half of a row, e.g. product (of product_id)
    grades: tuple[tuple[int, int], ...] = ()  # interactions: (grade, rows), lowest grade first
    entities: int = 0  # interactions: (unit, D) with at least one labelled item
    items: int = 0  # interactions: distinct items labelled

    @property
    def windowed(self) -> bool:
        """Whether the label is read from a window of days after D (not a month on book)."""
        return self.kind in ("no_event", "interactions")

    @property
    def rate(self) -> float:
        return self.positives / self.total if self.total else 0.0

    @property
    def top_grade(self) -> tuple[int, int]:
        """Interactions: (the highest grade, its rows); (0, 0) without grades."""
        return self.grades[-1] if self.grades else (0, 0)

    def grade_share(self, grade: int) -> float:
        """Interactions: the share of the label rows at `grade`."""
        rows = dict(self.grades).get(grade, 0)
        return rows / self.total if self.total else 0.0

    @property
    def rule(self) -> str:
        """What makes a row positive (interactions: what makes a row), in words."""
        if self.kind == "interactions":
            return f"an interaction with a {self.item or 'item'} in the {self.days} days after D, graded"
        if self.kind == "no_event":
            return f"without {self.event or 'a counted event'} in the {self.days} days after D"
        return f"{self.dpd}+ days past due at month {self.mob} on book"

    @property
    def lag(self) -> str:
        """How long after D the label is known."""
        return f"{self.days} days" if self.windowed else f"{self.mob} months"

    @property
    def lag_months(self) -> int:
        """The lag in whole months (rounded up), for month axes."""
        return -(-int(self.days) // 30) if self.windowed else int(self.mob)


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
    #: the domain's other entity tables (e.g. item_features) -> features declared
    entity_tables: dict[str, int] = field(default_factory=dict)


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
    #: the one-feature baseline (same metrics as a model) and its feature, when trained with one
    baseline: dict[str, float] | None = None
    baseline_feature: str = ""


@dataclass(frozen=True)
class RecommenderFacts:
    """One recommender of the evaluation: its timings, its fallback and its metrics."""

    name: str
    fit_seconds: float
    recommend_seconds: float
    fallback_users: int  # users served the popularity fallback (cold users among them)
    params: dict[str, Any]
    #: segment (all, warm, cold) -> K -> precision, recall, ndcg, map, hit_rate, coverage, users
    metrics: dict[str, dict[int, dict[str, float]]]

    def at(self, segment: str, k: int, metric: str) -> float | None:
        """`metric`@`k` of the users of `segment`; None when not evaluated."""
        return self.metrics.get(segment, {}).get(k, {}).get(metric)


@dataclass(frozen=True)
class RankingFacts:
    """The out-of-time evaluation of the recommenders of a domain whose label is of kind
    interactions (`_models/<domain>/evaluation.json` of ``python main.py train``, which a
    full build also runs): trained on the events up to the cut D, judged on the label
    rows of D (the items each user interacts with in the window after D)."""

    path: Path
    label_def: str
    trained_at: str
    cut: str  # D, a month end
    users: dict[str, int]  # evaluated users: all, warm (a training event up to D), cold (none)
    population: int | None  # users of gold/feature_store at D (evaluated: those with label rows)
    train_events: int
    train_users: int
    catalogue_items: int
    ks: tuple[int, ...]
    models: tuple[RecommenderFacts, ...]  # best NDCG@10 of warm users first
    ceiling: dict[str, float]  # metric_at_k -> the value above which a model raises a leakage alarm
    alarms: tuple[dict[str, Any], ...]  # model, metric, value, ceiling
    table_versions: dict[str, int]  # the tables read, e.g. gold/label_store -> version
    matches_run: bool  # the gold tables read are at the versions the run left

    @property
    def best(self) -> RecommenderFacts:
        return self.models[0]

    def model(self, name: str) -> RecommenderFacts | None:
        return next((m for m in self.models if m.name == name), None)


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
    ranking: RankingFacts | None = None  # the recommenders' evaluation (label kind interactions)

    def table(self, name: str) -> TableFacts | None:
        return next((t for t in self.tables if t.name == name), None)

    @property
    def label(self) -> LabelFacts | None:
        return self.labels[0] if self.labels else None

    @property
    def graded(self) -> bool:
        """Whether the primary label is graded (kind interactions): judged by recommenders
        (:attr:`ranking`), not by a classifier (:attr:`model`)."""
        return self.label is not None and self.label.kind == "interactions"

    def rows(self, layer: str) -> int:
        return sum(t.rows for t in self.tables if t.layer == layer and t.name != QUARANTINE)
