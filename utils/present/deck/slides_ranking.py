"""Slide 8 of a domain whose label is of kind interactions (graded (user, item) rows):
the recommenders compared out of time, from their evaluation (:class:`RankingFacts`),
in place of the classifier's model slide. Warm and cold users side by side, the
setup of the cut, the timings and the leakage ceiling."""

from __future__ import annotations

from .facts import DeckFacts, RankingFacts, RecommenderFacts
from .format import n, pct, plural
from .slide import Slide
from .style import (
    ACCENT,
    BODY,
    CONTENT_TOP,
    CONTENT_W,
    GREY,
    GREY_DARK,
    GREY_FAINT,
    INK,
    MARGIN_X,
    MONO,
    NAVY,
    SMALL,
    grid,
)

#: the columns of each segment of the comparison table: (metric, header), at K = 10
METRICS = (("ndcg", "NDCG@10"), ("precision", "P@10"), ("recall", "R@10"), ("coverage", "Cov@10"))
#: line colours of the recall@K chart, in model order
SHADES = (NAVY, ACCENT, "#7486A8", GREY, "#C9A227", "#5B6B5A")


def metric_name(key: str) -> str:
    """"ndcg_at_10" -> "NDCG@10", "precision_at_10" -> "P@10" (a key of the ceiling)."""
    metric, _, k = key.rpartition("_at_")
    return {"ndcg": "NDCG", "precision": "P", "recall": "R", "hit_rate": "HR", "coverage": "Cov"}.get(
        metric, metric) + f"@{k}"


def ceiling_text(rk: RankingFacts) -> str:
    """The leakage ceiling in words, e.g. "NDCG@10 0.7 or P@10 0.5"."""
    return " or ".join(f"{metric_name(k)} {v:g}" for k, v in sorted(rk.ceiling.items()))


def _secs(value: float) -> str:
    """Seconds as the table writes them: two decimals below one second, else one."""
    return f"{value:.2f}" if value < 1 else f"{value:.1f}"


def _value(model: RecommenderFacts, segment: str, metric: str) -> str:
    v = model.at(segment, 10, metric)
    return "–" if v is None else f"{v:.3f}"


def headline_ranking(f: DeckFacts) -> str:
    rk = f.ranking
    if rk is None:
        return "No recommender has been evaluated on this datamart yet; one command trains and scores them out of time"
    best, base = rk.best, rk.model("popularity")
    alarm = plural(len(rk.alarms), "LEAKAGE ALARM", "LEAKAGE ALARMS") if rk.alarms else "no leakage alarm"
    if base is None or base is best:
        return (f"Out of time, {best.name} ranks best: NDCG@10 {best.at('warm', 10, 'ndcg') or 0:.3f} on "
                f"{n(rk.users.get('warm'))} warm users, {len(rk.models)} models compared; {alarm}")
    return (f"Out of time, {best.name} ranks best: NDCG@10 {best.at('warm', 10, 'ndcg') or 0:.3f} on "
            f"{n(rk.users.get('warm'))} warm users, popularity {base.at('warm', 10, 'ndcg') or 0:.3f}; {alarm}")


def _setup(f: DeckFacts, rk: RankingFacts) -> list[str]:
    """The bullets under the table: the cut, who is evaluated, coverage, ceiling and versions."""
    label = f.label
    item, days = (label.item, label.days) if label else ("item", None)
    window = f"(D, D + {days} days]" if days else "the window after D"
    cold = [m.at("cold", 10, "ndcg") for m in rk.models]
    same = len({round(v, 9) for v in cold if v is not None}) == 1
    registered = f" (of {n(rk.population)} registered at D)" if rk.population else ""
    base = rk.model("popularity")
    cov = (f" Popularity reaches {pct(base.at('all', 10, 'coverage'))}, {rk.best.name} "
           f"{pct(rk.best.at('all', 10, 'coverage'))}." if base is not None and base is not rk.best else "")
    alarms = "; ".join(f"{a['model']} {metric_name(a['metric'])} {a['value']:.3f} > {a['ceiling']:g}"
                       for a in rk.alarms)
    versions = ", ".join(f"{k.removeprefix('gold/')} v{v}" for k, v in sorted(rk.table_versions.items())
                         if k.startswith("gold/"))
    return [
        f"Cut D = {rk.cut}: trained on the {n(rk.train_events)} weighted events of {n(rk.train_users)} users up "
        f"to D, judged on the {item}s each user touched in {window} ({rk.label_def}, graded).",
        f"Evaluated: {n(rk.users.get('all'))} users with such a {item}{registered}; warm: an event up to D; cold: "
        f"none, served popularity by every model{', so their scores are equal' if same else ''}.",
        f"Cov@10: share of the {n(rk.catalogue_items)} {item}s of the catalogue at D in some top 10.{cov}",
        f"Leakage ceiling {ceiling_text(rk)}: " + (f"ALARM, {alarms}." if rk.alarms else "no model above it.")
        + f" Read {versions}"
        + ("; the versions this run left." if rk.matches_run else f"; this run left newer ones: {f.model_hint}."),
    ]


