"""The sanity model: the out-of-time split on tiny frames, and one training run on a
datamart built from the shipped sample data."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

from utils.ml import train

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE = PROJECT_ROOT / "data"
MONTHS = [dt.date(2024, m, 1) for m in range(1, 7)]


def loans(months_labels: list[tuple[dt.date, int | None]]) -> pd.DataFrame:
    """One row per loan: application month, label (None = not labelled), one feature."""
    return pd.DataFrame({
        "loan_id": [f"L{i}" for i in range(len(months_labels))],
        "feature_snapshot_date": [m for m, _ in months_labels],
        "label": [lab for _, lab in months_labels],
        "age": range(len(months_labels)),
    })


def test_split_holds_out_the_latest_labelled_months():
    # two loans per month, one of each class; the rows arrive shuffled
    frame = loans([(m, lab) for m in MONTHS for lab in (0, 1)]).sample(frac=1.0, random_state=1)
    tr, te, info = train.split_out_of_time(frame, holdout_months=2)
    assert info["train_months"] == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    assert info["test_months"] == ["2024-05-01", "2024-06-01"]
    assert set(te["feature_snapshot_date"]) == {dt.date(2024, 5, 1), dt.date(2024, 6, 1)}
    assert max(tr["feature_snapshot_date"]) < min(te["feature_snapshot_date"])
    assert (info["train_rows"], info["test_rows"]) == (8, 4) == (len(tr), len(te))
    assert info["train_positive_rate"] == info["test_positive_rate"] == 0.5


def test_split_ignores_months_without_labels():
    # June has no label yet: the test months are the latest two that do
    frame = loans([(m, lab) for m in MONTHS[:5] for lab in (0, 1)] + [(MONTHS[5], None)])
    tr, te, info = train.split_out_of_time(frame, holdout_months=2)
    assert info["test_months"] == ["2024-04-01", "2024-05-01"]
    assert info["unlabelled_rows_dropped"] == 1
    assert len(tr) + len(te) == 10


def test_split_needs_more_labelled_months_than_held_out():
    frame = loans([(m, lab) for m in MONTHS[:3] for lab in (0, 1)])
    with pytest.raises(train.TrainError, match="too few labelled cohorts"):
        train.split_out_of_time(frame, holdout_months=3)


def test_missing_gold_tables_is_a_one_line_error(tmp_path, capsys):
    assert train.main(["--datamart", str(tmp_path), "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "run `python main.py" in err
    assert not (tmp_path / "m").exists()


@pytest.fixture(scope="module")
def datamart(sample_datamart) -> Path:
    """The shared sample datamart (tests/conftest.py)."""
    return sample_datamart


@pytest.fixture(scope="module")
def trained(datamart, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "m"
    assert train.main(["--datamart", str(datamart), "--out", str(out), "--holdout-months", "6"]) == 0
    return out


def test_both_models_find_the_planted_signal_out_of_time(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics["models"]) == {"logistic_regression", "random_forest", "hist_gradient_boosting"}
    for name, m in metrics["models"].items():
        assert m["test"]["auc"] > 0.6, name
        assert {"accuracy", "precision", "recall", "f1", "auc", "pr_auc"} <= set(m["test"])
    split = metrics["split"]
    assert len(split["test_months"]) == 6
    assert max(split["train_months"]) < min(split["test_months"]) == split["cut"]
    # one global cut: a loan decided before the cut whose 6th month on book falls after it
    # would show the model the test period; those loans are dropped from training
    assert split["embargo_rows_dropped"] > 0
    assert metrics["best_model"] == max(metrics["models"], key=lambda n: metrics["models"][n]["test"]["auc"])
    assert len(metrics["top_features"]) == 15
    assert (metrics["label_def"], metrics["seed"]) == ("30dpd_6mob", 7)


def test_metrics_record_the_gold_versions_read(trained, datamart):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["table_versions"] == {
        name: DeltaTable(str(datamart / "gold" / "loan_default" / name)).version() for name in ("feature_store", "label_store")
    }


def test_saved_model_predicts_probabilities_from_raw_feature_rows(trained, datamart):
    metrics = json.loads((trained / "metrics.json").read_text())
    columns = metrics["features"]["numeric"] + metrics["features"]["categorical"]
    rows = DeltaTable(str(datamart / "gold" / "loan_default" / "feature_store")).to_pandas().head(5)[columns]
    with (trained / "model.pkl").open("rb") as fh:
        model = pickle.load(fh)
    proba = model.predict_proba(rows)
    assert proba.shape == (5, 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert proba.sum(axis=1) == pytest.approx(1.0)


def test_roc_plot_is_a_png(trained):
    assert (trained / "roc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unknown_label_def_is_a_one_line_error(datamart, tmp_path, capsys):
    assert train.main(["--datamart", str(datamart), "--label-def", "90dpd_3mob", "--out", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: unknown label def '90dpd_3mob'; gold/label_store has 30dpd_6mob"
    assert not (tmp_path / "m").exists()
