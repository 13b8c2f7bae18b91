"""The gold part of a domain's configuration as the code uses it: the labels, features,
entity and similarity tables and recommenders of ``gold:`` (frozen dataclasses), built
from the validated pydantic models of :mod:`utils.lake.config_gold` by :func:`gold_spec`.
:mod:`utils.lake.config` re-exports every name."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.lake.config_gold import GoldModel, LeakageModel


def stable_hash(obj: Any) -> str:
    """16 hex digits of the SHA-256 of `obj` as sorted JSON (config_hash, fingerprints)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LabelDef:
    """A label. Kind dpd_at_mob: `dpd`+ days past due at month on book `mob`; features
    belong to the month `mob` months before the label's month (the application month).
    Kind no_event: 1 when the entity has no event of `table` (matching `where`) in
    (D, D + `days`]; features belong to D; rows whose window runs past the data are not
    labelled (censored)."""

    dpd: int | None = None
    mob: int | None = None
    description: str = ""
    kind: str = "dpd_at_mob"  # dpd_at_mob | no_event | interactions
    label_name: str | None = None
    days: int | None = None
    table: str | None = None
    time: str | None = None
    where: str | None = None
    item: str | None = None  # kind interactions: the item column
    #: kind interactions: (silver table, event-time column, predicate or None, grade expression)
    graded: tuple[tuple[str, str, str | None, str], ...] = ()

    @property
    def name(self) -> str:
        return f"{self.dpd}dpd_{self.mob}mob" if self.kind == "dpd_at_mob" else self.label_name

    @property
    def tables(self) -> set[str]:
        """The silver tables the label reads (besides the population's)."""
        return ({self.table} if self.table else set()) | {t for t, _, _, _ in self.graded}


@dataclass(frozen=True)
class FeatureDef:
    """One feature: a SQL expression over an as-of source row, or a window aggregate."""

    name: str
    source: str
    description: str
    version: int = 1
    expr: str | None = None
    aggregate: str | None = None  # months | last | mean | slope; events: count | sum | ... | recency | share
    owner: str = ""
    days: int | None = None  # event sources: window of days ending at D
    offset_days: int = 0  # ... ending this many days before D
    where: str | None = None  # event sources: the events that count
    column: str | None = None
    months: int | None = None


@dataclass(frozen=True)
class GoldSpec:
    """Population, point-in-time sources, labels, features and leakage settings."""

    population_table: str | None
    entity: str
    population_where: str | None
    sources: dict[str, tuple[str, str]]  # name -> (silver table, cutoff "<=" | "<")
    labels: tuple[LabelDef, ...]
    features: tuple[FeatureDef, ...]
    replay_cut: str | None
    max_single_feature_auc: float
    raw: dict[str, Any] = field(default_factory=dict)
    owner: str = ""
    population_kind: str = "rows"  # rows | active
    #: kind active: (silver table, event-time column, predicate or None) of the activity events
    activity: tuple[tuple[str, str, str | None], ...] = ()
    active_days: int = 90
    population_start: str | None = None
    event_times: dict[str, str] = field(default_factory=dict)  # event source -> its event-time column
    baseline: str | None = None  # a feature the trained models are compared with
    #: feature tables of other entities (gold/<name>), each a spec without labels
    tables: dict[str, GoldSpec] = field(default_factory=dict)
    similarity: dict[str, SimilaritySpec] = field(default_factory=dict)  # item-item tables (gold/<name>)
    recommend: RecommendSpec | None = None
    description: str = ""

    def fingerprint(self) -> str:
        return stable_hash(self.raw)

    @property
    def table_names(self) -> tuple[str, ...]:
        """The gold tables, in the order they are written (the label store last)."""
        return ("feature_store", *self.tables, *self.similarity, "label_store")

    @property
    def silver_tables(self) -> list[str]:
        """Every silver table gold reads, sorted."""
        tables = {t for t, _ in self.sources.values()} | {t for t, _, _ in self.activity}
        tables |= {t for lb in self.labels for t in lb.tables}
        if self.population_table:
            tables.add(self.population_table)
        for sub in self.tables.values():
            tables |= set(sub.silver_tables)
        for sim in self.similarity.values():
            tables |= sim.silver_tables
        return sorted(tables)


@dataclass(frozen=True)
class RecommendSpec:
    """Recommenders trained before one global cut, evaluated on the label window after
    it: `events` are (silver table, event-time column, predicate or None, weight, kind)."""

    label: str
    user: str
    item: str
    events: tuple[tuple[str, str, str | None, float, str], ...]
    cut: str | None
    catalogue: str | None
    ks: tuple[int, ...]
    ceiling: dict[str, float]
    models: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class SimilaritySpec:
    """An item-item similarity table: co-occurrence kinds -> (silver table, event-time
    column, basket column, predicate or None), and the content texts (or None)."""

    item: str
    days: int
    top_n: int
    min_count: int
    cooccurrence: dict[str, tuple[str, str, str, str | None]]
    content: tuple[str, str, tuple[str, ...], int] | None = None  # table, time, text columns, max_features
    description: str = ""

    @property
    def silver_tables(self) -> set[str]:
        return {t for t, _, _, _ in self.cooccurrence.values()} | ({self.content[0]} if self.content else set())


@dataclass(frozen=True)
class BuiltTable:
    """A gold table of a domain's builder: what a row is, and whether it is partitioned
    by snapshot_date."""

    description: str
    partitioned: bool = True


