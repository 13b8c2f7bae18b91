"""Slides 5 to 7, what the pipeline guarantees: data quality (rules and row accounting),
point in time and the leakage guards, and the features."""

from __future__ import annotations

from .facts import DeckFacts, GuardFacts, LabelFacts, LeakageFacts, RankingFacts
from .format import n, plural, short_table
from .slide import Slide
from .slides_ranking import ceiling_text, metric_name
from .style import (
    ACCENT,
    CONTENT_BOTTOM,
    CONTENT_TOP,
    GREY,
    GREY_DARK,
    INK,
    NAVY,
    NAVY_TINT,
    SMALL,
    grid,
    line_height,
    text_width,
    wrap,
)


def headline_quality(f: DeckFacts) -> str:
    q = f.quality
    balance = (f"all {n(q.partitions)} partitions balance" if q.balanced_partitions == q.partitions
               else f"{n(q.partitions - q.balanced_partitions)} of {n(q.partitions)} partitions do not balance")
    return (f"The pipeline quarantined {n(q.quarantined_rows)} of {n(q.bronze_rows)} rows; "
            f"{n(q.checks_flagged)} checks flagged values; {balance}")


def slide_quality(f: DeckFacts) -> Slide:
    s = Slide("Data quality", headline_quality(f))
    q = f.quality
    x, w = grid(0, 7)
    s.text(x, CONTENT_TOP, "Rules that flagged the most rows (all partitions)", size=SMALL, color=GREY_DARK,
           weight="bold")
    top = [r for r in q.rules if r.failed > 0][:10]
    if top:
        labels = [f"{short_table(r.table)} · {r.rule}" for r in top]
        lw = max(text_width(lab, SMALL) for lab in labels) + 0.15
        ax = s.axes(x + lw, CONTENT_TOP + 0.4, w - lw - 0.7, min(0.36 * len(top), 3.9))
        ypos = list(range(len(top)))[::-1]
        colors = [ACCENT if r.action == "quarantined" else NAVY for r in top]
        ax.barh(ypos, [r.failed for r in top], color=colors, height=0.62)
        ax.set_yticks(ypos, labels)
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(False)
        peak = max(r.failed for r in top)
        for yy, r in zip(ypos, top):
            ax.text(r.failed + peak * 0.015, yy, n(r.failed), va="center", fontsize=SMALL, color=INK)
        ax.set_xlim(0, peak * 1.15)
        ax.set_ylim(-0.6, len(top) - 0.4)
        key_y = CONTENT_TOP + 0.4 + min(0.36 * len(top), 3.9) + 0.15
        actions = ", ".join(f"{a} {n(v)}" for a, v in sorted(q.failed_by_action.items(), key=lambda kv: -kv[1]) if v)
        s.paragraph(x, key_y, f"Navy: value nulled, stripped or counted (row kept, flagged); orange: row "
                    f"quarantined. Flagged rows by action: {actions or 'none'}.", w, size=SMALL, color=GREY_DARK)
    else:
        s.paragraph(x, CONTENT_TOP + 0.4, f"No rule flagged any row in {n(q.checks_run)} rule checks.", w)
    rx, rw = grid(7, 5)
    s.text(rx, CONTENT_TOP, "Row accounting: bronze = silver + quarantine", size=SMALL, color=GREY_DARK, weight="bold")
    rows = [[short_table(r.table), n(r.bronze_rows), n(r.silver_rows), n(r.quarantined_rows),
             f"{r.balanced_partitions}/{r.partitions}"] for r in q.reconcile]
    rows.append(["total", n(q.bronze_rows), n(q.silver_rows), n(q.accounted_quarantine),
                 f"{q.balanced_partitions}/{q.partitions}"])
    widths = [rw * 0.27, rw * 0.19, rw * 0.19, rw * 0.17, rw * 0.18]
    y = s.table(rx, CONTENT_TOP + 0.35, widths, ["Table", "Bronze", "Silver", "Quar.", "Balanced"], rows,
                aligns=["left", "right", "right", "right", "right"])
    y += 0.3
    s.text(rx, y, "Quarantine by rule", size=SMALL, color=GREY_DARK, weight="bold")
    if q.quarantine_by_rule:
        items = [f"{k}: {plural(v, 'row')}" for k, v in list(q.quarantine_by_rule.items())[:5]]
        s.bullets(rx, y + 0.32, items, rw, size=SMALL)
    else:
        s.paragraph(rx, y + 0.32, f"silver/_quarantine holds {n(q.quarantined_rows)} rows: no row failed a drop "
                    f"rule; {q.rules_with_failures} rules flagged values that were cleaned in place.", rw, size=SMALL)
    return s


