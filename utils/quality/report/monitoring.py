"""The report's monitoring section: the drift of the champion model's features over the
feature snapshots (PSI against its training rows, the features that drift most) and its
realised accuracy per labelled cohort (ROC AUC and F1 over time), from the latest
monitoring run of the run's domain in `_meta/drift`, `_meta/performance` and
`_meta/alerts` (written by ``python -m utils.ml.monitor``). Left out, without a word in
the PDF, when the domain has no monitoring run."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from utils.lake import delta_io

from .drift import PSI_BANDS
from .format import month
from .pages import COLORS, CONTENT_TOP, Pages, draw_table

#: Features drawn in the drift chart: the highest PSI at the latest snapshot.
TOP_DRIFT = 8
SECTION = "monitoring"


@dataclass
class MonitoringData:
    """The rows of one monitoring run of one domain."""

    run_id: str
    model: str
    model_version: int
    drift: pd.DataFrame  # feature, snapshot_date, psi, ks, ks_pvalue, rows, reference_rows
    performance: pd.DataFrame  # snapshot_date, rows, labelled_rows, auc, f1, positive_rate, predicted_positive_rate
    alerts: pd.DataFrame  # rule, subject, snapshot_date, value, threshold, action, detail


def _rows(path: Path, domain: str, run_id: str | None = None) -> pd.DataFrame:
    """The rows of `domain` (and `run_id`) of a small `_meta` table; empty without it."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    if not delta_io.table_exists(path):
        return pd.DataFrame()
    wanted = pc.field("domain") == domain
    if run_id is not None:
        wanted = wanted & (pc.field("run_id") == run_id)
    return DeltaTable(str(path)).to_pyarrow_dataset().to_table(filter=wanted).to_pandas()


def load_monitoring(datamart: str | Path, domain: str) -> MonitoringData | None:
    """The latest monitoring run of `domain` in `_meta/drift` (run ids begin with their
    UTC start time, so the greatest is the latest), or None."""
    meta = Path(datamart) / "_meta"
    drift = _rows(meta / "drift", domain)
    if drift.empty:
        return None
    run_id = drift["run_id"].max()
    drift = drift[drift["run_id"] == run_id].reset_index(drop=True)
    latest = drift.iloc[0]
    performance = _rows(meta / "performance", domain, run_id).sort_values("snapshot_date").reset_index(drop=True)
    alerts = _rows(meta / "alerts", domain, run_id)
    return MonitoringData(run_id, str(latest["model"]), int(latest["model_version"]), drift, performance, alerts)


def top_features(drift: pd.DataFrame, n: int = TOP_DRIFT) -> list[str]:
    """The `n` features with the highest PSI at the latest snapshot, highest first."""
    last = drift[drift["snapshot_date"] == drift["snapshot_date"].max()]
    return last[last["psi"].notna()].sort_values(["psi", "feature"], ascending=[False, True])["feature"].head(n).tolist()


def ranking(m: MonitoringData) -> bool:
    """Whether the champion is a recommender (its cohorts carry NDCG@10, not ROC AUC)."""
    perf = m.performance
    return (not perf.empty and "ndcg_at_10" in perf and bool(perf["predicted_positive_rate"].isna().all()))


def _subtitle(m: MonitoringData) -> str:
    if ranking(m):
        scored = int(m.performance["ndcg_at_10"].notna().sum())
        return (f"Champion {m.model} version {m.model_version}, monitoring run {m.run_id}: PSI of each user feature "
                f"per snapshot against the {int(m.drift['reference_rows'].iloc[0]):,} users at its cut (10 quantile "
                f"bins; dashed 0.1 and 0.25); for the {scored} cohorts after its cut whose 30-day windows have "
                f"closed, its realised NDCG@10, precision@10 and recall@10 (not refitted); {len(m.alerts)} alert(s).")
    labelled = m.performance[m.performance["auc"].notna()] if not m.performance.empty else m.performance
    return (f"Champion {m.model} version {m.model_version}, monitoring run {m.run_id}: PSI of each feature per "
            f"snapshot against its {int(m.drift['reference_rows'].iloc[0]):,} training rows (10 quantile bins; "
            f"dashed 0.1 and 0.25), the {min(TOP_DRIFT, m.drift['feature'].nunique())} features with the highest PSI "
            f"at the latest snapshot; per snapshot after its training rows its predicted positive rate and, for the "
            f"{len(labelled)} cohorts whose labels have matured, its realised ROC AUC and F1; "
            f"{len(m.alerts)} alert(s).")


