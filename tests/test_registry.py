"""The feature registry (utils.ml.registry): every configured feature once, described from
its definition, and the committed docs/feature_registry.md current."""

from __future__ import annotations

import collections
import dataclasses

import pytest

from utils.lake.config import CONF_DIR, FeatureDef, GoldSpec, load_config
from utils.ml import registry
from utils.present import docs


def _spec(features: list[FeatureDef], *, event_times: dict[str, str] | None = None, owner: str = "") -> GoldSpec:
    return GoldSpec(population_table=None, entity="customer_id", population_where=None,
                    sources={"orders": ("orders", "<="), "profile": ("profile", "<")}, labels=(),
                    features=tuple(features), replay_cut=None, max_single_feature_auc=0.95, owner=owner,
                    event_times=event_times or {})


def test_every_configured_feature_is_registered_once_with_a_description_and_a_transformation():
    configured = collections.Counter(
        (c.domain, table, f.name) for c in (load_config(path=p) for p in sorted(CONF_DIR.glob("*.yaml"))) if c.gold
        for table, spec in {"feature_store": c.gold, **c.gold.tables}.items() for f in spec.features
    )
    entries = registry.registry()
    assert collections.Counter((e.domain, e.table, e.name) for e in entries) == configured
    assert any(e.table == "item_features" for e in entries)  # entity tables are registered too
    assert all(e.description.strip() and e.transformation.strip() and e.source and e.version for e in entries)


def test_committed_registry_is_current():
    assert registry.main(["--check"]) == 0


def test_check_fails_when_the_file_is_stale(tmp_path):
    out = tmp_path / "registry.md"
    assert registry.main(["--check", "--out", str(out)]) == 1  # missing
    assert registry.main(["--out", str(out)]) == 0
    assert registry.main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text().replace("| `age` |", "| `age_years` |"))
    assert registry.main(["--check", "--out", str(out)]) == 1


def test_loan_features_show_their_lineage_owner_and_catalogue_version():
    config = load_config("loan_default")
    by_name = {e.name: e for e in registry.registry(["loan_default"])}
    age = by_name["age"]
    assert age.source == "attributes → silver/attributes → bronze/features_attributes → file features_attributes.csv"
    assert age.owner == "unassigned" and age.entity == "customer_id"
    assert "mean of `fe_3` over the 6 months ending at D" in by_name["fe_3_mean_6m"].transformation
    for f in config.gold.features:  # one version per definition, whichever document shows it
        assert by_name[f.name].version == docs.feature_version(f, config.gold)


def test_event_features_are_described_from_their_window_and_filter():
    count = FeatureDef(name="orders_30d", source="orders", description="d", aggregate="count", days=30,
                       where="status = 'paid'")
    recency = FeatureDef(name="days_since_order", source="orders", description="d", aggregate="recency")
    trend = FeatureDef(name="spend_prev_60d", source="orders", description="d", aggregate="sum", column="amount",
                       days=60, offset_days=30)
    spec = _spec([count, recency, trend], event_times={"orders": "ordered_at"})
    assert registry.transformation(count, spec) == (
        "count of events of silver/orders matching `status = 'paid'` in the 30 days ending at D")
    assert registry.transformation(recency, spec) == (
        "days from the latest of the events of silver/orders to D, in all history up to D")
    assert registry.transformation(trend, spec) == (
        "sum of `amount` over the events of silver/orders in the 60 days ending at 30 days before D")


def test_a_new_definition_field_is_shown_and_versioned_without_code_changes():
    extended = dataclasses.make_dataclass("Extended", [("decay", float, 0.5)], bases=(FeatureDef,), frozen=True)
    plain = FeatureDef(name="age", source="profile", description="d", expr="age")
    decayed = extended(name="age", source="profile", description="d", expr="age", decay=0.9)
    spec = _spec([plain])
    assert registry.transformation(decayed, spec).endswith("; decay=`0.9`")
    assert registry.feature_version(decayed, spec) != registry.feature_version(plain, spec)
    reworded = dataclasses.replace(plain, description="other words", owner="someone")
    assert registry.feature_version(reworded, spec) == registry.feature_version(plain, spec)


def test_derived_features_name_the_features_they_read_and_owner_defaults_to_the_domain():
    a = FeatureDef(name="spend", source="profile", description="d", expr="spend")
    b = FeatureDef(name="visits", source="profile", description="d", expr="visits")
    ratio = FeatureDef(name="spend_per_visit", source="", description="d", expr="spend / nullif(visits, 0)")
    config = dataclasses.replace(load_config("loan_default"), domain="toy",
                                 gold=_spec([a, b, ratio], owner="growth team"))
    [_, _, entry] = registry.domain_entries(config)
    assert entry.source == "derived from spend, visits" and entry.owner == "growth team"
    assert entry.transformation == "`spend / nullif(visits, 0)` over the features of the same row"


def test_unknown_domain_is_a_clear_error():
    with pytest.raises(KeyError, match="no domain"):
        registry.registry(["no_such_domain"])


def test_dtypes_come_from_the_delta_schema_of_a_built_feature_store(sample_datamart):
    by_name = {e.name: e for e in registry.registry(["loan_default"], datamart=sample_datamart)}
    assert by_name["age"].dtype == "int32" and by_name["occupation"].dtype == "string"
    assert "| int32 |" in registry.render_markdown(list(by_name.values()))