def slide_ranking(f: DeckFacts) -> Slide:
    rk = f.ranking
    s = Slide("Recommenders, out of time", headline_ranking(f))
    x, w = grid(0, 7)
    if rk is None:
        s.text(x, CONTENT_TOP, "Train them", size=SMALL, color=GREY_DARK, weight="bold")
        s.box(x, CONTENT_TOP + 0.35, CONTENT_W, 0.6, fill=GREY_FAINT, edge=GREY_FAINT)
        s.text(x + 0.2, CONTENT_TOP + 0.5, f.model_hint, size=BODY, family=MONO, color=INK)
        s.bullets(x, CONTENT_TOP + 1.3, [
            "fits the recommenders of gold.recommend.models on the weighted events up to one cut D (the latest "
            "month end with labels);",
            "ranks the top K items of every user registered at D and scores them against the label rows of D "
            "(precision, recall, NDCG, MAP, hit rate, coverage at K), warm and cold users apart;",
            "writes _models/<domain>/evaluation.json (a full build runs it too); rerun the deck to put its numbers "
            "on this slide.",
        ], CONTENT_W, size=BODY)
        return s
    # the table: model, then per segment the metrics at 10, then the timings
    segments = [("warm", f"Warm users: {n(rk.users.get('warm'))}"), ("cold", f"Cold users: {n(rk.users.get('cold'))}")]
    mw, timings = 0.95, [0.8, 1.35]
    widths = [CONTENT_W - mw * len(METRICS) * len(segments) - sum(timings)]
    widths += [mw] * (len(METRICS) * len(segments)) + timings
    gx = MARGIN_X + widths[0]
    for _, title in segments:
        span = mw * len(METRICS)
        s.text(gx + span / 2, CONTENT_TOP, title, size=SMALL, color=NAVY, weight="bold", ha="center")
        s.rule(gx + 0.1, gx + span - 0.1, CONTENT_TOP + 0.3, color=NAVY, width=1.0)
        gx += span
    header = ["Model"] + [h for _ in segments for _, h in METRICS] + ["Fit s", "Recommend s"]
    rows = [[m.name + (" (best)" if m is rk.best else "")] + [_value(m, seg, metric) for seg, _ in segments
                                                              for metric, _ in METRICS]
            + [_secs(m.fit_seconds), _secs(m.recommend_seconds)] for m in rk.models]
    alarmed = {a["model"] for a in rk.alarms}
    y = s.table(MARGIN_X, CONTENT_TOP + 0.38, widths, header, rows, aligns=["left"] + ["right"] * (len(widths) - 1),
                row_colors=[ACCENT if m.name in alarmed else None for m in rk.models])
    s.bullets(x, y + 0.3, _setup(f, rk), w, size=SMALL, gap=0.08)
    # recall at every K: how fast each model finds the items of the window
    rx, rw = grid(8, 4)
    s.text(rx, y + 0.3, "Recall@K of all evaluated users", size=SMALL, color=GREY_DARK, weight="bold")
    ks = list(rk.ks) or sorted({k for m in rk.models for k in m.metrics.get("all", {})})
    ax = s.axes(rx + 0.45, y + 0.75, rw - 1.95, max(1.2, 6.5 - (y + 0.75)))
    for i, m in enumerate(rk.models):
        values = [m.at("all", k, "recall") for k in ks]
        ax.plot(ks, [v if v is not None else float("nan") for v in values], marker="o", markersize=4,
                color=SHADES[i % len(SHADES)], linewidth=1.6, label=m.name)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.legend(fontsize=SMALL, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.0), handlelength=1.2,
              labelcolor=INK)
    return s