def _months(ax, dates: list) -> None:
    """Categorical x axis: one tick per snapshot, labelled by its month."""
    ax.set_xticks(range(len(dates)), [month(d) for d in dates], rotation=45, ha="right", fontsize=6.5)
    ax.set_xlim(-0.5, len(dates) - 0.5)


def _drift_axes(fig, rect, m: MonitoringData) -> None:
    ax = fig.add_axes(rect)
    dates = sorted(m.drift["snapshot_date"].unique())
    position = {d: i for i, d in enumerate(dates)}
    for feature in top_features(m.drift):
        rows = m.drift[m.drift["feature"] == feature].sort_values("snapshot_date")
        ax.plot([position[d] for d in rows["snapshot_date"]], rows["psi"], marker="o", markersize=3, linewidth=1.2,
                label=feature)
    for x in PSI_BANDS:
        ax.axhline(x, color="#444444", linestyle="--", linewidth=0.8)
    ax.set_yscale("symlog", linthresh=0.1, linscale=0.6)
    ax.set_ylim(bottom=0)
    ax.set_title("Feature drift: PSI against the training rows", fontsize=9)
    ax.set_ylabel("PSI (linear to 0.1, then log)", fontsize=7.5)
    ax.tick_params(axis="y", labelsize=7)
    _months(ax, dates)
    ax.legend(fontsize=6.5, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)


def _accuracy_axes(fig, rect, m: MonitoringData) -> None:
    ax = fig.add_axes(rect)
    ax.set_title("The champion per snapshot after its training rows", fontsize=9)
    if m.performance.empty:
        ax.text(0.5, 0.5, "no snapshot after the training rows", ha="center", va="center", fontsize=8,
                transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    perf = m.performance
    x = list(range(len(perf)))
    if ranking(m):
        _ranking_lines(ax, perf, x)
        return
    labelled = perf["auc"].notna().to_numpy()
    xs = [i for i in x if labelled[i]]
    ax.plot(xs, perf["auc"][labelled], marker="o", color=COLORS["latest"], linewidth=1.5, label="ROC AUC")
    ax.plot(xs, perf["f1"][labelled], marker="s", color=COLORS["first"], linewidth=1, label="F1 at the threshold")
    ax.plot(xs, perf["positive_rate"][labelled], marker=".", linestyle=":", color="#1f77b4", label="positive rate")
    ax.plot(x, perf["predicted_positive_rate"], marker=".", linestyle="--", color=COLORS["all"],
            label="predicted positive rate")
    if not labelled.any():
        ax.text(0.5, 0.6, "no cohort has matured labels yet", ha="center", fontsize=8, transform=ax.transAxes)
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="#bbbbbb", linewidth=0.8)
    ax.tick_params(axis="y", labelsize=7)
    _months(ax, list(perf["snapshot_date"]))
    ax.legend(fontsize=6.5, loc="lower left", frameon=False)
    ax.grid(alpha=0.3)


