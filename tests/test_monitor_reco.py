"""Monitoring of the champion recommender (utils.ml.monitor_reco) on a copy of the small
recommendation build: a champion trained up to 2024-02-29, scored on the later cohorts
whose windows closed, alerts, and a challenger promoted only when it scores higher."""

from __future__ import annotations

import datetime as dt
import math
import shutil

import pandas as pd
import pytest

from utils.lake import delta_io
from utils.lake.config_monitor import MonitoringSpec
from utils.lake.datamart import Datamart
from utils.ml import rank_metrics, recommend
from utils.ml.monitor_reco import load_champion
from utils.ml.tracking import default_tracking_uri

DOMAIN = "recommendation"
CUT = dt.date(2024, 2, 29)
LABELLED = [dt.date(2024, 3, 31), dt.date(2024, 4, 30), dt.date(2024, 5, 31)]  # windows closed in the sample
PENDING = dt.date(2024, 6, 30)  # its 30 days run past the sample's last day


@pytest.fixture(scope="module")
def lake(spark, reco_sample, tmp_path_factory):
    """A copy of the shared build with a champion at CUT, monitored once with a rule
    that fires (min NDCG@10 0.99), so a challenger is trained and judged."""
    from utils.ml import monitor

    datamart = tmp_path_factory.mktemp("reco_monitor") / "dm"
    shutil.copytree(reco_sample[1], datamart)
    first = recommend.run(spark, datamart, DOMAIN, cut=CUT.isoformat(), out=datamart / "first.json", track=True)
    assert first["mlflow"]["champion"] == first["mlflow"]["version"]
    uri = default_tracking_uri(datamart)
    champion = load_champion(DOMAIN, "interactions_30d", uri)
    spec = MonitoringSpec(psi=0.25, min_ndcg=0.99, performance_min_rows=10, retrain_on=("performance",))
    result = monitor.monitor(datamart, DOMAIN, spec=spec, spark=lambda: spark)
    return {"datamart": datamart, "champion": champion, "result": result, "uri": uri, "first": first}


def test_the_champion_is_the_best_recommender_of_its_cut(lake):
    from mlflow.tracking import MlflowClient

    champion, first = lake["champion"], lake["first"]
    client = MlflowClient(tracking_uri=lake["uri"], registry_uri=lake["uri"])
    logged = {a.path for a in client.list_artifacts(champion.run_id)}
    assert {"evaluation.json", "ndcg_at_k.png", "precision_recall_at_k.png"} <= logged
    assert champion.cut == CUT and champion.version == first["mlflow"]["version"]
    assert champion.score == pytest.approx(first["models"][champion.best]["metrics"]["all"]["10"]["ndcg"])


def test_a_cohort_per_snapshot_after_the_cut_scored_once_its_window_closed(lake):
    perf = {r["snapshot_date"]: r for r in lake["result"]["performance"]}
    assert sorted(perf) == [*LABELLED, PENDING]
    for day in LABELLED:
        assert perf[day]["labelled_rows"] > 0 and 0 < perf[day]["ndcg_at_10"] <= 1
        assert 0 <= perf[day]["warm_users"] <= perf[day]["labelled_rows"]
    assert perf[PENDING]["labelled_rows"] == 0 and perf[PENDING]["ndcg_at_10"] is None


def test_a_cohorts_ndcg_is_the_champions_lists_scored_against_the_spark_truth_of_that_cut(lake, spark):
    """The same number by the evaluation's own path: recommend.load (Spark) gives the
    truth and users of the cohort; the champion, not refitted, ranks for them."""
    day = LABELLED[0]
    data = recommend.load(spark, lake["datamart"], DOMAIN, cut=day)
    recs = lake["champion"].recommender.recommend(data.users, 10)
    expected = rank_metrics.evaluate(recs, data.truth, ks=(10,), catalog_size=len(lake["champion"].recommender._items),
                                     users=data.users)[10]
    row = next(r for r in lake["result"]["performance"] if r["snapshot_date"] == day)
    assert row["labelled_rows"] == len(data.users)
    assert row["ndcg_at_10"] == pytest.approx(expected["ndcg"])
    assert row["precision_at_10"] == pytest.approx(expected["precision"])


