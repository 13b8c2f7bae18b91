"""The `gold:` section of `conf/<domain>.yaml` as pydantic models: the population, the
point-in-time sources, labels, features and leakage settings, and the rules between them
(windows of days for event sources, of months for monthly row sources)."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from utils.lake.config_types import (EVENT_AGGREGATES, MONTH_AGGREGATES, _SNAKE, Aggregate, Count, Flag, Number,
                                     PositiveCount, Text, Texts, _choice, _date_text, _Model, _problem)



# --------------------------------------------------------------------------- gold


class ActivityModel(_Model):
    """Events of a silver table that make an entity active."""

    table: Text = Field(description="A silver table of events.")
    time: Text = Field(description="Its event-time column (timestamp or date).")
    where: Text = Field(None, description="SQL predicate selecting the events that count, e.g. status = 'completed'.")


class PopulationModel(_Model):
    """The (entity, snapshot_date) pairs to build features for: rows of a silver table
    (kind rows), or the entities active in the days up to each month end (kind active)."""

    kind: _choice("rows", "active") = Field("rows", description="rows: the rows of `table` (their snapshot_date is "
                                            "D); active: entities with an event of `events` in the `days` up to D, "
                                            "at every month end D.")
    table: Text = Field(None, description="kind rows: a silver table.")
    entity: Text = Field(description="The entity column, e.g. customer_id.")
    where: Text = Field(None, description="kind rows: SQL predicate selecting the population rows.")
    events: list[ActivityModel] = Field(None, description="kind active: the events that make an entity active.")
    days: PositiveCount = Field(90, description="kind active: the activity window, in days up to and including D.")
    start: Text = Field(None, description="kind active: first snapshot D (a month end; default: the first month "
                        "with activity).")
    description: Text = Field(None, description="Shown in the documentation.")

    @field_validator("start", mode="before")
    @classmethod
    def _a_date(cls, value: Any) -> Any:
        return _date_text(value)

    @model_validator(mode="after")
    def _consistent(self) -> PopulationModel:
        if self.kind == "rows" and self.table is None:
            raise _problem(".table", "required with kind rows")
        if self.kind == "active" and not self.events:
            raise _problem(".events", "required with kind active (the events that make an entity active)")
        return self


class GoldSourceModel(_Model):
    """A silver table read as of each snapshot date D: its latest row (row sources) or its
    events up to D (event sources, with `time`)."""

    table: Text = Field(description="A silver table.")
    cutoff: _choice("<=", "<") = Field("<=", description="Rows with snapshot_date <= D, or < D for data landing "
                                       "after D; event sources: events up to the end of day D, or before D.")
    time: Text = Field(None, description="Event-time column: the source's rows are events, aggregated over windows "
                       "of days ending at D.")


class GradedEventsModel(_Model):
    """Events of a silver table that count towards an interactions label, with their grade."""

    table: Text = Field(description="A silver table of events.")
    time: Text = Field(description="Its event-time column.")
    where: Text = Field(None, description="SQL predicate selecting the events that count.")
    grade: Text = Field(description="SQL expression of the event's relevance grade (an integer; the highest grade "
                        "of an (entity, item) in the window is its label), e.g. case event_type when 'purchase' "
                        "then 3 when 'add_to_cart' then 2 else 1 end.")


class LabelModel(_Model):
    """A label: `dpd`+ days past due at month on book `mob` (kind dpd_at_mob), no event
    of `table` within `days` after D (kind no_event, e.g. churn), or the items an entity
    interacts with in the `days` after D, graded (kind interactions, recommendation)."""

    kind: _choice("dpd_at_mob", "no_event", "interactions") = Field(
        "dpd_at_mob", description="dpd_at_mob (loans), no_event (churn) or interactions (recommendation).")
    name: Text = Field(None, description="kinds no_event and interactions: the label_def, e.g. churn_60d.")
    dpd: PositiveCount = Field(None, description="kind dpd_at_mob: days past due.")
    mob: PositiveCount = Field(None, description="kind dpd_at_mob: month on book.")
    days: PositiveCount = Field(None, description="kinds no_event and interactions: the window (D, D + days].")
    table: Text = Field(None, description="kind no_event: the silver table of events.")
    time: Text = Field(None, description="kind no_event: its event-time column.")
    where: Text = Field(None, description="kind no_event: SQL predicate of the events that count.")
    item: Text = Field(None, description="kind interactions: the item column of the events, e.g. product_id.")
    events: list[GradedEventsModel] = Field(None, description="kind interactions: the graded events.")
    description: Text = Field(None, description="Shown in the documentation.")

    @model_validator(mode="after")
    def _consistent(self) -> LabelModel:
        needed = {"dpd_at_mob": ("dpd", "mob"), "no_event": ("name", "days", "table", "time"),
                  "interactions": ("name", "days", "item", "events")}[self.kind]
        missing = [k for k in needed if getattr(self, k) is None]
        if missing:
            raise _problem(f".{missing[0]}", f"required with kind {self.kind}")
        return self


_TEMPLATED = ("name", "expr", "column", "description", "where")


class FeatureModel(_Model):
    """A feature (exactly one of expr, aggregate), or with for_each one feature per position."""

    name: Text = Field(description="lower snake_case; may hold {key} placeholders of for_each.")
    source: Text = Field(None, description="A key of gold.sources; unset: a derived feature, an `expr` over the "
                         "features declared before it.")
    description: Text = Field(description="Shown in the feature catalogue.")
    version: Count = Field(1, description="Change when the definition changes.")
    owner: Text = Field(None, description="Who answers for this feature (default: gold.owner).")
    expr: Text = Field(None, description="SQL expression over the as-of source row.")
    aggregate: Aggregate = Field(None, description="Window aggregate. Monthly row sources: months | last | mean | "
                                 "slope. Event sources: count | sum | mean | min | max | distinct | last | recency "
                                 "(days since the latest event) | share (of the window's events matching where).")
    column: Text = Field(None, description="The aggregated column (all aggregates but months, count, recency, share).")
    months: PositiveCount = Field(None, description="Window length of mean and slope (monthly row sources).")
    days: PositiveCount = Field(None, description="Event sources: the window, in days up to and including D (unset: "
                                "all history; required but for last and recency).")
    offset_days: Count = Field(0, description="Event sources: the window ends this many days before D (trends: the "
                               "60 days before the last 30).")
    where: Text = Field(None, description="Event sources: SQL predicate of the events that count (share: the "
                        "events counted in the numerator).")
    for_each: dict[str, list[Any]] = Field(None, description="key -> values: one feature per position, {key} replaced "
                                           "in name, expr, column and description.")

    def expanded(self) -> list[dict[str, Any]]:
        """The features this entry stands for, as dicts of the keys given in the YAML."""
        item = self.model_dump(exclude_unset=True, exclude={"for_each"})
        if not self.for_each:
            return [item]
        count = len(next(iter(self.for_each.values())))
        positions = ({k: str(v[i]) for k, v in self.for_each.items()} for i in range(count))
        return [{k: v.format(**values) if k in _TEMPLATED else v for k, v in item.items()} for values in positions]

    @model_validator(mode="after")
    def _consistent(self) -> FeatureModel:
        if self.for_each and len({len(v) for v in self.for_each.values()}) != 1:
            raise _problem(".for_each", "expected lists of equal length")
        try:
            features = self.expanded()
        except (KeyError, IndexError, ValueError) as exc:
            raise _problem(".for_each", f"a placeholder has no value: {exc}") from None
        for feat in features:
            where = f" ({feat['name']})"
            if not _SNAKE.fullmatch(feat["name"]):
                raise _problem(f"{where}.name", "feature names are lower snake_case")
            if ("expr" in feat) == ("aggregate" in feat):
                raise _problem(where, "give exactly one of expr, aggregate")
            if "source" not in feat and "aggregate" in feat:
                raise _problem(f"{where}.source", "required with aggregate")
            agg = feat.get("aggregate")
            if agg not in (None, "months", "count", "recency", "share") and "column" not in feat:
                raise _problem(f"{where}.column", f"required with aggregate {agg}")
            if agg == "share" and "where" not in feat:
                raise _problem(f"{where}.where", "required with aggregate share (the events counted)")
        return self


def _check_window(where: str, feat: dict[str, Any], source: GoldSourceModel | None) -> None:
    """An aggregate fits its source: windows of days over events, of months over monthly rows."""
    agg = feat.get("aggregate")
    if agg is None or source is None:
        return
    if source.time is not None:
        if agg not in EVENT_AGGREGATES:
            raise _problem(f"{where}.aggregate", f"{agg!r} is not an aggregate of event sources "
                           f"({', '.join(EVENT_AGGREGATES)})")
        if agg not in ("last", "recency") and "days" not in feat:
            raise _problem(f"{where}.days", f"required with aggregate {agg} over events")
        return
    if agg not in MONTH_AGGREGATES:
        raise _problem(f"{where}.aggregate", f"{agg!r} needs an event source (a gold source with time); monthly "
                       f"row sources take {', '.join(MONTH_AGGREGATES)}")
    if agg in ("mean", "slope") and "months" not in feat:
        raise _problem(f"{where}.months", f"required with aggregate {agg}")
    if "days" in feat or "where" in feat:
        raise _problem(f"{where}.days", "days and where apply to event sources (a gold source with time)")


class LeakageModel(_Model):
    """Leakage guards run on every build."""

    replay_cut: Text = Field(None, description="Date D: gold <= D rebuilt from data <= D must be identical.")
    max_single_feature_auc: Number = Field(0.95, description="A feature predicting the label better than this is "
                                           "reported as a leak.")

    @field_validator("replay_cut", mode="before")
    @classmethod
    def _a_date(cls, value: Any) -> Any:
        return _date_text(value)


def _check_features(features: list[FeatureModel], sources: dict[str, GoldSourceModel], prefix: str = "") -> list[str]:
    """The expanded feature names, after checking each feature's source and window."""
    names = []
    for i, entry in enumerate(features):
        for feat in entry.expanded():
            where = f"{prefix}.features[{i}] ({feat['name']})"
            if "source" in feat and feat["source"] not in sources:
                raise _problem(f"{where}.source", f"{feat['source']!r} not in the sources")
            _check_window(where, feat, sources.get(feat.get("source")))
            names.append(feat["name"])
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _problem(f"{prefix}.features", f"duplicate feature name(s) {dupes}")
    return names