def headline_leakage(f: DeckFacts) -> str:
    lk = f.leakage
    if not lk.checks:
        return "No leakage guard has run on this datamart yet: build the gold layer to run them"
    failed = lk.checks - sum(1 for g in lk.guards + lk.aucs if g.passed)
    if failed:
        return f"{failed} of {lk.checks} leakage checks failed in this run; read the guard table before training"
    rk = f.ranking if f.graded else None
    if rk is not None and rk.alarms:
        a = rk.alarms[0]
        return (f"The {lk.checks} build checks passed, but the recommenders raise "
                f"{plural(len(rk.alarms), 'leakage alarm')} ({a['model']} {metric_name(a['metric'])} "
                f"{a['value']:.3f} > {a['ceiling']:g})")
    if rk is not None:
        return (f"All {lk.checks} leakage checks passed: no read past a cutoff, the replay matched, and no "
                f"recommender beat the ceiling")
    top = f", top single-feature AUC {lk.aucs[0].value:.3f} < {lk.auc_threshold:g}" if lk.aucs else ""
    return f"All {lk.checks} leakage checks passed: no read past a cutoff, the replay matched{top}"


def _guard_text(g: GuardFacts) -> str:
    return f"{n(g.value)} {g.detail}".replace("<=", "≤") if g.detail else n(g.value)


def slide_leakage(f: DeckFacts) -> Slide:
    s = Slide("Point in time and leakage", headline_leakage(f))
    lk = f.leakage
    rk = f.ranking if f.graded else None
    split = 5 if rk is not None else 6  # no AUC chart but a ceiling row: a wider guard table
    x, w = grid(0, split)
    axis_y = _timeline(s, f.label, x, w)
    s.bullets(x, axis_y + 1.15, _leakage_rules(lk, f.label, rk), w, size=SMALL, gap=0.1)
    rx, rw = grid(split, 12 - split)
    y = _guard_table(s, lk, rx, rw, rk)
    _auc_bars(s, lk, rx, rw, y)
    return s


