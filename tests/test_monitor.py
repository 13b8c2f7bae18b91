"""Monitoring of the champion model (utils/ml/monitor.py, utils/ml/monitor_stats.py, the
monitoring: section of the YAML and the report's monitoring section).

PSI and KS on tiny arrays with hand-computed values; then one churn sample (400
customers, 2024-01 .. 2024-08) taken through two builds, on real data, no mocks:

1. The first build sees 2024-01 .. 2024-07, and the order drops of 2024-02 .. 2024-07 are
   SCRAMBLED: each month's orders are moved to other customers at random, so who keeps
   ordering (the churn_60d label) has nothing to do with the features. The champion,
   trained on it (MLflow, SQLite in a temporary folder), has learnt noise.
2. The second build gets the corrected drops back and a new month, 2024-08, whose order
   amounts are tripled (a unit change upstream).

Monitoring then finds the champion's ROC AUC on the latest labelled cohort (2024-06-30,
real labels) below the YAML's min_auc: a performance alert, a challenger trained on the
corrected months, and a promotion because it is better there. A second run, with a rule
the new champion cannot meet (min_auc 0.99), trains the same challenger again from the
same data: equal ROC AUC, so the champion stays. Its drift rows, against the new
champion's training rows, show the tripled amounts: spend features drift in 2024-08,
counts and customer attributes do not.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

pytest.importorskip("mlflow")

from utils.cli import main as build_main  # noqa: E402
from utils.domains.churn import synthetic  # noqa: E402
from utils.lake.config import ConfigError, load_config  # noqa: E402
from utils.ml import monitor, train, tracking  # noqa: E402
from utils.ml.monitor_stats import ks, psi_categorical, psi_numeric, quantile_edges  # noqa: E402

DOMAIN = "churn"
MODEL = "churn_churn_60d"
START, MONTHS = dt.date(2024, 1, 1), 8
NEW_MONTH = ("crm/customers_2024-08.csv", "orders/orders_2024-08.csv", "events/web_events_2024-08.jsonl")
SCRAMBLED = [f"orders/orders_2024-{m:02d}.csv" for m in range(2, 8)]
WINDOW = dt.date(2024, 6, 30)  # the latest cohort whose 60-day labels have matured by 2024-08-31
LATEST = dt.date(2024, 8, 31)
SHIFTED = ("spend_30d", "spend_90d")  # windows that hold August's orders, in EUR
UNSHIFTED = ("orders_30d", "logins_30d", "plan", "region")  # counts and attributes


# --------------------------------------------------------------------------- PSI and KS


def test_psi_of_identical_distributions_is_zero():
    values = np.arange(1.0, 11.0)
    assert psi_numeric(values, values.copy()) == pytest.approx(0.0)
    assert psi_categorical(["a", "b", "b", None], ["b", None, "a", "b"]) == pytest.approx(0.0)


def test_numeric_bins_are_the_reference_deciles():
    assert quantile_edges(np.arange(1.0, 11.0)) == pytest.approx([1.9, 2.8, 3.7, 4.6, 5.5, 6.4, 7.3, 8.2, 9.1])
    assert quantile_edges(np.array([0.0] * 8 + [1.0, 2.0])) == pytest.approx([0.0, 0.2, 1.1])  # ties merged


def test_psi_of_a_known_shift_counts_empty_bins_as_epsilon():
    """Reference 1..10: ten bins of 10 %. Snapshot: half the rows in the first bin, 10 %
    in each of the next five, none in the last four (each counted as 0.0001)."""
    current = [1, 1, 1, 1, 1, 2, 3, 4, 5, 6]
    expected = (0.5 - 0.1) * math.log(0.5 / 0.1) + 4 * (1e-4 - 0.1) * math.log(1e-4 / 0.1)  # 3.4041
    assert psi_numeric(np.arange(1.0, 11.0), current) == pytest.approx(expected)
    assert expected == pytest.approx(3.4041, abs=1e-4)


def test_missing_values_are_a_bin_of_their_own():
    """Reference [1, 2, nan, nan]: shares 1/4 (bin of 1), 1/4 (bin of 2), 1/2 missing;
    snapshot [1, 2, 3, nan]: 1/4, 1/2 (3 falls in the bin of 2), 1/4 missing."""
    expected = (0.5 - 0.25) * math.log(0.5 / 0.25) + (0.25 - 0.5) * math.log(0.25 / 0.5)  # 0.5 ln 2
    assert psi_numeric([1, 2, np.nan, np.nan], [1, 2, 3, np.nan]) == pytest.approx(expected)


def test_categorical_psi_is_over_the_categories_of_either_side():
    assert psi_categorical(list("aabb"), list("aaab")) == pytest.approx(0.25 * math.log(1.5) - 0.25 * math.log(0.5))
    new_category = 2 * (0.5 - 1e-4) * math.log(0.5 / 1e-4)  # b empties, c appears: 8.5155
    assert psi_categorical(["a", "b"], ["a", "c"]) == pytest.approx(new_category)


def test_ks_is_the_largest_gap_between_the_empirical_distributions():
    assert ks([1, 2, 3, 4], [3, 4, 5, 6])[0] == pytest.approx(0.5)  # at 2: 2/4 against 0/4
    statistic, pvalue = ks([1, 2, 3], [4, 5, 6])
    assert statistic == 1.0 and pvalue == pytest.approx(2 / 20)  # 2 of the C(6,3) orderings separate fully
    assert ks([1.0, 2.0, np.nan], [2.0, 1.0]) == pytest.approx((0.0, 1.0))


# --------------------------------------------------------------------------- the YAML


def test_shipped_monitoring_rules_load_for_both_classifier_domains():
    for domain, label in (("churn", "churn_60d"), ("loan_default", "30dpd_6mob")):
        spec = load_config(domain).monitoring
        assert (spec.label, spec.psi, spec.features, spec.min_auc, spec.max_drop, spec.max_rate_shift,
                spec.retrain_on) == (label, 0.25, None, 0.65, 0.05, 0.10, ("performance",))


@pytest.mark.parametrize("override, message", [
    ("monitoring.retrain_on=[drift, nonsense]", "monitoring.retrain_on[1]: 'nonsense' not one of"),
    ("monitoring.performance={max_rows: 3}", "monitoring.performance.max_rows: unknown key"),
    ("monitoring.performance={min_rows: 10}", "monitoring.performance: give min_auc (or min_ndcg for a recommender), max_drop or both"),
    ("monitoring.performance.min_auc=1.5", "monitoring.performance.min_auc: expected a number in [0, 1]"),
    ("monitoring.drift.features=[]", "monitoring.drift.features: expected all, or a non-empty list"),
])
def test_a_wrong_monitoring_section_is_a_one_line_error(override, message):
    with pytest.raises(ConfigError) as err:
        load_config("churn", overrides=[override])
    assert message in str(err.value) and "\n" not in str(err.value)


def test_retrain_on_needs_the_section_of_its_rule():
    with pytest.raises(ConfigError, match=r"monitoring.retrain_on\[0\]: no drift: section"):
        load_config("churn", overrides=["monitoring={retrain_on: [drift]}"])


# --------------------------------------------------------------------------- end to end


def _scramble(path: Path, customers: list[str], seed: int) -> None:
    """Move every order of the drop to another customer of `customers`, at random."""
    orders = pd.read_csv(path, dtype=str, keep_default_na=False)
    mapping = dict(zip(customers, np.random.default_rng(seed).permutation(customers)))
    orders["customer_id"] = orders["customer_id"].map(lambda c: mapping.get(c, c))
    orders.to_csv(path, index=False)


def _triple_amounts(path: Path) -> None:
    orders = pd.read_csv(path, dtype=str, keep_default_na=False)
    amounts = pd.to_numeric(orders["amount"], errors="coerce") * 3
    orders["amount"] = amounts.map(lambda v: "" if pd.isna(v) else f"{v:.2f}")
    orders.to_csv(path, index=False)


def _build(data: Path, datamart: Path) -> None:
    assert build_main(["--domain", DOMAIN, "--data-root", str(data), "--datamart", str(datamart),
                       "--master", "local[2]"]) == 0


@pytest.fixture(scope="module")
def lake(spark, tmp_path_factory) -> dict:
    """The two builds and two monitoring runs of the module docstring."""
    root = tmp_path_factory.mktemp("monitor")
    data, kept, datamart = root / "data", root / "kept", root / "dm"
    uri = f"sqlite:///{root / 'mlflow.db'}"
    synthetic.generate(data, 400, 11, start=START, months=MONTHS)
    for rel in (*NEW_MONTH, *SCRAMBLED):
        (kept / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / rel, kept / rel)
    for rel in NEW_MONTH:
        (data / rel).unlink()
    for seed, rel in enumerate(SCRAMBLED):
        month = rel[-11:-4]
        customers = pd.read_csv(data / f"crm/customers_{month}.csv", dtype=str)["customer_id"].tolist()
        _scramble(data / rel, customers, seed)
    _build(data, datamart)
    first_model = train.train(None, datamart, holdout_months=1, domain=DOMAIN, baseline="days_since_order")
    champion = tracking.log_training(first_model, datamart, tracking_uri=uri, artifact_root=root / "artifacts")

    for rel in (*NEW_MONTH, *SCRAMBLED):  # corrected drops, and the new month with tripled amounts
        shutil.copy(kept / rel, data / rel)
    _triple_amounts(data / NEW_MONTH[1])
    _build(data, datamart)
    first = monitor.monitor(datamart, DOMAIN, tracking_uri=uri)
    forced = dataclasses.replace(load_config(DOMAIN).monitoring, min_auc=0.99)
    second = monitor.monitor(datamart, DOMAIN, tracking_uri=uri, spec=forced)
    return {"datamart": datamart, "uri": uri, "champion": champion, "first": first, "second": second,
            "first_model": first_model}


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _alias(uri: str) -> int:
    return int(_client(uri).get_model_version_by_alias(MODEL, "champion").version)


def test_the_reference_is_the_champions_training_rows_rebuilt_exactly(lake):
    first = lake["first"]
    split = lake["first_model"]["metrics"]["split"]
    assert first["champion_version"] == lake["champion"].version == 1
    assert first["reference_rows"] == split["train_rows"]  # at the first build's versions, not the current ones
    assert first["reference_exact"]  # same digest as the dataset its MLflow run logged
    assert first["reference_end"].isoformat() == split["train_months"][-1]


def test_a_champion_that_ranks_the_latest_cohort_badly_raises_a_performance_alert(lake):
    [alert] = [a for a in lake["first"]["alerts"] if a["rule"] == "performance_min_auc"]
    assert alert["snapshot_date"] == WINDOW and alert["value"] < alert["threshold"] == 0.65
    assert alert["action"] == "retrain" and alert["subject"] == MODEL


def test_a_better_challenger_replaces_the_champion(lake):
    decision = lake["first"]["retraining"]
    challenger_auc, champion_auc = decision["value"], decision["threshold"]
    assert decision["action"] == "retrained" and decision["snapshot_date"] == WINDOW
    assert decision["promoted"] and challenger_auc > champion_auc + 0.1, decision["detail"]
    assert lake["first"]["champion"] == decision["challenger_version"] == 2
    run = _client(lake["uri"]).get_run(decision["challenger_run_id"])
    tags, params = run.data.tags, run.data.params
    assert float(tags["monitor.challenger_auc"]) == pytest.approx(challenger_auc, abs=1e-6)
    assert float(tags["monitor.champion_auc"]) == pytest.approx(champion_auc, abs=1e-6)
    assert tags["monitor.promoted"] == "true" and tags["champion_decision"] == decision["detail"]
    # out of time: the window is the challenger's test cohort, its training rows are before it
    assert params["cut"] == WINDOW.isoformat() and tags["monitor.window"] == WINDOW.isoformat()


def test_an_equal_challenger_leaves_the_champion_in_place(lake):
    second = lake["second"]
    decision = second["retraining"]
    assert second["champion_version"] == 2 and not decision["promoted"]
    assert decision["value"] == pytest.approx(decision["threshold"], abs=1e-12)  # same data, same seed
    assert decision["challenger_version"] == 3 and second["champion"] == 2 == _alias(lake["uri"])
    assert decision["detail"].startswith("champion version 2 kept")
    assert _client(lake["uri"]).get_run(decision["challenger_run_id"]).data.tags["monitor.promoted"] == "false"


def test_every_decision_is_in_meta_alerts_with_both_scores(lake):
    alerts = DeltaTable(str(lake["datamart"] / "_meta" / "alerts")).to_pandas()
    decisions = alerts[alerts["action"] == "retrained"].sort_values("raised_at")
    assert len(decisions) == 2 and set(decisions["domain"]) == {DOMAIN}
    for row, run in zip(decisions.itertuples(), ("first", "second")):
        made = lake[run]["retraining"]
        assert (row.run_id, row.value, row.threshold, row.detail) == (made["run_id"], made["value"],
                                                                      made["threshold"], made["detail"])
    assert set(alerts.columns) == {f.name for f in monitor.ALERTS_SCHEMA}


def test_tripled_amounts_drift_the_spend_features_not_the_counts_or_attributes(lake):
    second = lake["second"]
    drift = pd.DataFrame(second["drift"]).pivot(index="feature", columns="snapshot_date", values="psi")
    before, after = drift[dt.date(2024, 7, 31)], drift[LATEST]
    alerted = {a["subject"] for a in second["alerts"] if a["rule"] == "drift_psi"}
    for feature in SHIFTED:
        assert after[feature] >= 0.25 and after[feature] > 3 * before[feature], (feature, before[feature])
        assert feature in alerted
    for feature in UNSHIFTED:
        assert after[feature] < 0.1 and feature not in alerted, (feature, after[feature])
    assert after["spend_30d"] > 1.0 > before["spend_30d"] * 10


def test_meta_tables_hold_one_row_per_feature_and_snapshot_and_per_later_cohort(lake):
    datamart, second = lake["datamart"], lake["second"]
    drift = DeltaTable(str(datamart / "_meta" / "drift")).to_pandas()
    drift = drift[drift["run_id"] == second["run_id"]]
    features = len(lake["first_model"]["training_frame"].columns) - 1
    assert len(drift) == features * 8 and set(drift["model_version"]) == {2}
    assert not drift.duplicated(["feature", "snapshot_date"]).any()
    performance = DeltaTable(str(datamart / "_meta" / "performance")).to_pandas()
    performance = performance[performance["run_id"] == second["run_id"]].sort_values("snapshot_date")
    # after the champion's training rows (up to 2024-04-30): 2024-05 and 06 labelled, 07 and 08 pending
    assert [str(d)[:10] for d in performance["snapshot_date"]] == ["2024-05-31", "2024-06-30", "2024-07-31",
                                                                 "2024-08-31"]
    assert performance["auc"].notna().tolist() == [True, True, False, False]
    assert (performance["labelled_rows"].iloc[:2] == performance["rows"].iloc[:2]).all()
    assert performance["predicted_positive_rate"].between(0, 1).all()


def test_without_a_champion_the_command_line_says_to_train_first(lake, tmp_path, capsys):
    code = monitor.main(["--domain", DOMAIN, "--datamart", str(lake["datamart"]),
                         "--tracking-uri", f"sqlite:///{tmp_path / 'empty.db'}"])
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and err.startswith("error: no champion model churn_churn_60d")
    assert "run `python main.py train --domain churn` first" in err


def test_the_quality_report_shows_drift_and_accuracy_of_the_latest_monitoring_run(lake, tmp_path):
    from utils.quality.report import build_report, load_monitoring

    paths = build_report(lake["datamart"], out_dir=tmp_path)
    text = paths["html"].read_text(encoding="utf-8")
    section = text[text.index("<h2 id='monitoring'>"):]
    assert "churn_churn_60d version 2" in section and lake["second"]["run_id"] in section
    assert section.count("data:image/png;base64,") == 1 and "performance_min_auc" in section
    watched = load_monitoring(lake["datamart"], DOMAIN)
    assert watched.run_id == lake["second"]["run_id"] and load_monitoring(lake["datamart"], "loan_default") is None
