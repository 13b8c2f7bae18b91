"""The slide deck (utils/present/deck/): its facts equal the datamart's tables, the PDF is at
most ten 16:9 pages, a datamart without runs is one clear error, and a new run changes
the numbers of a regenerated deck; no slide shows an absolute path."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import zlib
from pathlib import Path

import pytest
from deltalake import DeltaTable

from utils.present import deck
from utils.cli import main as build_main
from utils.lake.datamart import Datamart
from utils.lake.ledger import RunLedger
from utils.lake.paths import PROJECT_ROOT

SLIDE_POINTS = (round(deck.SLIDE_W * 72), round(deck.SLIDE_H * 72))  # 960 x 540


def table_path(datamart: Path, name: str) -> Path:
    """The folder of table ``<layer>/<name>`` of the loan_default domain (``_meta/...`` as is)."""
    return datamart / name if name.startswith("_meta/") else Datamart(datamart, "loan_default").path_of(name)


def table(datamart: Path, name: str):
    return DeltaTable(str(table_path(datamart, name))).to_pandas()


@pytest.fixture(scope="module")
def facts(sample_datamart) -> deck.DeckFacts:
    return deck.gather_facts(sample_datamart)


@pytest.fixture(scope="module")
def pdf(sample_datamart, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deck") / "deck.pdf"
    assert deck.main(["--datamart", str(sample_datamart), "--out", str(out)]) == 0
    return out


def pdf_pages(path: Path) -> list[tuple[float, float]]:
    """(width, height) in points of every page object of the PDF, from its MediaBox."""
    data = path.read_bytes()
    pages = re.findall(rb"/Type\s*/Page\b(?!s)", data)
    boxes = re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", data)
    assert len(boxes) >= len(pages) > 0
    return [(float(x1) - float(x0), float(y1) - float(y0)) for x0, y0, x1, y1 in boxes[: len(pages)]]


# --------------------------------------------------------------------------- facts equal the tables


def test_facts_show_the_latest_successful_run(sample_datamart, facts):
    runs = [r for r in RunLedger(sample_datamart / "_meta" / "runs").latest_runs() if r["status"] == "success"]
    assert facts.run.run_id == runs[-1]["run_id"]
    assert facts.run.record_path == sample_datamart.resolve() / "_meta" / "run_records" / f"{facts.run.run_id}.json"


def test_label_positives_and_total_equal_the_label_store(sample_datamart, facts):
    labels = table(sample_datamart, "gold/label_store")
    label = facts.label
    mine = labels[labels["label_def"] == label.label_def]
    assert label.total == len(mine) > 0
    assert label.positives == int((mine["label"] == 1).sum())
    assert label.label_months == tuple(sorted({str(d)[:7] for d in mine["snapshot_date"]}))
    assert label.label_def == f"{label.dpd}dpd_{label.mob}mob" and set(mine["mob"]) == {label.mob}


def test_quarantined_rows_equal_the_quarantine_table(sample_datamart, facts):
    quarantine = table(sample_datamart, "silver/_quarantine")
    assert facts.quality.quarantined_rows == len(quarantine)
    expected = {f"{t}: {r}": n for (t, r), n in quarantine.groupby(["table", "rule"]).size().items()}
    assert facts.quality.quarantine_by_rule == expected


def test_row_counts_of_every_table_equal_the_delta_tables(sample_datamart, facts):
    assert {t.layer for t in facts.tables} == {"bronze", "silver", "gold"}
    for t in facts.tables:
        rows = DeltaTable(str(table_path(sample_datamart, t.name))).to_pyarrow_table(columns=["snapshot_date"])
        assert t.rows == rows.num_rows, t.name
        assert t.partitions == len(set(rows.column("snapshot_date").to_pylist())) or t.name == deck.QUARANTINE


def test_accounting_and_rule_counts_equal_the_meta_tables(sample_datamart, facts):
    run_id = facts.run.run_id
    quality = table(sample_datamart, "_meta/quality")
    accounting = table(sample_datamart, "_meta/accounting")
    quality, accounting = quality[quality["run_id"] == run_id], accounting[accounting["run_id"] == run_id]
    q = facts.quality
    assert q.checks_flagged == int(quality["rows_failed"].sum())
    assert q.checks_run == len(quality)
    assert q.bronze_rows == int(accounting["bronze_rows"].sum()) == facts.rows("bronze")
    assert q.silver_rows == int(accounting["silver_rows"].sum()) == facts.rows("silver")
    assert q.bronze_rows == q.silver_rows + q.accounted_quarantine
    assert q.balanced_partitions == int(accounting["balanced"].sum()) == len(accounting)


def test_leakage_and_features_come_from_the_run_and_the_config(sample_datamart, facts):
    from utils.lake.config import load_config

    leakage = table(sample_datamart, "_meta/leakage")
    leakage = leakage[leakage["run_id"] == facts.run.run_id]
    assert facts.leakage.checks == len(leakage)
    assert facts.leakage.all_passed == bool(leakage["passed"].all())
    gold = load_config("loan_default").gold
    assert facts.features.total == len(gold.features)
    assert facts.leakage.auc_threshold == gold.max_single_feature_auc
    assert not facts.features.missing_in_store


def test_meta_rows_count_the_runs_own_rows(sample_datamart, facts):
    quality = table(sample_datamart, "_meta/quality")
    assert facts.meta_rows["quality"] == int((quality["run_id"] == facts.run.run_id).sum())
    assert facts.meta_rows["runs"] == facts.run.runs_in_ledger


def test_numbers_in_headlines_are_the_facts(facts):
    q = facts.quality
    assert deck.headline_quality(facts).startswith(
        f"The pipeline quarantined {q.quarantined_rows:,} of {q.bronze_rows:,} rows; {q.checks_flagged:,} checks")
    assert f"{facts.label.total:,} loans labelled" in deck.headline_title(facts)


def test_every_headline_fits_two_lines(facts):
    for headline in deck.headlines(facts):
        assert len(deck.wrap(headline, deck.CONTENT_W, deck.TITLE, weight="bold")) <= deck.HEADLINE_LINES, headline


def test_a_run_inherits_only_the_earlier_runs_of_its_own_domain(tmp_path):
    """Two domains in one datamart: the facts of one domain's run never add the other's
    runs (their _meta rows are of other tables)."""
    import datetime as dt

    from utils.lake.ledger import RunLedger, RunRecord
    from utils.present.deck.runs import resolve_run

    ledger = RunLedger(tmp_path / "_meta" / "runs")
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    for i, domain in enumerate(["loan_default", "churn", "loan_default", "churn"]):
        at = start + dt.timedelta(hours=i)
        ledger.append(RunRecord(f"r{i}", domain, ["bronze"], {}, "h", at, status="success",
                                ended_at=at + dt.timedelta(minutes=1)))
    run, upto = resolve_run(tmp_path, None, "churn")
    assert run["run_id"] == "r3" and [r["run_id"] for r in upto] == ["r1", "r3"]
    run, upto = resolve_run(tmp_path)  # the latest run of any domain, with its own domain's history
    assert run["run_id"] == "r3" and [r["run_id"] for r in upto] == ["r1", "r3"]
    run, upto = resolve_run(tmp_path, "r2")
    assert [r["run_id"] for r in upto] == ["r0", "r2"]


def test_effective_rows_take_each_partition_from_the_newest_run_that_wrote_it():
    rows = [{"run_id": "a", "table": "t", "snapshot_date": "2024-01-01", "n": 1},
            {"run_id": "a", "table": "t", "snapshot_date": "2024-02-01", "n": 2},
            {"run_id": "b", "table": "t", "snapshot_date": "2024-02-01", "n": 3},
            {"run_id": "c", "table": "t", "snapshot_date": "2024-02-01", "n": 4}]
    kept = deck.effective_rows(rows, ["a", "b"], lambda r: (r["table"], r["snapshot_date"]))
    assert [r["n"] for r in kept] == [1, 3]


# --------------------------------------------------------------------------- the model slide


def test_without_a_model_the_deck_says_how_to_train_it(sample_datamart, facts):
    assert facts.model is None
    assert deck.headline_model(facts).startswith("No sanity model")
    assert facts.model_hint.startswith("python -m utils.ml.train --domain loan_default --datamart ")


def test_the_newest_metrics_json_is_read_and_checked_against_the_run(sample_datamart, tmp_path, facts):
    datamart = tmp_path / "dm"
    shutil.copytree(sample_datamart, datamart)
    versions = {"feature_store": facts.table(deck.FEATURE_STORE).version, "label_store": facts.table(deck.LABEL_STORE).version}
    for stamp, auc, used in (("20260101T000000Z", 0.61, {k: v + 5 for k, v in versions.items()}),
                             ("20260102T000000Z", 0.72, versions)):
        folder = datamart / "_models" / facts.label.label_def / stamp
        folder.mkdir(parents=True)
        scores = {"auc": auc, "precision": 0.5, "recall": 0.4, "f1": 0.44}
        (folder / "metrics.json").write_text(json.dumps({
            "label_def": facts.label.label_def, "timestamp": stamp, "table_versions": used,
            "split": {"holdout_months": 2, "train_months": ["2023-01-01"], "test_months": ["2023-02-01", "2023-03-01"],
                      "train_rows": 10, "test_rows": 4, "train_positive_rate": 0.2, "test_positive_rate": 0.25},
            "features": {"numeric": ["a", "b"], "categorical": ["c"]},
            "models": {"logistic_regression": {"train_auc": 0.8, "test": scores}},
            "best_model": "logistic_regression",
            "top_features": [{"feature": "a", "importance_mean": 0.1, "importance_std": 0.01}]}))
    model = deck.gather_facts(datamart).model
    assert model.models["logistic_regression"]["auc"] == 0.72 and model.matches_run
    assert model.test_months == ("2023-02", "2023-03") and model.n_features == 3


# --------------------------------------------------------------------------- the PDF


def test_pdf_has_at_most_ten_pages_of_16_by_9(pdf):
    pages = pdf_pages(pdf)
    assert 0 < len(pages) <= 10
    assert len(pages) == len(deck.SLIDES)
    for width, height in pages:
        assert (round(width), round(height)) == SLIDE_POINTS
        assert abs(width / height - 16 / 9) < 0.01


def test_every_slide_has_the_footer_with_run_id_data_root_and_page(facts):
    figures = deck.build_slides(facts)
    for i, fig in enumerate(figures, 1):
        texts = [t.get_text() for t in fig.texts]
        assert any(facts.run.run_id in t and deck.portable_path(facts.run.data_root) in t for t in texts)
        assert f"{i} / {len(figures)}" in texts
        assert tuple(fig.get_size_inches()) == (deck.SLIDE_W, deck.SLIDE_H)


def test_slides_render_without_layout_warnings(facts, caplog):
    """Headlines in two lines and tables above the footer (Slide logs when not)."""
    with caplog.at_level("WARNING", logger="utils.present.deck"):
        deck.build_slides(facts)
    assert not [r for r in caplog.records if r.name.startswith("utils.present.deck")]


# --------------------------------------------------------------------------- no path of the machine

#: a slash that starts a path: at the start of the text or after a space, "=", a quote or "("
ABSOLUTE_PATH = re.compile(r"(?:^|[\s=(`'\"])/(?=[^\s/])")


def slide_texts(figures) -> list[str]:
    """Every text of every slide: figure texts, and texts and tick labels of their charts."""
    texts = []
    for fig in figures:
        texts += [t.get_text() for t in fig.texts]
        for ax in fig.axes:
            texts += [t.get_text() for t in ax.texts] + [t.get_text() for t in ax.get_yticklabels()]
    return texts


def elsewhere(facts: deck.DeckFacts) -> deck.DeckFacts:
    """`facts` of a run whose options hold absolute paths outside the project, as the
    command line records them: data in /home/someone/shared/datasets/cs611, datamart
    /srv/lake/dm_cs611."""
    data_root, datamart = "/home/someone/shared/datasets/cs611", Path("/srv/lake/dm_cs611")
    run = dataclasses.replace(facts.run, data_root=data_root,
                              options={**facts.run.options, "data_root": data_root, "datamart": str(datamart)})
    return dataclasses.replace(facts, run=run, datamart=datamart)


@pytest.mark.parametrize("path, shown", [(PROJECT_ROOT / "data", "data"), (PROJECT_ROOT, "."),
                                         (Path("/home/someone/shared/datasets/cs611"), "…/cs611"),
                                         ("data", "data"), ("", "")])
def test_a_path_is_shown_relative_to_the_project_or_by_its_folder_name(path, shown):
    assert deck.portable_path(path) == shown


def test_footer_of_a_run_with_absolute_paths_names_their_folders_only(facts):
    moved = elsewhere(facts)
    footer = deck.footer_text(moved)
    assert "data root …/cs611" in footer and "datamart …/dm_cs611" in footer
    assert not ABSOLUTE_PATH.search(footer), footer


def test_no_slide_and_no_pdf_field_shows_an_absolute_path(facts, tmp_path):
    moved = elsewhere(facts)
    texts = slide_texts(deck.build_slides(moved))
    assert "DATA=…/cs611" in texts and "DM=…/dm_cs611" in texts  # the how-to-run slide
    for text in texts:
        assert not ABSOLUTE_PATH.search(text), text
        assert "/home/someone" not in text and "/srv/lake" not in text and str(facts.datamart) not in text, text
    pdf = deck.render_deck(moved, tmp_path / "deck.pdf").read_bytes()
    assert b"/srv/lake" not in pdf and str(facts.datamart).encode() not in pdf


# --------------------------------------------------------------------------- errors


def test_datamart_without_runs_is_one_error_line_and_exit_1(tmp_path, capsys):
    empty = tmp_path / "empty_dm"
    empty.mkdir()
    assert deck.main(["--datamart", str(empty), "--out", str(tmp_path / "x.pdf")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and str(empty) in err[0] and "no runs" in err[0]
    assert not (tmp_path / "x.pdf").exists()


def test_missing_datamart_and_unknown_run_are_clear_errors(sample_datamart, tmp_path, capsys):
    assert deck.main(["--datamart", str(tmp_path / "nope"), "--out", str(tmp_path / "x.pdf")]) == 1
    assert "no such datamart folder" in capsys.readouterr().err
    assert deck.main(["--datamart", str(sample_datamart), "--run-id", "nope", "--out", str(tmp_path / "x.pdf")]) == 1
    assert "no run nope in the ledger" in capsys.readouterr().err


# --------------------------------------------------------------------------- regeneration after a new run


def test_regenerated_deck_after_a_new_run_shows_its_numbers(sample_datamart, sample_copy, tmp_path):
    """A new run on a copy, whose attributes file gained a duplicate row: the deck's
    quarantine and bronze counts follow it; the earlier run's deck stays as it was."""
    data, datamart = tmp_path / "data", tmp_path / "dm"
    shutil.copytree(sample_copy, data)
    shutil.copytree(sample_datamart, datamart)
    before = deck.gather_facts(datamart)

    path = data / "features_attributes.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines) + lines[3])  # the customer of line 4 appears twice
    assert build_main(["--domain", "loan_default", "--data-root", str(data), "--datamart", str(datamart), "--layers", "bronze,silver",
                       "--sources", "features_attributes"]) == 0

    after = deck.gather_facts(datamart)
    assert after.run.run_id != before.run.run_id
    assert after.quality.quarantined_rows == before.quality.quarantined_rows + 1
    assert after.quality.quarantine_by_rule.get("attributes: unique_customer_id") == 1
    assert after.quality.bronze_rows == before.quality.bronze_rows + 1
    assert after.table("bronze/features_attributes").rows == before.table("bronze/features_attributes").rows + 1
    assert after.quality.balanced_partitions == after.quality.partitions
    # gold was not rebuilt: its numbers come from the earlier run's versions
    assert after.label == before.label and after.leakage.guards == before.leakage.guards
    assert deck.headline_quality(after) != deck.headline_quality(before)
    assert f"quarantined {before.quality.quarantined_rows + 1:,} of {before.quality.bronze_rows + 1:,}" \
        in deck.headline_quality(after)

    out = deck.build_deck(datamart, tmp_path / "after.pdf")
    assert len(pdf_pages(out)) == len(deck.SLIDES)
    again = deck.gather_facts(datamart, run_id=before.run.run_id)  # the earlier run, by its table versions
    assert again.quality.quarantined_rows == before.quality.quarantined_rows
    assert again.table("bronze/features_attributes").rows == before.table("bronze/features_attributes").rows


