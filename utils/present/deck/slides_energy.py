"""The energy domain's deck: eight 16:9 slides on the zones, the trusted zone's rules and
accounting, the exploitation zone (counter resets, gaps, clock changes), the entity
resolution, and the two analysis pipelines, each a ``headline_*`` (its takeaway, a
sentence of facts) and a ``slide_*`` (the drawing) over :class:`EnergyFacts` alone::

    python main.py deck --domain energy [--datamart DIR] [--out deck/energy_deck.pdf]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from utils.lake.paths import PROJECT_ROOT

from .energy_facts import GOLD_TABLES, ZONES, EnergyFacts
from .format import n, pct, plural, portable_path
from .slide import Slide, add_footer
from .style import (
    ACCENT,
    BODY,
    CONTENT_BOTTOM,
    CONTENT_TOP,
    GREY,
    GREY_DARK,
    GUTTER,
    INK,
    MONO,
    NAVY,
    NAVY_TINT,
    SMALL,
    grid,
)

logger = logging.getLogger(__name__)

DEFAULT_OUT = PROJECT_ROOT / "deck" / "energy_deck.pdf"
RULE_TEXT = {
    "one_value_per_reading": "denial: same device and instant, different value (both out)",
    "unique_reading": "the same reading delivered twice",
    "counter_reset": "the counter falls below half its previous value",
    "no_negative_consumption": "a fall that is not a reset",
    "stuck_counter": "the counter equals its value 8 hours before",
    "reading_gap": "more than an hour since the previous reading",
    "dst_repeated_hour": "the autumn hour read twice (file order decides)",
    "positive_floor_area": "floor area is positive",
    "built_before_recorded": "built no later than the registry's edit",
    "one_temperature_per_city_day": "denial: one temperature per city and day",
    "temperature_in_fahrenheit": "a feed far above the coldest city is °F",
    "removed_after_installed": "a device is removed after it is installed",
}


def rule_text(rule: str, kind: str) -> str:
    """What a rule says, in a few words."""
    if rule in RULE_TEXT:
        return RULE_TEXT[rule]
    return "one row per key (repeats out)" if rule.startswith("unique_") else kind


def num(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _image(s: Slide, path: Path | None, x: float, y: float, w: float, h: float, missing: str) -> None:
    """The PNG at `path` fitted into the box (x, y, w, h), or a line saying it is missing."""
    if path is None:
        s.paragraph(x, y, missing, w, size=SMALL, color=GREY_DARK)
        return
    from matplotlib.image import imread

    ax = s.axes(x, y, w, h)
    ax.imshow(imread(str(path)))
    ax.set_axis_off()


# --------------------------------------------------------------------------- 1. title


def headline_title(f: EnergyFacts) -> str:
    fc = f.forecast
    tail = (f"; next-day MAE {num(fc['model']['mae'])} kWh (issued at 00:00), seasonal naive "
            f"{num(fc['baseline_seasonal_naive']['mae'])}" if fc else "")
    return f"{n(f.rows('bronze'))} raw rows of {n(f.buildings)} buildings' heat meters{tail}"


def slide_title(f: EnergyFacts) -> Slide:
    s = Slide(f"Energy · {Path(f.run.data_root).name or 'data'}", headline_title(f))
    x, w = grid(0, 7)
    s.text(x, CONTENT_TOP, "The problem", size=SMALL, color=GREY_DARK, weight="bold")
    y = s.paragraph(x, CONTENT_TOP + 0.3, "An energy company predicts the heat consumption of its customers' "
                    "buildings from the hourly readings of their heat meters, the weather of their cities, "
                    "a public-holiday calendar and its building registry.", w) + 0.3
    s.text(x, y, "What this deck shows", size=SMALL, color=GREY_DARK, weight="bold")
    c = f.consumption
    s.bullets(x, y + 0.32, [
        f"{len(f.landing)} sources landed as received ({n(sum(f.landing.values()))} files and API pages), "
        "then formatted, trusted and exploited.",
        f"{len(shown_rules(f))} named rules in the trusted zone; {n(f.quality.balanced_partitions)} of "
        f"{n(f.quality.partitions)} daily partitions balance bronze = silver + quarantine.",
        f"{n(c.get('device_days'))} device-days with {plural(c.get('counter_resets_handled') or 0, 'counter reset')} "
        f"and {plural(c.get('gap_days') or 0, 'gap day')} handled; {n(f.devices)} devices resolved to buildings.",
        "Two pipelines on the exploitation zone only: a next-day forecast and load-profile clusters.",
    ], w, size=BODY)
    tx, tw = grid(8, 4)
    half = (tw - GUTTER) / 2
    fc, pr = f.forecast, f.profiles
    er = f.resolution()
    tiles = [(n(f.buildings), "buildings in gold/energy/building_days"),
             (num(fc["model"]["mape"]) + "\u00a0%" if fc else "–", "next-day MAPE (seasonal naive "
              + (num(fc["baseline_seasonal_naive"]["mape"]) + " %)" if fc else "–)")),
             (num(er.get("precision"), 2) if er else "–", "entity-resolution precision"),
             (f"k = {pr['k']}" if pr else "–", f"load profiles, silhouette {num(pr['silhouette'], 3)}" if pr else
              "load profiles not run")]
    for i, (value, text) in enumerate(tiles):
        s.tile(tx + (i % 2) * (half + GUTTER), CONTENT_TOP + (i // 2) * 1.75, half, value, text,
               color=ACCENT if i == 1 else NAVY)
    return s


# --------------------------------------------------------------------------- 2. zones


def headline_zones(f: EnergyFacts) -> str:
    return (f"Four zones: {n(f.rows('bronze'))} formatted rows, {n(f.rows('silver'))} trusted, "
            f"{n(f.quality.quarantined_rows)} quarantined, {n(f.rows('gold'))} in the exploitation zone")


def slide_zones(f: EnergyFacts) -> Slide:
    s = Slide("Zones: landing → formatted → trusted → exploitation", headline_zones(f))
    x0, _ = grid(0, 12)
    w = (grid(0, 12)[1] - 3 * GUTTER) / 4
    layers = ("landing", "bronze", "silver", "gold")
    for i, layer in enumerate(layers):
        x = x0 + i * (w + GUTTER)
        s.box(x, CONTENT_TOP, w, 0.75, fill=NAVY_TINT, edge=NAVY)
        s.text(x + 0.12, CONTENT_TOP + 0.1, f"{ZONES[layer]} zone", size=BODY, color=NAVY, weight="bold")
        s.text(x + 0.12, CONTENT_TOP + 0.42, f"{layer}/energy/", size=SMALL, color=GREY_DARK, family=MONO)
        if i:
            s.arrow(x - GUTTER + 0.02, CONTENT_TOP + 0.37, x - 0.02, CONTENT_TOP + 0.37)
        y = CONTENT_TOP + 0.95
        if layer == "landing":
            rows = [[src, n(k)] for src, k in sorted(f.landing.items())]
            head = ["source", "deliveries"]
        else:
            rows = [[t.name, n(t.rows)] for t in f.tables if t.layer == layer]
            head = ["table", "rows"]
        s.table(x, y, [w * 0.62, w * 0.38], head, rows, aligns=["left", "right"])
    s.paragraph(x0, CONTENT_BOTTOM - 0.55, "Formatted: every record, every field as text, with lineage. Trusted: "
                "typed, local times in UTC, named rules, quarantine. Exploitation: daily tables for the pipelines. "
                "Every table is Delta, partitioned by the local day (building_matches: unpartitioned).",
                grid(0, 12)[1], size=SMALL, color=GREY_DARK)
    return s


# --------------------------------------------------------------------------- 3. trusted zone


def shown_rules(f: EnergyFacts) -> list:
    """The domain's named rules (kind rule, denial constraints among them) and every other
    check that failed rows, by table then most failures first."""
    rules = [r for r in f.quality.rules if r.kind == "rule" or r.failed > 0]
    return sorted(rules, key=lambda r: (r.table, -r.failed, r.rule))


def headline_quality(f: EnergyFacts) -> str:
    q = f.quality
    return (f"{q.rules_with_failures} of {len(q.rules)} checks fired on {n(q.checks_flagged)} rows; "
            f"{n(q.quarantined_rows)} quarantined, and all {n(q.balanced_partitions)} partitions balance"
            if q.balanced_partitions == q.partitions else
            f"{n(q.partitions - q.balanced_partitions)} of {n(q.partitions)} partitions do not balance")


def slide_quality(f: EnergyFacts) -> Slide:
    s = Slide("Trusted zone: named rules and denial constraints", headline_quality(f))
    x, w = grid(0, 8)
    rows = [[r.table.split("/", 1)[-1], r.rule, rule_text(r.rule, r.kind), r.severity, n(r.failed)]
            for r in shown_rules(f)]
    y = s.table(x, CONTENT_TOP, [w * 0.13, w * 0.3, w * 0.4, w * 0.08, w * 0.09],
                ["table", "rule", "the constraint", "action", "rows"], rows, aligns=["left"] * 4 + ["right"], size=9,
                pad=0.04)
    rest = len(f.quality.rules) - len(rows)
    if rest > 0:
        s.paragraph(x, y + 0.08, f"{rest} more checks (column types, formats, keys) failed no row.", w, size=9,
                    color=GREY_DARK)
    tx, tw = grid(9, 3)
    q = f.quality
    y = s.tile(tx, CONTENT_TOP, tw, n(q.bronze_rows), "rows in the formatted zone (bronze)")
    y = s.tile(tx, y + 0.25, tw, n(q.silver_rows), f"trusted (silver) + {n(q.accounted_quarantine)} quarantined")
    s.tile(tx, y + 0.25, tw, f"{n(q.balanced_partitions)}/{n(q.partitions)}", "daily partitions balance "
           "(_meta/accounting)", color=ACCENT)
    return s


# --------------------------------------------------------------------------- 4. exploitation


def headline_exploitation(f: EnergyFacts) -> str:
    c = f.consumption
    share = (c.get("complete_days") or 0) / c["device_days"] if c.get("device_days") else None
    return (f"{n(c.get('device_days'))} device-days, {pct(share)} complete: resets counted from zero, "
            "gaps kept apart, 23- and 25-hour days expected")


def slide_exploitation(f: EnergyFacts) -> Slide:
    s = Slide("Exploitation zone: from counters to daily heat use", headline_exploitation(f))
    x, w = grid(0, 7)
    c = f.consumption
    s.bullets(x, CONTENT_TOP, [
        f"Counter resets: {n(f.rule('readings', 'counter_reset'))} flagged in the trusted zone, "
        f"{n(c.get('counter_resets_handled'))} handled (the step after a reset counts from zero).",
        f"Gaps: {n(f.rule('readings', 'reading_gap'))} flagged; {n(c.get('gap_days'))} days hold "
        f"{n(c.get('gap_hours'))} unread hours; the step across a gap is kept in gap_kwh, not spread.",
        f"Stuck counters: {n(f.rule('readings', 'stuck_counter'))} readings; {n(c.get('stuck_days'))} days "
        f"with {n(c.get('stuck_hours'))} stuck hours.",
        f"Clock changes: local times in Europe/Paris become UTC; {n(f.rule('readings', 'dst_repeated_hour'))} "
        "readings of the repeated autumn hour resolved by file order; a day expects 23, 24 or 25 hours.",
        f"{n(c.get('negative_steps'))} negative steps remain after resets.",
    ], w, size=BODY)
    tx, tw = grid(8, 4)
    rows = []
    for name in GOLD_TABLES:
        t = f.table("gold", name)
        rows.append([name, n(t.rows) if t else "–", f"{t.first} .. {t.last}" if t and t.first else "–"])
    s.table(tx, CONTENT_TOP, [tw * 0.38, tw * 0.22, tw * 0.4], ["gold table", "rows", "days"], rows,
            aligns=["left", "right", "left"])
    s.tile(tx, CONTENT_TOP + 2.0, tw, n(c.get("complete_days")), "complete device-days: every hour read, every "
           "step known; only these train and score the forecast", color=ACCENT)
    return s


# --------------------------------------------------------------------------- 5. entity resolution


def headline_matching(f: EnergyFacts) -> str:
    d = f.matching.get("best_by_decision", {})
    er = f.resolution()
    tail = (f"; precision {num(er['precision'], 2)}, recall {num(er['recall'], 3)} against the sample's truth"
            if er else "")
    return (f"{n(d.get('match', 0))} of {n(f.devices)} devices matched to a registry building, "
            f"{n(d.get('review', 0))} sent to review{tail}")


def slide_matching(f: EnergyFacts) -> Slide:
    s = Slide("Entity resolution: which building each meter is in", headline_matching(f))
    x, w = grid(0, 6)
    t = f.table("gold", "building_matches")
    s.bullets(x, CONTENT_TOP, [
        "Normalise addresses: case, accents, abbreviations (R., Av., Bd, St-) spelt out, punctuation.",
        f"Block on postcode and city: {n(t.rows if t else None)} candidate pairs scored, not every device x building.",
        "Score = 0.6 × street similarity (1 − Levenshtein / length) + 0.25 × same number + 0.15 × "
        "the installer's building reference.",
        "Named rules decide: match, review band (renamed street, reference only), non-match; every pair "
        "is kept with its score and rule in gold/energy/building_matches.",
    ], w, size=BODY)
    tx, tw = grid(7, 5)
    rules = f.matching.get("best_by_rule", {})
    decision = {"address": "match", "ref_and_number": "match", "number_only": "review", "ref_only": "review",
                "different_address": "non-match"}
    rows = [[rule, decision.get(rule, "–"), n(k)] for rule, k in sorted(rules.items(), key=lambda kv: -kv[1])]
    y = s.table(tx, CONTENT_TOP, [tw * 0.45, tw * 0.3, tw * 0.25], ["best pair's rule", "decision", "devices"], rows,
                aligns=["left", "left", "right"])
    er, both = f.resolution(), f.resolution("matches_and_reviews")
    if er:
        half = (tw - GUTTER) / 2
        s.tile(tx, y + 0.3, half, num(er.get("precision"), 2), "precision of the matches")
        s.tile(tx + half + GUTTER, y + 0.3, half, num(er.get("recall"), 3), "recall (reviews not counted)",
               color=ACCENT)
        if both:
            s.paragraph(tx, y + 1.75, f"With the reviews confirmed: precision {num(both.get('precision'), 2)}, "
                        f"recall {num(both.get('recall'), 3)}.", tw, size=SMALL, color=GREY_DARK)
    return s


# --------------------------------------------------------------------------- 6. forecast


def headline_forecast(f: EnergyFacts) -> str:
    fc = f.forecast
    if not fc:
        return "Next-day forecast not run yet: python -m utils.domains.energy.forecast"
    m, b = fc["model"], fc["baseline_seasonal_naive"]
    verdict = "beats" if fc.get("model_beats_baseline_on_mae") else "does not beat"
    return (f"Issued at 00:00, no weather of the day: gradient boosting {verdict} seasonal naive, "
            f"MAE {num(m['mae'])} against {num(b['mae'])} kWh")


def slide_forecast(f: EnergyFacts) -> Slide:
    s = Slide("Pipeline (a): next-day heat use per building", headline_forecast(f))
    x, w = grid(0, 5)
    fc = f.forecast
    if fc:
        m, b = fc["model"], fc["baseline_seasonal_naive"]
        table = [["gradient boosting", num(m["mae"]), num(m["rmse"]), num(m["mape"]) + " %"],
                 ["seasonal naive", num(b["mae"]), num(b["rmse"]), num(b["mape"]) + " %"]]
        e = fc.get("model_ex_post_weather")
        if e:
            table.append(["ex post: day's weather known", num(e["mae"]), num(e["rmse"]), num(e["mape"]) + " %"])
        y = s.table(x, CONTENT_TOP, [w * 0.4, w * 0.2, w * 0.2, w * 0.2], ["", "MAE", "RMSE", "MAPE"], table,
                    aligns=["left", "right", "right", "right"], size=BODY)
        s.bullets(x, y + 0.3, [
            "Issued at 00:00 of the day: lags, calendar, registry and the latest published weather (two days "
            "before; a day's weather comes out the next morning). The day's own weather is never an input.",
            "Ex post: the same model given the weather observed on the day, an upper bound (a perfect "
            "day-ahead weather forecast), not a result.",
            f"Trained on {n(fc['train_rows'])} building-days before {fc['cut']}, scored on {n(fc['test_rows'])} "
            "from it: one global cut. Baseline: the same weekday a week before (kwh_lag_7d).",
        ], w, size=SMALL)
    _image(s, f.plots.get("forecast"), grid(6, 6)[0], CONTENT_TOP, grid(6, 6)[1], CONTENT_BOTTOM - CONTENT_TOP - 0.1,
           "No partial-dependence plot: run python -m utils.domains.energy.forecast")
    return s


# --------------------------------------------------------------------------- 7. profiles


def headline_profiles(f: EnergyFacts) -> str:
    pr = f.profiles
    if not pr:
        return "Load profiles not run yet: python -m utils.domains.energy.profiles"
    sizes = ", ".join(str(v) for _, v in sorted(pr["sizes"].items()))
    return (f"k = {pr['k']} load profiles (silhouette {num(pr['silhouette'], 3)}, best of k = "
            f"{min(map(int, pr['silhouette_by_k']))}..{max(map(int, pr['silhouette_by_k']))}) "
            f"group {n(pr['buildings'])} buildings as {sizes}")


def slide_profiles(f: EnergyFacts) -> Slide:
    s = Slide("Pipeline (b): load-profile clusters", headline_profiles(f))
    x, w = grid(0, 4)
    pr = f.profiles
    if pr:
        ks = sorted(pr["silhouette_by_k"], key=int)
        ax = s.axes(x + 0.3, CONTENT_TOP + 0.2, w - 0.3, 2.2)
        values = [pr["silhouette_by_k"][k] for k in ks]
        ax.bar(ks, values, color=[ACCENT if int(k) == pr["k"] else NAVY for k in ks])
        for i, v in enumerate(values):
            ax.text(i, v, f"{v:.3f}", ha="center", va="bottom", fontsize=SMALL - 1, color=INK)
        ax.set_xlabel("k", fontsize=SMALL, color=GREY_DARK)
        ax.set_ylabel("silhouette", fontsize=SMALL, color=GREY_DARK)
        s.bullets(x, CONTENT_TOP + 2.9, [
            "A profile is a shape: mean kWh per weekday and per month over the building's mean day.",
            "k-means for each k; the best silhouette decides, not the analyst.",
        ], w, size=SMALL)
    _image(s, f.plots.get("profiles"), grid(4, 8)[0] + 0.2, CONTENT_TOP, grid(4, 8)[1] - 0.2,
           CONTENT_BOTTOM - CONTENT_TOP - 0.1, "No profile plot: run python -m utils.domains.energy.profiles")
    return s


# --------------------------------------------------------------------------- 8. reproduce


def headline_run(f: EnergyFacts) -> str:
    return (f"One command rebuilds every zone; the latest run, {f.run.run_id}, built "
            f"{', '.join(f.run.layers) or 'its layers'} in {num(f.run.seconds, 0)} s")


def slide_run(f: EnergyFacts) -> Slide:
    s = Slide("Reproduce", headline_run(f))
    x, w = grid(0, 12)
    dm, data = portable_path(f.datamart), portable_path(f.run.data_root) or "data/energy"
    commands = [
        f"python main.py --domain energy --data-root {data} --datamart {dm}",
        f"python -m utils.domains.energy.forecast --datamart {dm} --cut "
        f"{(f.forecast or {}).get('cut', '2024-10-01')}",
        f"python -m utils.domains.energy.profiles --datamart {dm}",
        f"python main.py deck --domain energy --datamart {dm}",
        f"python main.py deck --domain energy --companion --datamart {dm}",
    ]
    y = CONTENT_TOP
    for cmd in commands:
        y = s.paragraph(x, y, cmd, w, size=SMALL, family=MONO) + 0.12
    s.text(x, y + 0.2, "Limits", size=SMALL, color=GREY_DARK, weight="bold")
    s.bullets(x, y + 0.5, [
        "The data is a generated sample with planted defects; the rule counts are checked against its truth.",
        "Window rules see the rows one run checks: an incremental run cannot see a reset or gap at the "
        "first reading of the first rebuilt day.",
        "Reviews of the entity resolution wait for a person; until then the device is not linked.",
    ], w, size=SMALL, color=GREY)
    return s


SLIDES: tuple[tuple[Callable[[EnergyFacts], str], Callable[[EnergyFacts], Slide]], ...] = (
    (headline_title, slide_title),
    (headline_zones, slide_zones),
    (headline_quality, slide_quality),
    (headline_exploitation, slide_exploitation),
    (headline_matching, slide_matching),
    (headline_forecast, slide_forecast),
    (headline_profiles, slide_profiles),
    (headline_run, slide_run),
)


def headlines(f: EnergyFacts) -> list[str]:
    return [headline(f) for headline, _ in SLIDES]


def render_energy_deck(f: EnergyFacts, out: str | Path = DEFAULT_OUT) -> Path:
    """Write the energy slides to the PDF `out` (folders created); returns the path."""
    from matplotlib.backends.backend_pdf import PdfPages

    from .render import _rc
    from .style import FONT

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _rc({"pdf.fonttype": 42, "font.family": FONT, "axes.unicode_minus": False}):
        figures = []
        for i, (_, draw) in enumerate(SLIDES, 1):
            fig = draw(f).fig
            add_footer(fig, f, i, len(SLIDES))
            figures.append(fig)
        metadata = {"Title": f"{f.title}: run {f.run.run_id}", "Subject": portable_path(f.datamart),
                    "Creator": "python main.py deck --domain energy"}
        with PdfPages(out, metadata=metadata) as pdf:
            for fig in figures:
                pdf.savefig(fig)
    logger.info("wrote %d energy slides of run %s to %s", len(figures), f.run.run_id, out)
    return out
