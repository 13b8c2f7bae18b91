"""The `gold:` section of `conf/<domain>.yaml` as pydantic models: the population, the
point-in-time sources, labels, features and leakage settings, and the rules between them
(windows of days for event sources, of months for monthly row sources)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from utils.lake.config_types import (EVENT_AGGREGATES, MONTH_AGGREGATES, _SNAKE, Aggregate, Count, Number,
                                     PositiveCount, Text, _choice, _date_text, _Model, _problem)



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


class LabelModel(_Model):
    """A label: `dpd`+ days past due at month on book `mob` (kind dpd_at_mob), or no event
    of `table` within `days` after D (kind no_event, e.g. churn)."""

    kind: _choice("dpd_at_mob", "no_event") = Field("dpd_at_mob", description="dpd_at_mob (loans) or no_event.")
    name: Text = Field(None, description="kind no_event: the label_def, e.g. churn_60d.")
    dpd: PositiveCount = Field(None, description="kind dpd_at_mob: days past due.")
    mob: PositiveCount = Field(None, description="kind dpd_at_mob: month on book.")
    days: PositiveCount = Field(None, description="kind no_event: the window (D, D + days].")
    table: Text = Field(None, description="kind no_event: the silver table of events.")
    time: Text = Field(None, description="kind no_event: its event-time column.")
    where: Text = Field(None, description="kind no_event: SQL predicate of the events that count.")
    description: Text = Field(None, description="Shown in the documentation.")

    @model_validator(mode="after")
    def _consistent(self) -> LabelModel:
        needed = ("dpd", "mob") if self.kind == "dpd_at_mob" else ("name", "days", "table", "time")
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


class GoldModel(_Model):
    """Population, point-in-time sources, labels, features and leakage settings."""

    population: PopulationModel = Field(description="Who gets a feature row for snapshot D.")
    sources: dict[str, GoldSourceModel] = Field(description="Name used by features -> silver table and cutoff.")
    labels: list[LabelModel] = Field(description="Labels of the label store.")
    features: list[FeatureModel] = Field(description="Features of the feature store, in catalogue order.")
    leakage: LeakageModel = Field(None, description="Leakage guards.")
    owner: Text = Field(None, description="Team or person answering for the domain's features (feature registry).")
    baseline: Text = Field(None, description="A feature that alone ranks the entities (e.g. days_since_order): the "
                                             "baseline every trained model is compared with (python -m utils.ml.train).")

    @model_validator(mode="after")
    def _consistent(self) -> GoldModel:
        names = []
        for i, entry in enumerate(self.features):
            for feat in entry.expanded():
                where = f".features[{i}] ({feat['name']})"
                if "source" in feat and feat["source"] not in self.sources:
                    raise _problem(f"{where}.source", f"{feat['source']!r} not in gold.sources")
                _check_window(where, feat, self.sources.get(feat.get("source")))
                names.append(feat["name"])
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise _problem(".features", f"duplicate feature name(s) {dupes}")
        if self.baseline is not None and self.baseline not in names:
            raise _problem(".baseline", f"{self.baseline!r} is not a feature of gold.features")
        return self