# --------------------------------------------------------------------------- a graded label: the recommenders


def pdf_text(path: Path) -> str:
    """The text of the PDF's content streams, one line per text object: matplotlib sets its
    Type 42 fonts with two-byte Unicode codes, so ASCII text reads as written (glyphs it
    puts in a second font subset, e.g. ligatures and arrows, do not; kerning is dropped)."""
    lines = []
    for stream in re.findall(rb"(?<!end)stream\r?\n(.*?)endstream", path.read_bytes(), re.S):
        try:
            stream = zlib.decompress(stream)
        except zlib.error:
            pass
        for block in re.findall(rb"\bBT\b(.*?)\bET\b", stream, re.S):
            pieces = re.findall(rb"\(((?:\\.|[^\\)])*)\)", block, re.S)
            raw = b"".join(re.sub(rb"\\(.)", lambda m: {b"n": b"\n", b"r": b"\r"}.get(m.group(1), m.group(1)), p,
                                  flags=re.S) for p in pieces)
            lines.append(raw.decode("utf-16-be", errors="replace"))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def reco_datamart(reco_sample) -> Path:
    """The recommendation domain built once from the small sample (tests/conftest.py):
    every layer, and the recommenders' evaluation a full build runs."""
    return reco_sample[1]


def reco_evaluation(datamart: Path) -> dict:
    return json.loads((Datamart(datamart, "recommendation").models / "evaluation.json").read_text(encoding="utf-8"))