class EntityTableModel(_Model):
    """A feature table of another entity (e.g. the items of a recommendation domain),
    built as of every snapshot D like the feature store, written as gold/<name>."""

    description: Text = Field(None, description="Shown in the documentation.")
    population: PopulationModel = Field(description="Who gets a row for snapshot D.")
    sources: dict[str, GoldSourceModel] = Field(description="Name used by features -> silver table and cutoff.")
    features: list[FeatureModel] = Field(description="Features of the table, in catalogue order.")

    @model_validator(mode="after")
    def _consistent(self) -> EntityTableModel:
        _check_features(self.features, self.sources)
        return self


class CoEventsModel(_Model):
    """Events grouped into baskets (a session, a customer's orders): two items of one
    basket co-occur."""

    table: Text = Field(description="A silver table of events.")
    time: Text = Field(description="Its event-time column.")
    group: Text = Field(description="The basket column, e.g. session_id or user_id.")
    where: Text = Field(None, description="SQL predicate selecting the events that count.")


class ContentModel(_Model):
    """The item texts whose TF-IDF similarity is recorded: the latest version of each item
    known at D, the vectoriser fitted on the catalogue as known at D."""

    table: Text = Field(description="A silver table of item versions.")
    time: Text = Field(description="The column from which a version is known, e.g. updated_at.")
    text: list[Text] = Field(description="Columns joined into the item's text, e.g. [title, description, category].")
    max_features: PositiveCount = Field(5000, description="Vocabulary size of the TF-IDF vectoriser.")