def test_drift_is_nil_at_the_cut_itself_and_measured_for_every_numeric_feature(lake):
    drift = pd.DataFrame(lake["result"]["drift"])
    at_cut = drift[drift["snapshot_date"] == CUT]
    assert len(at_cut) > 5 and at_cut["psi"].abs().max() < 1e-9
    per_day = drift.groupby("snapshot_date")["feature"].nunique()
    assert per_day.nunique() == 1 and set(per_day.index) >= {CUT, *LABELLED, PENDING}


def test_a_low_ndcg_raises_a_performance_alert_that_trains_a_challenger(lake):
    alerts = lake["result"]["alerts"]
    perf = [a for a in alerts if a["rule"] == "performance_min_ndcg"]
    assert len(perf) == 1 and perf[0]["snapshot_date"] == LABELLED[-1] and perf[0]["action"] == "retrain"
    decision = lake["result"]["retraining"]
    assert decision is not None and decision["snapshot_date"] == LABELLED[-1]
    assert decision["threshold"] == pytest.approx(
        next(r["ndcg_at_10"] for r in lake["result"]["performance"] if r["snapshot_date"] == LABELLED[-1]))


def test_the_challenger_becomes_champion_exactly_when_it_scores_higher(lake):
    from mlflow.tracking import MlflowClient

    decision = lake["result"]["retraining"]
    client = MlflowClient(tracking_uri=lake["uri"], registry_uri=lake["uri"])
    alias = int(client.get_model_version_by_alias("recommendation_interactions_30d", "champion").version)
    assert decision["promoted"] == (decision["value"] > decision["threshold"])
    assert alias == (decision["challenger_version"] if decision["promoted"] else lake["champion"].version)
    tags = client.get_run(decision["challenger_run_id"]).data.tags
    assert tags["monitor.window"] == LABELLED[-1].isoformat()
    assert float(tags["monitor.challenger_ndcg"]) == pytest.approx(decision["value"], abs=1e-6)
    assert client.get_run(decision["challenger_run_id"]).data.params["cut"] == LABELLED[-1].isoformat()


def test_meta_tables_hold_the_rows_with_the_ranking_columns(lake):
    meta = Datamart(lake["datamart"]).meta
    run_id = lake["result"]["run_id"]
    perf = [r for r in delta_io.read_rows(meta("performance")) if r["run_id"] == run_id]
    assert len(perf) == 4 and all(r["auc"] is None for r in perf)
    assert sum(r["ndcg_at_10"] is not None for r in perf) == 3
    alerts = [r for r in delta_io.read_rows(meta("alerts")) if r["run_id"] == run_id]
    assert {"performance_min_ndcg", "retraining"} <= {r["rule"] for r in alerts}
    retraining = next(r for r in alerts if r["rule"] == "retraining")
    assert not math.isnan(retraining["value"]) and "NDCG@10" in retraining["detail"]


def test_the_command_line_monitors_without_retraining_and_prints_the_cohorts(lake, capsys):
    from utils.cli import main

    assert main(["monitor", "--domain", DOMAIN, "--datamart", str(lake["datamart"]), "--no-retrain"]) == 0
    out = capsys.readouterr().out
    current = load_champion(DOMAIN, "interactions_30d", lake["uri"])
    assert "monitor run " in out and f"up to {current.cut})" in out  # the summary names the champion's cut
    assert f"cohort {PENDING}: " in out and "labels pending" in out
    for day in LABELLED:
        assert (f"cohort {day}: " in out) == (day > current.cut)


def test_the_quality_report_plots_ndcg_per_cohort_of_the_latest_monitoring_run(lake, tmp_path):
    from utils.quality.report import build_report, load_monitoring

    watched = load_monitoring(lake["datamart"], DOMAIN)
    paths = build_report(lake["datamart"], out_dir=tmp_path)
    text = paths["html"].read_text(encoding="utf-8")
    section = text[text.index("<h2 id='monitoring'>"):]
    assert watched.run_id in section and "NDCG@10 warm" in section and "ROC AUC" not in section
    assert section.count("data:image/png;base64,") == 1
    assert all(str(d)[:10] in section for d in watched.performance["snapshot_date"])