def test_graded_label_facts_count_the_label_store_by_grade_and_read_the_evaluation(reco_datamart):
    facts = deck.gather_facts(reco_datamart)
    labels = DeltaTable(str(Datamart(reco_datamart, "recommendation").path_of("gold/label_store"))).to_pandas()
    label, evaluation = facts.label, reco_evaluation(reco_datamart)
    assert (label.kind, label.unit, label.item, label.days) == ("interactions", "user", "product", 30)
    assert label.total == label.positives == len(labels) > 0
    assert dict(label.grades) == {int(g): int(k) for g, k in labels["label"].value_counts().items()}
    assert label.entities == len(labels[["user_id", "feature_snapshot_date"]].drop_duplicates())
    assert label.items == labels["product_id"].nunique()
    rk = facts.ranking
    assert facts.model is None and rk is not None and rk.matches_run
    assert (rk.cut, rk.users, rk.catalogue_items) == (evaluation["cut"], evaluation["users"],
                                                      evaluation["catalogue_items"])
    assert {m.name for m in rk.models} == set(evaluation["models"])
    assert rk.best.at("warm", 10, "ndcg") == max(r["metrics"]["warm"]["10"]["ndcg"] for r in evaluation["models"].values())
    assert len(rk.alarms) == len(evaluation["leakage_alarms"])
    assert {t.name for t in facts.tables if t.layer == "gold"} == {
        "gold/feature_store", "gold/item_features", "gold/item_similarity", "gold/label_store"}


