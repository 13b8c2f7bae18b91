"""Slides 8 to 10, what it gives and how to rerun it: the sanity model (for a label of
kind interactions, the recommenders of :mod:`slides_ranking`), how to run (commands and
provenance), and the limits measured on the run with the next steps."""

from __future__ import annotations

import re

from .facts import FEATURE_STORE, DeckFacts
from .format import month_of, month_span, n, pct, portable_path
from .slide import Slide, table_height
from .slides_ranking import headline_ranking, slide_ranking
from .style import (
    BODY,
    CONTENT_BOTTOM,
    CONTENT_TOP,
    CONTENT_W,
    GREY_DARK,
    GREY_FAINT,
    INK,
    MONO,
    NAVY,
    SMALL,
    grid,
    line_height,
    text_width,
)


def _model_name(name: str) -> str:
    return name.replace("_", " ")


def headline_model(f: DeckFacts) -> str:
    if f.graded:
        return headline_ranking(f)
    m = f.model
    if m is None:
        return "No sanity model has been trained on this datamart yet; one command trains and scores it"
    best = m.models[m.best_model]
    unit = f.label.unit if f.label else "loan"
    return (f"The sanity model ({_model_name(m.best_model)}) scores AUC {best['auc']:.3f} on {len(m.test_months)} "
            f"held-out months ({month_span(m.test_months)}, {n(m.test_rows)} {unit}s)")