class SimilarityModel(_Model):
    """An item-item similarity table as of every snapshot D: co-occurrence within baskets
    (counts, Jaccard and lift) and TF-IDF content similarity, top N neighbours per item."""

    description: Text = Field(None, description="Shown in the documentation.")
    item: Text = Field(description="The item column of the events, e.g. product_id.")
    days: PositiveCount = Field(180, description="Co-occurrence: the events of the days up to and including D.")
    top_n: PositiveCount = Field(20, description="Neighbours kept per item and kind.")
    min_count: PositiveCount = Field(2, description="Co-occurrence: pairs seen in fewer baskets are not kept.")
    cooccurrence: dict[str, CoEventsModel] = Field(
        description="Kind name (e.g. session, purchase) -> the events and their baskets.")
    content: ContentModel = Field(None, description="TF-IDF content similarity (kind content).")


class WeightedEventsModel(_Model):
    """Events of a silver table the recommenders learn from, with their confidence."""

    table: Text = Field(description="A silver table of events.")
    time: Text = Field(description="Its event-time column.")
    where: Text = Field(None, description="SQL predicate selecting the events.")
    weight: Number = Field(description="Confidence of one such event (implicit feedback), e.g. view 1, purchase 5.")
    kind: Text = Field(description="The event type the recommenders see, e.g. view or purchase (purchases are "
                       "not recommended again).")