def _ranking_lines(ax, perf: pd.DataFrame, x: list[int]) -> None:
    """A recommender's cohorts: NDCG@10 (all and warm users), precision and recall at 10."""
    scored = perf["ndcg_at_10"].notna().to_numpy()
    xs = [i for i in x if scored[i]]
    ax.plot(xs, perf["ndcg_at_10"][scored], marker="o", color=COLORS["latest"], linewidth=1.5, label="NDCG@10")
    ax.plot(xs, perf["warm_ndcg_at_10"][scored], marker="s", color=COLORS["first"], linewidth=1,
            label="NDCG@10, warm users")
    ax.plot(xs, perf["precision_at_10"][scored], marker=".", linestyle=":", color="#1f77b4", label="precision@10")
    ax.plot(xs, perf["recall_at_10"][scored], marker=".", linestyle="--", color=COLORS["all"], label="recall@10")
    top = perf[["ndcg_at_10", "warm_ndcg_at_10", "precision_at_10", "recall_at_10"]].max().max()
    ax.set_ylim(0, 0.1 if pd.isna(top) else max(0.1, float(top) * 1.25))
    if not scored.any():
        ax.text(0.5, 0.6, "no window after the cut has closed yet", ha="center", fontsize=8, transform=ax.transAxes)
    ax.tick_params(axis="y", labelsize=7)
    _months(ax, list(perf["snapshot_date"]))
    ax.legend(fontsize=6.5, loc="lower left", frameon=False)
    ax.grid(alpha=0.3)


def monitoring_pages(pages: Pages, m: MonitoringData) -> None:
    """One page: the drift chart, the accuracy chart and the alerts that fit below."""
    fig = pages.new(SECTION, f"Monitoring: {m.model} version {m.model_version}", _subtitle(m))
    _drift_axes(fig, [0.06, 0.42, 0.33, CONTENT_TOP - 0.47], m)
    _accuracy_axes(fig, [0.58, 0.42, 0.38, CONTENT_TOP - 0.47], m)
    if not m.alerts.empty:
        _, drawn = draw_table(fig, 0.31, ["rule", "subject", "snapshot", "value", "threshold", "action"],
                              [[a.rule, a.subject, month(a.snapshot_date), f"{a.value:.3f}", f"{a.threshold:.3f}",
                                a.action] for a in m.alerts.itertuples()], widths=[1.8, 3.2, 0.9, 0.9, 0.9, 1.2],
                              fontsize=7)
        if drawn < len(m.alerts):
            fig.text(0.96, 0.045, f"{len(m.alerts) - drawn} more alert(s) in the HTML report", fontsize=7,
                     ha="right", color="#444444")


def monitoring_html(m: MonitoringData, images: list[str]) -> list[str]:
    """The HTML of the section: its figure, the cohorts' scores and the alerts."""
    from .html_page import _html_table

    parts = [f"<p class='note'>{html.escape(_subtitle(m))}</p>"]
    parts += [f"<img alt='monitoring figure' src='data:image/png;base64,{b64}'>" for b64 in images]

    def score(value) -> str:
        return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"

    if ranking(m):
        parts.append("<h3>Scores per snapshot (cohort)</h3>")
        parts.append(_html_table(
            ["snapshot", "users", "users with interactions", "NDCG@10", "warm users", "NDCG@10 warm", "precision@10",
             "recall@10"],
            [[str(r.snapshot_date)[:10], f"{r.rows:,}", f"{int(r.labelled_rows):,}", score(r.ndcg_at_10),
              "–" if pd.isna(r.warm_users) else f"{int(r.warm_users):,}", score(r.warm_ndcg_at_10),
              score(r.precision_at_10), score(r.recall_at_10)] for r in m.performance.itertuples()],
            numeric=range(1, 8)))
    elif not m.performance.empty:
        parts.append("<h3>Scores per snapshot (cohort)</h3>")
        parts.append(_html_table(
            ["snapshot", "rows", "labelled rows", "ROC AUC", "F1", "positive rate", "predicted positive rate"],
            [[str(r.snapshot_date)[:10], f"{r.rows:,}", f"{int(r.labelled_rows):,}", score(r.auc), score(r.f1),
              score(r.positive_rate), score(r.predicted_positive_rate)] for r in m.performance.itertuples()],
            numeric=range(1, 7)))
    if not m.alerts.empty:
        parts.append("<h3>Alerts</h3>")
        parts.append(_html_table(["rule", "subject", "snapshot", "value", "threshold", "action", "detail"],
                                 [[a.rule, a.subject, str(a.snapshot_date)[:10], f"{a.value:.3f}", f"{a.threshold:.3f}",
                                   a.action, a.detail] for a in m.alerts.itertuples()], numeric=(3, 4)))
    return parts
