"""The figures a training run logs to MLflow beside its metrics (matplotlib Figures, no
pyplot, so no backend is switched):

- a classifier (:func:`classifier_figures`): ``roc.png``, the test ROC curves of every
  model, and ``importance.png``, the permutation importances of the best model on the
  test months (the drop of ROC AUC when a feature is shuffled, with its spread);
- a recommender (:func:`ranking_figures`): ``ndcg_at_k.png``, NDCG at each K of every
  model for all, warm and cold users, and ``precision_recall_at_k.png``.
"""

from __future__ import annotations

from typing import Any

SEGMENTS = ("all", "warm", "cold")


def importance_figure(metrics: dict[str, Any]):
    """Permutation importances of the best model (``metrics["top_features"]``)."""
    from matplotlib.figure import Figure

    top = list(reversed(metrics.get("top_features") or []))
    fig = Figure(figsize=(7, max(2.5, 0.35 * len(top) + 1.2)))
    ax = fig.add_subplot()
    if not top:
        ax.text(0.5, 0.5, "no importances computed", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return fig
    ax.barh([t["feature"] for t in top], [t["importance_mean"] for t in top],
            xerr=[t["importance_std"] for t in top], color="#4c72b0", ecolor="#333333", capsize=2)
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel("drop of test ROC AUC when the feature is shuffled")
    ax.set_title(f"Permutation importance of {metrics['best_model']}, label {metrics['label_def']}", fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def classifier_figures(result: dict[str, Any]) -> dict[str, Any]:
    """{artefact name: Figure} of a :func:`utils.ml.train.train` result."""
    from utils.ml.train import roc_figure

    return {"roc.png": roc_figure(result["curves"], result["metrics"]["label_def"]),
            "importance.png": importance_figure(result["metrics"])}


def _metric_figure(report: dict[str, Any], metrics: tuple[str, ...], title: str):
    from matplotlib.figure import Figure

    models = sorted(report["models"])
    ks = [str(k) for k in report["ks"]]
    fig = Figure(figsize=(4 * len(SEGMENTS), 3.6 * len(metrics)))
    axes = fig.subplots(len(metrics), len(SEGMENTS), squeeze=False, sharey="row")
    for row, metric in enumerate(metrics):
        for col, segment in enumerate(SEGMENTS):
            ax = axes[row][col]
            for name in models:
                scores = report["models"][name]["metrics"].get(segment, {})
                values = [scores.get(k, {}).get(metric) for k in ks]
                ax.plot([int(k) for k in ks], [float("nan") if v is None else v for v in values], marker="o",
                        label=name)
            users = report.get("users", {}).get(segment)
            ax.set_title(f"{metric}@K, {segment} users" + (f" ({users:,})" if users is not None else ""), fontsize=9)
            ax.set_xticks([int(k) for k in ks])
            ax.set_xlabel("K", fontsize=8)
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{title}: {report['domain']} / {report['label_def']}, cut {report['cut']}", fontsize=10)
    fig.tight_layout()
    return fig


def ranking_figures(report: dict[str, Any]) -> dict[str, Any]:
    """{artefact name: Figure} of a :func:`utils.ml.recommend.run` report."""
    return {"ndcg_at_k.png": _metric_figure(report, ("ndcg",), "NDCG at K out of time"),
            "precision_recall_at_k.png": _metric_figure(report, ("precision", "recall"),
                                                        "Precision and recall at K out of time")}