class RecommendModel(_Model):
    """Recommenders trained before one global cut and evaluated on the label window after
    it (python main.py train --domain D)."""

    label: Text = Field(description="The interactions label the recommenders are evaluated on.")
    user: Text = Field(description="The user column of the events.")
    item: Text = Field(description="The item column of the events.")
    events: list[WeightedEventsModel] = Field(description="The interactions learnt from, with their weights.")
    cut: Text = Field(None, description="The global cut D (a month end): train on events up to the end of D, "
                      "evaluate on the label rows of D. Default: the latest D with labels.")
    catalogue: Text = Field(None, description="A gold entity table of the items (e.g. item_features): the catalogue "
                            "at D, and its texts for the content model.")
    ks: list[PositiveCount] = Field([5, 10, 20], description="The cut-offs K of the metrics.")
    ceiling: dict[str, Number] = Field({"precision_at_10": 0.5, "ndcg_at_10": 0.7}, description="Leakage alarm: "
                                       "a model scoring above one of these (metric_at_k -> value) is reported.")
    models: dict[str, dict[str, Any]] = Field({}, description="Model name (popularity, cooccurrence, als, content) "
                                              "-> its parameters.")

    @field_validator("cut", mode="before")
    @classmethod
    def _a_date(cls, value: Any) -> Any:
        return _date_text(value)


class BuiltTableModel(_Model):
    """A gold table a domain's builder writes (gold/<name>)."""

    description: Text = Field(description="What a row is: grain and key; shown in the documentation.")
    partitioned: Flag = Field(True, description="Partitioned by its snapshot_date column; false: one unpartitioned "
                              "table (e.g. a match table without dates).")


#: ``package.module:function``, the reference of a domain's builder or evaluation.
_FUNCTION = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_]\w*")
#: The keys of the generic gold engine, which a builder's gold section does not take.
_GENERIC_KEYS = ("population", "sources", "labels", "features", "tables", "similarity", "recommend", "leakage",
                 "baseline")