def _timeline(s: Slide, label: LabelFacts | None, x: float, w: float) -> float:
    """Months D-5 .. D+mob on an axis: the features left of D, the label at D+mob joined
    back to its application month. Returns the y of the axis."""
    mob = label.lag_months if label else 0
    s.text(x, CONTENT_TOP, "How one training row is assembled", size=SMALL, color=GREY_DARK, weight="bold")
    months = list(range(-5, mob + 1))
    axis_y = CONTENT_TOP + 1.3
    x0, x1 = x + 0.25, x + w - 0.25
    step = (x1 - x0) / max(len(months) - 1, 1)
    s.rule(x0, x1, axis_y, color=GREY, width=1.2)
    for i, m in enumerate(months):
        mx = x0 + i * step
        s.line(mx, axis_y - 0.05, mx, axis_y + 0.05, color=GREY, width=1.0)
        s.text(mx, axis_y + 0.12, "D" if m == 0 else f"D{m:+d}", size=SMALL, color=NAVY if m == 0 else GREY_DARK,
               ha="center", weight="bold" if m == 0 else "normal")
    d_x = x0 + 5 * step
    s.box(x0 - 0.12, axis_y - 0.6, d_x - x0 + 0.24, 0.4, fill=NAVY_TINT, edge=NAVY_TINT)
    s.text(x0, axis_y - 0.52, "features: rows dated ≤ D", size=SMALL, color=NAVY, weight="bold")
    if label and label.windowed:  # the label is a window after D, not a point
        lx = x0 + (5 + mob) * step
        s.box(d_x + 0.08, axis_y - 0.6, lx - d_x - 0.08, 0.4, fill=ACCENT, edge=ACCENT)
        s.text(lx, axis_y - 0.85, f"label {label.label_def}: (D, D + {label.days} days]", size=SMALL, color=ACCENT,
               weight="bold", ha="right")
        s.text((x0 + lx) / 2, axis_y + 0.6, "the label window starts the day after D and is stored with the row",
               size=SMALL, color=GREY_DARK, ha="center")
    elif label:
        lx = x0 + (5 + mob) * step
        s.box(lx - 0.12, axis_y - 0.6, 0.24, 0.4, fill=ACCENT, edge=ACCENT)
        s.text(lx - 0.22, axis_y - 0.52, f"label {label.label_def}", size=SMALL, color=ACCENT, weight="bold",
               ha="right")
        s.arrow(lx, axis_y + 0.6, d_x, axis_y + 0.6, color=GREY_DARK, lw=1.2)
        s.text((lx + d_x) / 2, axis_y + 0.7, f"joined back {label.lag} to its {label.decision}", size=SMALL,
               color=GREY_DARK, ha="center")
    return axis_y


def _leakage_rules(lk: LeakageFacts, label: LabelFacts | None = None, rk: RankingFacts | None = None) -> list[str]:
    """The point-in-time rules in words: cutoff per source, replay and single-feature
    guards; for a graded label (kind interactions: no single-feature AUC), the ceiling of
    the recommenders' evaluation `rk` instead."""
    cuts = ", ".join(f"{src} {cut.replace('<=', '≤')} D" for src, (_, cut) in lk.cutoffs.items())
    items = [f"Cutoff per source (gold.sources): {cuts}." if cuts else "No gold sources declared.",
             "Each feature row records _asof_<source>, the latest source month it read; the cutoff guard "
             "re-checks them on every build."]
    if lk.replay_cut:
        items.append(f"Replay guard: gold up to {lk.replay_cut}, rebuilt from data cut at that month, must equal "
                     f"the full build.")
    if label is not None and label.kind == "interactions":
        ceiling = ceiling_text(rk) if rk is not None else "its ceiling"
        items.append(f"Recommender ceiling: a model above {ceiling} after the cut has seen the window: an alarm.")
    else:
        items.append(f"Single-feature guard: a feature that alone separates the label with AUC above "
                     f"{lk.auc_threshold:g} raises an alarm.")
    return items


def _guard_table(s: Slide, lk: LeakageFacts, rx: float, rw: float, rk: RankingFacts | None = None) -> float:
    """The guard results of the run, one row per guard, one for the AUC guard and, with the
    recommenders' evaluation `rk`, one for their ceiling; returns the y below."""
    s.text(rx, CONTENT_TOP, f"Guard results (_meta/leakage, run {lk.run_id or '–'})", size=SMALL, color=GREY_DARK,
           weight="bold")
    rows, colors = [], []
    for g in lk.guards:
        rows.append([g.guard, short_table(g.subject), _guard_text(g), "pass" if g.passed else "FAIL"])
        colors.append(None if g.passed else ACCENT)
    if lk.aucs:
        passed = sum(1 for g in lk.aucs if g.passed)
        rows.append(["AUC", plural(len(lk.aucs), "feature"), f"{passed} of {len(lk.aucs)} below {lk.auc_threshold:g}",
                     "pass" if passed == len(lk.aucs) else "ALARM"])
        colors.append(None if passed == len(lk.aucs) else ACCENT)
    if rk is not None:
        above = len({a["model"] for a in rk.alarms})
        rows.append(["ceiling", "recommenders", f"{above} of {len(rk.models)} above {ceiling_text(rk)} at cut {rk.cut}",
                     "ALARM" if rk.alarms else "pass"])
        colors.append(ACCENT if rk.alarms else None)
    subject = 1.2 if rk is None else 1.35
    y = s.table(rx, CONTENT_TOP + 0.35, [0.8, subject, rw - 1.35 - subject, 0.55], ["Guard", "Subject", "Result", ""], rows,
                row_colors=colors, aligns=["left", "left", "left", "right"], pad=0.07 if rk is None else 0.04)
    return y