def slide_model(f: DeckFacts) -> Slide:
    if f.graded:
        return slide_ranking(f)
    m = f.model
    s = Slide("Sanity model, out of time", headline_model(f))
    x, w = grid(0, 7)
    if m is None:
        s.text(x, CONTENT_TOP, "Train it", size=SMALL, color=GREY_DARK, weight="bold")
        s.box(x, CONTENT_TOP + 0.35, CONTENT_W, 0.6, fill=GREY_FAINT, edge=GREY_FAINT)
        s.text(x + 0.2, CONTENT_TOP + 0.5, f.model_hint, size=BODY, family=MONO, color=INK)
        s.bullets(x, CONTENT_TOP + 1.3, [
            "fits a logistic regression, a random forest and a gradient-boosted tree on the training set from gold (labels joined "
            "to the features of their application month);",
            "holds out the latest labelled application months as the test set (out of time);",
            "writes metrics.json, the model, a ROC plot and the table versions under _models/<label_def>/<time>/; "
            "rerun python\u00a0-m\u00a0utils.present.deck to put its numbers on this slide.",
        ], CONTENT_W, size=BODY)
        return s
    s.text(x, CONTENT_TOP, "Test metrics on the held-out months", size=SMALL, color=GREY_DARK, weight="bold")
    rows = []
    for name, r in sorted(m.models.items(), key=lambda kv: -kv[1]["auc"]):
        rows.append([_model_name(name) + (" (best)" if name == m.best_model else ""), f"{r['auc']:.3f}",
                     f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}", f"{r['train_auc']:.3f}"])
    if m.baseline:
        b = m.baseline
        rows.append([f"baseline: {m.baseline_feature} alone", f"{b['auc']:.3f}", f"{b['precision']:.3f}",
                     f"{b['recall']:.3f}", f"{b['f1']:.3f}", f"{b['train_auc']:.3f}"])
    y = s.table(x, CONTENT_TOP + 0.35, [w - 4.45, 0.8, 1.0, 0.85, 0.75, 1.05],
                ["Model", "AUC", "Precision", "Recall", "F1", "Train AUC"], rows,
                aligns=["left", "right", "right", "right", "right", "right"])
    unit, decision = (f.label.unit, f.label.decision) if f.label else ("loan", "application")
    items = [
        f"Train: {len(m.train_months)} {'month ends' if decision == 'month end' else decision + ' months'}, "
        f"{month_span(m.train_months)}, {n(m.train_rows)} {unit}s, "
        f"positive rate {pct(m.train_positive_rate)}.",
        f"Test: the latest {m.holdout_months} labelled months, {month_span(m.test_months)}, {n(m.test_rows)} {unit}s, "
        f"positive rate {pct(m.test_positive_rate)}.",
        f"{m.n_features} features from gold/feature_store v{m.table_versions.get('feature_store', '–')}, labels from "
        f"gold/label_store v{m.table_versions.get('label_store', '–')}"
        + ("; the same versions this run left." if m.matches_run else
           "; this run left newer versions: retrain with " + f.model_hint + "."),
    ]
    s.bullets(x, y + 0.35, items, w, size=SMALL)
    rx, rw = grid(7, 5)
    s.text(rx, CONTENT_TOP, f"Top features of the {_model_name(m.best_model)}", size=SMALL, color=GREY_DARK,
           weight="bold")
    s.text(rx, CONTENT_TOP + 0.28, "permutation importance: drop of test AUC", size=SMALL, color=GREY_DARK)
    top = list(m.top_features[:8])
    if top:
        lw = max(text_width(name, SMALL) for name, _ in top) + 0.15
        ax = s.axes(rx + lw, CONTENT_TOP + 0.7, rw - lw - 0.6, 0.38 * len(top))
        ypos = list(range(len(top)))[::-1]
        ax.barh(ypos, [v for _, v in top], color=NAVY, height=0.6)
        ax.set_yticks(ypos, [name for name, _ in top])
        ax.set_xticks([])
        ax.spines["bottom"].set_visible(False)
        ax.spines["left"].set_visible(False)
        peak = max(v for _, v in top)
        ax.set_xlim(0, peak * 1.3)
        for yy, (_, v) in zip(ypos, top):
            ax.text(v + peak * 0.02, yy, f"{v:.3f}", va="center", fontsize=SMALL, color=INK)
    return s


def headline_run(f: DeckFacts) -> str:
    return (f"Four commands rebuild everything from the raw files; this run wrote "
            f"{sum(1 for o in f.run.outputs if o.get('status') == 'written')} tables in {n(f.run.seconds)} s")


def run_commands(f: DeckFacts) -> list[tuple[str, str]]:
    """(comment, command) of the how-to-run slide, with this run's paths in two shell
    variables; the first entries set them (relative to the project, or "…/<folder>")."""
    label = f.label.label_def if f.label else (f.model.label_def if f.model else "")
    domain = f.run.domain or "loan_default"
    train = f"python -m utils.ml.train --domain {domain} --datamart $DM" + (f" --label-def {label}" if label else "")
    what = "train the out-of-time models"
    if f.graded:
        train, what = f"python main.py train --domain {domain} --datamart $DM", "evaluate the recommenders (a build does too)"
    return [
        ("where the raw files are, where the tables go", f"DATA={portable_path(f.run.data_root) or 'data'}"),
        ("", f"DM={portable_path(f.datamart)}"),
        ("build every layer (skips unchanged inputs)", f"python main.py --domain {domain} --data-root $DATA --datamart $DM"),
        ("profile the run and write the quality report", f"python main.py report --domain {domain} --datamart $DM"),
        (what, train),
        ("render this deck from the latest run", f"python main.py deck --domain {domain} --datamart $DM"),
    ]


def shell_lines(cmd: str, width: float, size: float) -> list[str]:
    """`cmd` as shell lines that fit `width`: broken before an option with " \\", and a
    word still too long broken anywhere with a bare "\\" (the shell joins both)."""
    parts = re.split(r" (?=--)", cmd)
    lines, line = [], parts[0]
    for part in parts[1:]:
        if text_width(f"{line} {part} \\", size, family=MONO) > width:
            lines.append(line + " \\")
            line = "    " + part
        else:
            line = f"{line} {part}"
    lines.append(line)
    out = []
    for line in lines:
        while text_width(line, size, family=MONO) > width:
            cut = len(line) - 1
            while cut > 1 and text_width(line[:cut] + "\\", size, family=MONO) > width:
                cut -= 1
            out.append(line[:cut] + "\\")
            line = line[cut:]
        out.append(line)
    return out


def run_options_text(f: DeckFacts) -> str:
    """The options of the run that differ from the defaults, as command-line flags."""
    flags = []
    for key, value in sorted(f.run.options.items()):
        if key in ("config_file", "data_root", "datamart") or value in (None, False, [], ""):
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        else:
            flags.append(f"{flag} {','.join(map(str, value)) if isinstance(value, (list, tuple)) else value}")
    if set(f.run.layers) != {"bronze", "silver", "gold"}:
        flags.append("--layers " + ",".join(f.run.layers))
    if not flags:
        return "This run used the defaults: every layer, every source, every snapshot date, no full refresh."
    return "This run was started with " + " ".join(flags) + "."


def slide_run(f: DeckFacts) -> Slide:
    s = Slide("How to run", headline_run(f))
    x, w = grid(0, 7)
    s.text(x, CONTENT_TOP, "From a fresh clone: pip install -r requirements.txt, then", size=SMALL, color=GREY_DARK,
           weight="bold")
    y = CONTENT_TOP + 0.38
    cmds = run_commands(f)
    block_lines = []
    for comment, cmd in cmds:
        if comment:
            block_lines.append(("# " + comment, GREY_DARK))
        block_lines += [(line, INK) for line in shell_lines(cmd, w - 0.4, SMALL)]
    lh = line_height(SMALL, MONO)
    h = len(block_lines) * lh + 0.3 + 0.12 * (sum(1 for c, _ in cmds if c) - 1)
    s.box(x, y, w, h, fill=GREY_FAINT, edge=GREY_FAINT)
    ly = y + 0.15
    for text, color in block_lines:
        if text.startswith("# ") and ly > y + 0.2:
            ly += 0.12
        s.text(x + 0.2, ly, text, size=SMALL, family=MONO, color=color)
        ly += lh
    s.paragraph(x, y + h + 0.2, run_options_text(f), w, size=SMALL, color=GREY_DARK)
    rx, rw = grid(7, 5)
    s.text(rx, CONTENT_TOP, "Provenance of this run (run record)", size=SMALL, color=GREY_DARK, weight="bold")
    started = f.run.started_at.strftime("%Y-%m-%d %H:%M:%S UTC") if f.run.started_at else "–"
    duration = f"{f.run.seconds:.1f}\u00a0s" if f.run.seconds is not None else "–"
    rows = [["run id", f.run.run_id], ["status, duration", f"{f.run.status}, {duration}"], ["started", started],
            ["layers", ", ".join(f.run.layers)], ["code version", f.run.code_version],
            ["config", f"{f.config_file}, hash {f.run.config_hash}"
             + ("" if f.config_matches_run else " (run's config no longer found)")],
            ["runs in the ledger", f"{f.run.runs_in_ledger}, {f.run.successful_runs} successful up to this one"]]
    files = [[src.file, f"sha256 {src.sha256[:12]}…" if src.files == 1 else f"{src.files} files, each with its sha256"]
             for src in f.sources if src.sha256 or src.files > 1]
    if table_height([2.3, rw - 2.3], ["Item", "Value"], rows + files, pad=0.05) > CONTENT_BOTTOM - CONTENT_TOP - 0.35:
        # more inputs than the slide holds: one row for them all
        files = [["inputs", f"{sum(src.files for src in f.sources)} files of {len(f.sources)} sources, each with its "
                            "sha256 in the run record"]]
    s.table(rx, CONTENT_TOP + 0.35, [2.3, rw - 2.3], ["Item", "Value"], rows + files, pad=0.05)
    return s


def limits(f: DeckFacts) -> list[str]:
    """The limits slide's items, each with its number from the facts."""
    out = []
    ft = f.features
    for src, missing in ft.rows_without.items():
        if missing:
            out.append(f"{n(missing)} of {n(ft.rows)} feature rows ({pct(missing / ft.rows if ft.rows else 0)}) have "
                       f"no {src} history up to their month (has_{src} = 0); those features are null there.")
    if f.missing:
        worst = f.missing[0]
        same = sum(1 for m in f.missing if m.nulls == worst.nulls)
        out.append(f"{worst.column}{f' and {same - 1} more columns' if same > 1 else ''} are null in "
                   f"{pct(worst.share)} of feature rows (profile of this run): windows need enough history.")
    nulled = f.quality.failed_by_action.get("nulled", 0)
    if nulled:
        out.append(f"Cleaning nulled {n(nulled)} unusable raw values; the rows stay, marked in <column>_invalid "
                   f"flags, and models must cope with the gaps.")
    label = f.label
    if f.graded:
        out += _ranking_limits(f)
    elif label and ft.rows:
        unlabelled = ft.rows - label.total
        if unlabelled > 0 and label.kind == "no_event":
            out.append(f"{n(unlabelled)} feature rows have no label yet: their {label.days}-day window ends after "
                       f"the data (censored, not guessed).")
        elif unlabelled > 0:
            out.append(f"{n(unlabelled)} applications have no label yet: they reach month {label.mob} on book after "
                       f"the last loan snapshot.")
        else:
            out.append(f"Labels lag {label.lag}: the newest {label.decision}s ({label.application_months[-1]}) got "
                       f"their labels in {label.label_months[-1]}; newer ones must wait.")
    if f.statistics:
        st = f.statistics[0]
        out.append(f"Outlier bounds of {len(f.statistics)} columns were fitted once on {month_of(st.window_start)} to "
                   f"{month_of(st.window_end)} (fit_version {st.fit_version}); a refit is a config change, not automatic.")
    if f.model:
        best = f.model.models[f.model.best_model]
        if best["train_auc"] - best["auc"] > 0:
            out.append(f"The {_model_name(f.model.best_model)} scores train AUC {best['train_auc']:.3f} against test "
                       f"{best['auc']:.3f}: a sanity check, not a tuned model.")
    return out


def _months_between(first: str, last: str) -> int:
    """Months from `first` to `last` ("2024-11", "2024-12" -> 1)."""
    (y0, m0), (y1, m1) = (map(int, first.split("-")), map(int, last.split("-")))
    return (y1 - y0) * 12 + m1 - m0


def _ranking_limits(f: DeckFacts) -> list[str]:
    """The limits of a graded label and its recommenders, each with its number."""
    label, rk, out = f.label, f.ranking, []
    store = f.table(FEATURE_STORE)
    last = month_of(store.last_partition) if store else None
    newest = label.application_months[-1] if label.application_months else None
    if last and newest and last > newest:
        months = (f"The month end {last} has" if _months_between(newest, last) == 1 else
                  f"The month ends after {newest} (up to {last}) have")
        out.append(f"{months} no labels yet: the {label.days}-day window ends after the data (censored, not "
                   "guessed).")
    if rk is None:
        out.append(f"No recommender has been evaluated yet: {f.model_hint}.")
        return out
    if rk.population:
        out.append(f"Only {n(rk.users.get('all'))} of the {n(rk.population)} users registered at the cut "
                   f"({pct(rk.users.get('all', 0) / rk.population)}) touched a {label.item} in the {label.days} days "
                   "after it; the others cannot be judged offline.")
    out.append(f"One cut ({rk.cut}), one window of truth, untuned parameters: the order of "
               f"{rk.best.name} and the runner-up ({rk.models[1].name if len(rk.models) > 1 else '–'}) may change "
               "with the cut.")
    if rk.users.get("cold"):
        out.append(f"{n(rk.users['cold'])} evaluated users are cold (no event up to the cut): every model gives "
                   "them the popularity list.")
    return out


NEXT_STEPS = (
    "Incremental builds across sources: a month new in every file still re-checks whole the tables "
    "whose rules read a changed table, and gold.",
    "Tracking and a registry (MLflow) for every training run, with the Delta versions it read.",
    "Serving: an online store and an API from the same as-of function as training (latest_features).",
    "Monitoring: drift per feature and month (PSI, KS), realised accuracy as labels mature, alerts.",
    "Orchestration: one Dagster asset per table and domain, schedules for the collectors.",
    "More domains on the same engine: recommendation and energy, each a YAML file in conf/.",
)


#: the next steps of a domain whose label is graded (recommenders)
NEXT_STEPS_RANKING = (
    "Several cuts (a rolling origin) instead of one, with the spread of every metric per model.",
    "Tune each recommender (ALS rank and regularisation, co-occurrence half-life) on a validation cut before "
    "the test cut.",
    "Cold users: a better fallback than one popularity list (by country, or by the first session's category).",
    "Serving: top_k() behind the API, from the same events and similarity as the evaluation.",
    "Monitoring: coverage, popularity bias and realised clicks as the label windows close.",
)


def next_steps(f: DeckFacts) -> tuple[str, ...]:
    """The next steps of the deck's domain: recommenders for a graded label, else the classifier's."""
    return NEXT_STEPS_RANKING if f.graded else NEXT_STEPS


def headline_limits(f: DeckFacts) -> str:
    ft = f.features
    gaps = sorted(ft.rows_without.items(), key=lambda kv: -kv[1])
    nulled = f.quality.failed_by_action.get("nulled", 0)
    nxt = "more cuts, tuning and serving" if f.graded else "tracking, serving and monitoring"
    rk = f.ranking if f.graded else None
    if rk is not None and rk.population:
        unjudged = 1 - rk.users.get("all", 0) / rk.population
        return f"Limits: one cut, and {pct(unjudged)} of the users at it have nothing to judge; next: {nxt}"
    if gaps and gaps[0][1]:
        return (f"Limits: {n(gaps[0][1])} feature rows lack {gaps[0][0]} history, {n(nulled)} raw values were "
                f"nulled; next: {nxt}")
    return f"Limits: {n(nulled)} raw values were nulled in cleaning; next: {nxt}"


def slide_limits(f: DeckFacts) -> Slide:
    s = Slide("Limits and next steps", headline_limits(f))
    x, w = grid(0, 7)
    s.text(x, CONTENT_TOP, "Limits, measured on this run", size=SMALL, color=GREY_DARK, weight="bold")
    s.bullets(x, CONTENT_TOP + 0.35, limits(f), w, size=SMALL, gap=0.16)
    rx, rw = grid(8, 4)
    s.text(rx, CONTENT_TOP, "Next steps", size=SMALL, color=GREY_DARK, weight="bold")
    s.bullets(rx, CONTENT_TOP + 0.35, next_steps(f), rw, size=SMALL, gap=0.16, marker_color=NAVY)
    return s