class GoldModel(_Model):
    """Population, point-in-time sources, labels, features and leakage settings; or, for a
    domain whose gold SQL in YAML cannot say, the domain's builder, its silver inputs and
    its output tables."""

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"anyOf": [
        {"required": ["builder", "inputs", "outputs"]}, {"required": ["population", "sources", "labels", "features"]}]})
    population: PopulationModel = Field(None, description="Who gets a feature row for snapshot D (required without "
                                        "builder).")
    sources: dict[str, GoldSourceModel] = Field(None, description="Name used by features -> silver table and cutoff "
                                                "(required without builder).")
    labels: list[LabelModel] = Field(None, description="Labels of the label store (required without builder).")
    features: list[FeatureModel] = Field(None, description="Features of the feature store, in catalogue order "
                                         "(required without builder).")
    tables: dict[str, EntityTableModel] = Field(None, description="Feature tables of other entities (gold/<name>), "
                                                "e.g. item_features.")
    similarity: dict[str, SimilarityModel] = Field(None, description="Item-item similarity tables (gold/<name>).")
    recommend: RecommendModel = Field(None, description="Recommenders and their out-of-time evaluation.")
    leakage: LeakageModel = Field(None, description="Leakage guards.")
    owner: Text = Field(None, description="Team or person answering for the domain's features (feature registry).")
    baseline: Text = Field(None, description="A feature that alone ranks the entities (e.g. days_since_order): the "
                                             "baseline every trained model is compared with (python -m utils.ml.train).")
    builder: Text = Field(None, description="package.module:function of the domain's gold builder, instead of the "
                          "generic engine's population, sources, labels and features: a pure function (silver "
                          "DataFrames by name, the domain config) -> gold DataFrames by name, staged and committed "
                          "by the run like every gold table.")
    inputs: Texts = Field(None, description="With builder: the silver tables it reads (its fingerprint: gold is "
                          "rebuilt only when one of them, the gold section or the source files of the builder's package changed).")
    outputs: dict[str, BuiltTableModel] = Field(None, description="With builder: the gold tables it returns, in the "
                                                "order they are committed.")
    evaluate: Text = Field(None, description="With builder: package.module:function run after every build with "
                           "layer gold, called (get_spark, datamart, config, data_root, force=whether the run wrote "
                           "gold); it decides what to rerun, e.g. the domain's analyses.")

    @model_validator(mode="after")
    def _consistent(self) -> GoldModel:
        if self.builder is not None or self.inputs is not None or self.outputs is not None or self.evaluate is not None:
            return self._builder_consistent()
        for key in ("population", "sources", "labels", "features"):
            if getattr(self, key) is None:
                raise _problem(f".{key}", "required key is missing")
        names = _check_features(self.features, self.sources)
        if self.baseline is not None and self.baseline not in names:
            raise _problem(".baseline", f"{self.baseline!r} is not a feature of gold.features")
        if self.recommend is not None:
            kinds = {lb.name: lb.kind for lb in self.labels}
            if kinds.get(self.recommend.label) != "interactions":
                raise _problem(".recommend.label", f"{self.recommend.label!r} is not a label of kind interactions")
            if self.recommend.catalogue is not None and self.recommend.catalogue not in (self.tables or {}):
                raise _problem(".recommend.catalogue", f"{self.recommend.catalogue!r} is not in gold.tables")
        reserved = {"feature_store", "label_store"}
        extra = [*(self.tables or {}), *(self.similarity or {})]
        clash = sorted({n for n in extra if n in reserved or extra.count(n) > 1})
        if clash:
            raise _problem(".tables", f"gold table name(s) {clash} taken (feature_store, label_store or twice)")
        for n in extra:
            if not _SNAKE.fullmatch(n):
                raise _problem(f".tables.{n}", "gold table names are lower snake_case")
        return self

    def _builder_consistent(self) -> GoldModel:
        """A builder's section: builder, inputs and outputs, none of the generic keys."""
        for key in ("builder", "inputs", "outputs"):
            if getattr(self, key) is None:
                raise _problem(f".{key}", "required with builder, inputs, outputs or evaluate")
        given = [k for k in _GENERIC_KEYS if getattr(self, k) is not None]
        if given:
            raise _problem(f".{given[0]}", "not with builder (the builder makes the gold tables)")
        for key in ("builder", "evaluate"):
            ref = getattr(self, key)
            if ref is not None and not _FUNCTION.fullmatch(ref):
                raise _problem(f".{key}", f"expected package.module:function, got {ref!r}")
        if not self.inputs:
            raise _problem(".inputs", "name at least one silver table")
        if not self.outputs:
            raise _problem(".outputs", "name at least one gold table")
        for n in self.outputs:
            if not _SNAKE.fullmatch(n):
                raise _problem(f".outputs.{n}", "gold table names are lower snake_case")
        return self