@dataclass(frozen=True)
class GoldBuilderSpec:
    """A domain's own gold (``gold.builder``): the pure function that makes its tables
    from the silver `inputs`, the `outputs` it returns (in commit order) and the
    evaluation run after a build that wrote them."""

    builder: str  # package.module:function
    inputs: tuple[str, ...]
    outputs: dict[str, BuiltTable]
    evaluate: str | None = None  # package.module:function
    raw: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Hash of the YAML gold section (what config_hash sees; the code is not in it)."""
        return stable_hash(self.raw)

    def code_fingerprint(self) -> str:
        """Hash of the builder's source files (:func:`source_hash`), so that a change of
        its code (weights, thresholds, a fix) rebuilds its tables."""
        return source_hash(self.builder)

    @property
    def table_names(self) -> tuple[str, ...]:
        return tuple(self.outputs)

    @property
    def silver_tables(self) -> list[str]:
        return sorted(self.inputs)


def source_files(ref: str) -> tuple[Path, list[Path]]:
    """(folder, files): the *.py files under the package directory of the module of
    ``package.module:function`` (every subpackage too), sorted by path relative to it;
    only the module's own file when it is a top-level module. ValueError when the
    module cannot be found."""
    module = ref.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError) as exc:
        raise ValueError(f"cannot find the module of {ref}: {exc}") from exc
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise ValueError(f"cannot find the source of {ref}")
    origin = Path(spec.origin).resolve()
    if spec.submodule_search_locations is None and "." not in module:
        return origin.parent, [origin]
    folder = origin.parent
    files = [p for p in folder.rglob("*.py") if "__pycache__" not in p.relative_to(folder).parts]
    return folder, sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def source_hash(ref: str) -> str:
    """16 hex digits of the SHA-256 over the builder package's source files
    (:func:`source_files`): each file's relative path and bytes, in path order."""
    folder, files = source_files(ref)
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        data = path.read_bytes()
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()[:16]


def gold_builder_spec(doc: GoldModel, raw: dict[str, Any]) -> GoldBuilderSpec:
    """The gold section of a domain with its own builder."""
    return GoldBuilderSpec(
        builder=doc.builder, inputs=tuple(doc.inputs), evaluate=doc.evaluate, raw=raw,
        outputs={n: BuiltTable(t.description, t.partitioned) for n, t in doc.outputs.items()})


# --------------------------------------------------------------------------- building


def _features(entries, owner: str | None) -> list[FeatureDef]:
    """The feature entries of a gold or entity table, for_each expanded."""
    return [
        FeatureDef(name=f["name"], source=f.get("source", ""), description=f["description"],
                   version=f.get("version", 1), expr=f.get("expr"), aggregate=f.get("aggregate"),
                   column=f.get("column"), months=f.get("months"), owner=f.get("owner") or owner or "",
                   days=f.get("days"), offset_days=f.get("offset_days", 0), where=f.get("where"))
        for entry in entries for f in entry.expanded()
    ]


def gold_spec(doc: GoldModel, raw: dict[str, Any]) -> GoldSpec:
    """The gold section, features expanded; `raw` (its YAML) is what its fingerprint hashes."""
    leakage = doc.leakage or LeakageModel()
    labels = tuple(
        LabelDef(lb.dpd, lb.mob, lb.description or "", kind=lb.kind, label_name=lb.name, days=lb.days,
                 table=lb.table, time=lb.time, where=lb.where, item=lb.item,
                 graded=tuple((e.table, e.time, e.where, e.grade) for e in lb.events or ()))
        for lb in doc.labels
    )
    tables = {
        name: _entity_spec(t.population, t.sources, _features(t.features, doc.owner), raw["tables"][name],
                           leakage, owner=doc.owner, description=t.description or "")
        for name, t in (doc.tables or {}).items()
    }
    similarity = {
        name: SimilaritySpec(
            item=sim.item, days=sim.days, top_n=sim.top_n, min_count=sim.min_count,
            cooccurrence={k: (c.table, c.time, c.group, c.where) for k, c in sim.cooccurrence.items()},
            content=None if sim.content is None else (sim.content.table, sim.content.time, tuple(sim.content.text),
                                                      sim.content.max_features),
            description=sim.description or "")
        for name, sim in (doc.similarity or {}).items()
    }
    rec = doc.recommend
    recommend = None if rec is None else RecommendSpec(
        label=rec.label, user=rec.user, item=rec.item, cut=rec.cut, catalogue=rec.catalogue, ks=tuple(rec.ks),
        events=tuple((e.table, e.time, e.where, float(e.weight), e.kind) for e in rec.events),
        ceiling={k: float(v) for k, v in rec.ceiling.items()}, models={k: dict(v) for k, v in rec.models.items()})
    spec = _entity_spec(doc.population, doc.sources, _features(doc.features, doc.owner), raw, leakage,
                        owner=doc.owner, labels=labels, baseline=doc.baseline, tables=tables, similarity=similarity)
    return dataclasses.replace(spec, recommend=recommend)


def _entity_spec(pop, sources, features, raw, leakage, *, owner, labels=(), baseline=None, tables=None,
                 similarity=None, description="") -> GoldSpec:
    """A GoldSpec of one entity table: its population, sources and features."""
    return GoldSpec(
        population_table=pop.table, entity=pop.entity, population_where=pop.where,
        sources={n: (s.table, s.cutoff) for n, s in sources.items()},
        labels=labels, features=tuple(features), replay_cut=leakage.replay_cut,
        max_single_feature_auc=float(leakage.max_single_feature_auc), raw=raw, owner=owner or "",
        population_kind=pop.kind, activity=tuple((e.table, e.time, e.where) for e in pop.events or ()),
        active_days=pop.days, population_start=pop.start,
        event_times={n: s.time for n, s in sources.items() if s.time}, baseline=baseline,
        tables=tables or {}, similarity=similarity or {}, description=description,
    )