def _auc_bars(s: Slide, lk: LeakageFacts, rx: float, rw: float, y: float) -> None:
    """The highest single-feature AUCs against the alarm threshold, below the guard table when room is left."""
    cy = y + 0.6
    fits = min(5, int((CONTENT_BOTTOM - cy) / 0.3))  # bars that fit at a readable height
    if lk.aucs and fits >= 2:
        top = lk.aucs[:fits]
        labels = [g.subject.split(":", 1)[-1] for g in top]
        lw = max(text_width(lab, SMALL) for lab in labels) + 0.15
        s.text(rx, y + 0.25, "Highest single-feature AUCs; dashed: alarm threshold", size=SMALL,
               color=GREY_DARK, weight="bold")
        h = 0.3 * len(top)
        ax = s.axes(rx + lw, cy, rw - lw - 0.1, h)
        ypos = list(range(len(top)))[::-1]
        ax.barh(ypos, [g.value - 0.5 for g in top], left=0.5, color=[NAVY if g.passed else ACCENT for g in top],
                height=0.62)
        ax.axvline(lk.auc_threshold, color=ACCENT, linestyle="--", linewidth=1.2)
        ax.set_yticks(ypos, labels)
        ax.set_xlim(0.5, max(lk.auc_threshold, top[0].value) + 0.04)
        ax.set_ylim(-0.5, len(top) - 0.5)
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(False)
        for yy, g in zip(ypos, top):
            ax.text(g.value + 0.006, yy, f"{g.value:.3f}", va="center", fontsize=SMALL, color=INK)
        ax.text(lk.auc_threshold - 0.006, 0, f"{lk.auc_threshold:g}", ha="right", va="center", fontsize=SMALL,
                color=ACCENT)


def headline_features(f: DeckFacts) -> str:
    ft = f.features
    windows = sum(v for (src, kind), v in ft.by_source_kind.items() if kind not in ("as of D", "derived"))
    where = sorted({src for (src, kind) in ft.by_source_kind if kind not in ("as of D", "derived")})
    asof = ft.by_kind.get("as of D", 0)
    over = f" over {' and '.join(where)} history" if where else ""
    decision = f.label.decision if f.label else "application"
    derived = ft.by_kind.get("derived", 0)
    if len(where) > 2:  # event domains: name the count of sources, not each
        over = f" over {len(where)} event sources"
    plus = f", {derived} derived" if derived else ""
    return (f"{ft.total} features per {decision}: {asof} read as of the month, {windows} window aggregates"
            f"{over}{plus}, all point in time")


KIND_NAMES = {"as of D": "value as of D", "last": "latest month ≤ D", "mean": "mean over a window",
              "slope": "slope over a window", "months": "months of history", "count": "count over days",
              "sum": "sum over days", "share": "share of events", "distinct": "distinct values",
              "recency": "days since the last", "min": "minimum over days", "max": "maximum over days",
              "derived": "from other features"}