def test_recommendation_deck_shows_every_recommender_of_evaluation_json(reco_datamart, tmp_path, caplog):
    """At most ten 16:9 pages, every headline in two lines and every table above the footer;
    the PDF's text names each recommender with its NDCG@10 and P@10 of warm and cold users
    from evaluation.json, the users evaluated and the leakage-alarm status; no AUC."""
    evaluation = reco_evaluation(reco_datamart)
    out = tmp_path / "recommendation.pdf"
    with caplog.at_level("WARNING", logger="utils.present.deck"):
        assert deck.main(["--domain", "recommendation", "--datamart", str(reco_datamart), "--out", str(out)]) == 0
    # the shared sample is built with its replay cut moved inside its six months (--set), so
    # the run's config hash is not the file's: the one warning expected
    assert not [r for r in caplog.records if r.name.startswith("utils.present.deck")
                and "has changed since run" not in r.getMessage()]
    pages = pdf_pages(out)
    assert 0 < len(pages) <= 10
    assert all((round(width), round(height)) == SLIDE_POINTS for width, height in pages)
    text = pdf_text(out)
    assert "Recommenders, out of time".upper() in text
    for name, result in evaluation["models"].items():
        assert name in text, name
        for segment in ("warm", "cold"):
            at10 = result["metrics"][segment]["10"]
            assert f"{at10['ndcg']:.3f}" in text and f"{at10['precision']:.3f}" in text, (name, segment)
    users = evaluation["users"]
    assert f"Warm users: {users['warm']:,}" in text and f"Cold users: {users['cold']:,}" in text
    assert ("no leakage alarm" if not evaluation["leakage_alarms"] else "leakage alarms") in text
    assert "AUC" not in text  # a graded label has no classifier metrics
    assert str(reco_datamart) not in text and str(reco_datamart).encode() not in out.read_bytes()