#: bar colours of the kinds, in order (the blues first, then greys and ochres)
KIND_SHADES = [NAVY, "#3E5580", "#7486A8", "#A9B5CB", GREY, "#8C6D1F", "#C9A227", "#E3CF8C", "#5B6B5A", "#9DB09B"]


def slide_features(f: DeckFacts) -> Slide:
    ft = f.features
    s = Slide("Features", headline_features(f))
    x, w = grid(0, 4)
    s.text(x, CONTENT_TOP, "Features by source and kind", size=SMALL, color=GREY_DARK, weight="bold")
    sources = list(ft.by_source)
    kinds = list(ft.by_kind)
    shades = {k: KIND_SHADES[i % len(KIND_SHADES)] for i, k in enumerate(kinds)}
    if sources:
        ax = s.axes(x + 1.25, CONTENT_TOP + 0.45, w - 1.35, 0.55 * len(sources))
        ypos = list(range(len(sources)))[::-1]
        lefts = [0] * len(sources)
        for k in kinds:
            vals = [ft.by_source_kind.get((src, k), 0) for src in sources]
            ax.barh(ypos, vals, left=lefts, color=shades[k], height=0.6, edgecolor="white", linewidth=1)
            lefts = [a + b for a, b in zip(lefts, vals)]
        for yy, total in zip(ypos, lefts):
            ax.text(total + max(lefts) * 0.02, yy, str(total), va="center", fontsize=SMALL, color=INK, weight="bold")
        ax.set_yticks(ypos, sources)
        ax.set_xticks([])
        ax.set_xlim(0, max(lefts) * 1.15)
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(False)
        ky = CONTENT_TOP + 0.45 + 0.55 * len(sources) + 0.25
        ncol = 1 if len(kinds) <= 5 else 2  # many kinds (event domains): the legend in two columns
        rows_per_col = -(-len(kinds) // ncol)
        for i, k in enumerate(kinds):
            kx, kyy = x + (i // rows_per_col) * (w / ncol), ky + (i % rows_per_col) * 0.3
            s.box(kx, kyy + 0.03, 0.16, 0.16, fill=shades[k], edge=shades[k], radius=0.02)
            label = KIND_NAMES.get(k, k) if ncol == 1 else k
            s.text(kx + 0.25, kyy, f"{label}: {ft.by_kind[k]}", size=SMALL, color=INK)
        ky += rows_per_col * 0.3
        store = (f"gold/feature_store: {n(ft.rows)} rows in {ft.months} months, {ft.store_columns} columns = "
                 f"{ft.total} features + {len(ft.indicator_columns)} has_<source> + {len(ft.asof_columns)} "
                 f"_asof_<source> + {ft.store_columns - ft.total - len(ft.indicator_columns) - len(ft.asof_columns)} keys.")
        if ft.missing_in_store:
            store += f" Missing from the store: {', '.join(ft.missing_in_store)}."
        if ky + 0.2 + 0.75 <= CONTENT_BOTTOM:  # three lines fit above the footer
            ky = s.paragraph(x, ky + 0.2, store, w, size=SMALL, color=GREY_DARK)
        others = "Also declared: " + "; ".join(f"gold/{name}, {k} features" for name, k in ft.entity_tables.items()) + "."
        if ft.entity_tables and ky + 0.15 + len(wrap(others, w, SMALL)) * line_height(SMALL) <= CONTENT_BOTTOM:
            s.paragraph(x, ky + 0.15, others, w, size=SMALL, color=GREY_DARK)
    rx, rw = grid(4, 8)
    s.text(rx, CONTENT_TOP, "One example of each kind (declared in the YAML, no code)", size=SMALL, color=GREY_DARK,
           weight="bold")
    rows = [[name, src, KIND_NAMES.get(kind, kind), desc] for name, src, kind, desc in ft.examples]
    s.table(rx, CONTENT_TOP + 0.35, [2.0, 1.15, 1.85, rw - 5.0], ["Feature", "Source", "Kind", "Description"], rows)
    return s
