"""The energy domain's companion document: at most five A4 pages that explain the design
choices, with the numbers measured on the datamart it is built from (the same
:class:`EnergyFacts` as the deck, drawn by the same matplotlib machinery)::

    python main.py deck --domain energy --companion [--datamart DIR] [--out docs/energy/companion.pdf]

:func:`sections` is the text (testable without drawing); :func:`render_companion` flows
it onto pages: headings, paragraphs and the two pipelines' plots."""

from __future__ import annotations

import logging
from pathlib import Path

from utils.lake.paths import PROJECT_ROOT

from .energy_facts import EnergyFacts
from .format import n, pct, plain, portable_path
from .slides_energy import num
from .style import FONT, GREY, GREY_DARK, NAVY, line_height, wrap

logger = logging.getLogger(__name__)

DEFAULT_OUT = PROJECT_ROOT / "docs" / "energy" / "companion.pdf"
MAX_PAGES = 5
PAGE_W, PAGE_H = 8.27, 11.69  # A4, inches
MARGIN, TOP, BOTTOM = 0.85, 0.8, 0.8
TEXT, HEAD, SMALL_TEXT = 9.5, 12.5, 8


def sections(f: EnergyFacts) -> list[tuple[str, list[str]]]:
    """(heading, paragraphs) of the document, every number from `f`."""
    q, c, fc, pr = f.quality, f.consumption, f.forecast, f.profiles
    d = f.matching.get("best_by_decision", {})
    er, both = f.resolution(), f.resolution("matches_and_reviews")
    bm = f.table("gold", "building_matches")
    readings = f.table("bronze", "readings")
    out: list[tuple[str, list[str]]] = []
    out.append(("1. The problem and the data", [
        "An energy company predicts the next day's heat consumption of each customer building from the hourly "
        "readings of its heat meters, the weather of its city, a public-holiday calendar and its building "
        f"registry. This document is built from datamart {portable_path(f.datamart)} (run {f.run.run_id}); "
        f"it holds {n(f.buildings)} buildings and {n(f.devices)} metering devices, {n(readings.rows if readings else None)} "
        f"raw readings and {len(f.landing)} sources. The data is a generated sample with planted defects, so "
        "every count below can be checked against the generator's ground truth.",
    ]))
    out.append(("2. Zones: one vocabulary mapped onto another", [
        "The course's four zones are the project's layers: landing is landing/energy/<source>/ (the files and "
        "API pages byte for byte, with manifests); the formatted zone is bronze/energy/<source> (one table per "
        "dataset, every field as text, with lineage); the trusted zone is silver/energy/<table> (typed, local "
        "times in UTC, named rules, a quarantine); the exploitation zone is gold/energy/<table>. Keeping one "
        "engine for every domain means the energy domain is mostly configuration (conf/energy.yaml); only what "
        "SQL in YAML cannot say (entity resolution, daily consumption) is Python, as pure functions.",
        f"Measured: {n(f.rows('bronze'))} formatted rows, {n(f.rows('silver'))} trusted rows, "
        f"{n(q.quarantined_rows)} quarantined, {n(f.rows('gold'))} rows in the exploitation zone. Every table is "
        "Delta, partitioned by the local day (the readings arrive hourly, the questions are daily); only "
        "building_matches, a small reference table, has no partitions.",
    ]))
    denial = f.rule("readings", "one_value_per_reading")
    out.append(("3. The trusted zone: rules, denial constraints and accounting", [
        "Each quality rule is named data with a severity: warn counts the rows, drop moves them to "
        "silver/_quarantine with the rule and the reason. A denial constraint says that no two rows agree on "
        "some columns and differ on others; it is evaluated in Spark as one window per group (the distinct "
        "values of the 'different' columns over a partition by the 'equal' columns), so it scales with the data "
        "and needs no self-join. Every row of a violating group fails: when two readings of one device at one "
        "instant disagree, which one is right is unknown, so both leave.",
        f"Measured: one_value_per_reading quarantined {n(denial)} readings, unique_reading "
        f"{n(f.rule('readings', 'unique_reading'))} repeated deliveries, one_temperature_per_city_day "
        f"{n(f.rule('weather', 'one_temperature_per_city_day'))} weather rows; temperature_in_fahrenheit found "
        f"{n(f.rule('weather', 'temperature_in_fahrenheit'))} days of a station reporting in °F, converted rather "
        f"than dropped. In all, {q.rules_with_failures} of {len(q.rules)} rules fired on {n(q.checks_flagged)} "
        f"rows. Row accounting per partition, bronze = silver + quarantine: {n(q.bronze_rows)} = "
        f"{n(q.silver_rows)} + {n(q.accounted_quarantine)}, and {n(q.balanced_partitions)} of {n(q.partitions)} "
        "partitions balance.",
    ]))
    out.append(("4. Counters, gaps and clock changes", [
        "A heat meter reports a cumulative counter, so consumption is the step between consecutive readings. "
        "Three things break the naive difference. A counter reset (the counter falls below half its previous "
        "value) is flagged in the trusted zone and kept; in the exploitation zone the step after it counts from "
        "zero. A gap (more than an hour without a reading) is not interpolated: the step across it is kept "
        "apart in gap_kwh and the day is marked, because spreading it would invent an hourly shape. Clock "
        "changes: the files hold Europe/Paris wall-clock times, so the spring hour is missing and the autumn hour "
        "appears twice; times are converted to UTC, the second reading of the repeated hour in file order is the "
        "later instant, and a local day expects 23, 24 or 25 hours. A day is complete only when every hour was "
        "read and every step is known; only complete days train and score the forecast.",
        f"Measured: {n(f.rule('readings', 'counter_reset'))} resets flagged and "
        f"{n(c.get('counter_resets_handled'))} handled; {n(f.rule('readings', 'reading_gap'))} gaps over "
        f"{n(c.get('gap_days'))} device-days ({n(c.get('gap_hours'))} unread hours); "
        f"{n(f.rule('readings', 'stuck_counter'))} stuck readings; "
        f"{n(f.rule('readings', 'dst_repeated_hour'))} readings of the repeated autumn hour; "
        f"{n(c.get('complete_days'))} of {n(c.get('device_days'))} device-days complete; "
        f"{n(c.get('negative_steps'))} negative steps left.",
    ]))
    er_text = (f"Against the sample's truth the matches have precision {num(er.get('precision'), 3)} and recall "
               f"{num(er.get('recall'), 3)}; with the reviews confirmed, {num(both.get('precision'), 3)} and "
               f"{num(both.get('recall'), 3)}." if er else "No ground truth was given, so precision and recall "
               "are not measured.")
    out.append(("5. Entity resolution: blocking, similarity, a review band", [
        "The installers' device list names an address, not the registry's building id, and the registry's "
        "addresses were typed by clerks. Addresses are normalised (case, accents, abbreviations spelt out, "
        "punctuation); candidate pairs are blocked on postcode and city, which keeps the comparison linear in "
        "practice; each pair is scored 0.6 x street similarity (1 - Levenshtein distance / length) + 0.25 x "
        "same house number + 0.15 x the installer's building reference. Named rules turn scores into decisions: "
        "address and ref_and_number match; number_only and ref_only go to a review band (a renamed street is "
        "plausible but not proven); different_address is a non-match. Every pair is kept with its score, rule "
        "and decision, so a reviewer sees why.",
        f"Measured: {n(bm.rows if bm else None)} pairs scored; of {n(f.devices)} devices, {n(d.get('match', 0))} "
        f"matched, {n(d.get('review', 0))} in review, {n(d.get('non_match', 0))} without a match. " + er_text,
    ]))
    if fc:
        m, b = fc["model"], fc["baseline_seasonal_naive"]
        e = fc.get("model_ex_post_weather")
        ex_post = (f" Ex post, as an upper bound only (a perfect day-ahead weather forecast), the same model given "
                   f"the weather observed on the day reaches MAE {num(e['mae'], 2)}, RMSE {num(e['rmse'], 2)} and "
                   f"MAPE {num(e['mape'])} %: that is what a good weather forecast would add, not what the "
                   "model achieves." if e else "")
        out.append(("6. Next-day forecast: point in time, out of time, against seasonal naive", [
            "The forecast for a day is issued at 00:00 of that day, when the reading that closes the day before "
            "arrives, so a row may use only what is known then: yesterday's consumption and that of the same "
            "weekday a week before, the calendar of the day, the registry, and the latest published weather. A "
            "day's weather is published the next morning, so at 00:00 the weather of the day itself and of the "
            "day before are not known: the model uses the weather observed two days before (and the temperature "
            "of three days before), never the weather of the day it forecasts. Evaluation is out of time with "
            "one global cut: the model learns from the days before it and is scored on the days from it, never "
            "on a random split that would let it see the future. The baseline is seasonal naive, the same "
            "weekday a week before: it is what a person would forecast, it captures size and weekly rhythm, and "
            "a model must beat it to earn its complexity. The model is histogram gradient boosting (non-linear "
            "in the temperature, robust to unscaled inputs). MAE and RMSE are in kWh per building-day; MAPE is "
            "over days with a positive actual.",
            f"Measured (cut {fc['cut']}, {n(fc['train_rows'])} training and {n(fc['test_rows'])} test "
            f"building-days): the point-in-time model's MAE {num(m['mae'], 2)} kWh, RMSE {num(m['rmse'], 2)}, "
            f"MAPE {num(m['mape'])} %; the baseline's {num(b['mae'], 2)}, {num(b['rmse'], 2)} and "
            f"{num(b['mape'])} %. The model's MAE is {pct(1 - m['mae'] / b['mae'], 0)} lower." + ex_post
            + " The partial dependence below shows the predicted heat use falling as the latest known "
            "temperature rises (temperature persists over a few days).",
        ]))
    if pr:
        by_k = ", ".join(f"{k}: {v:.3f}" for k, v in sorted(pr["silhouette_by_k"].items(), key=lambda kv: int(kv[0])))
        out.append(("7. Load profiles: k chosen by the silhouette", [
            "Each building's profile is its mean consumption per weekday and per month divided by its own mean "
            "day, so the clusters group shapes (offices and schools quiet at weekends, schools in the holidays, "
            "homes every day) and not sizes. k-means runs for every k from 2 up to 6 (below the number of "
            "buildings) and the k with the best silhouette is kept: a measured choice, not the analyst's.",
            f"Measured: silhouette by k {by_k}; k = {pr['k']} (silhouette {num(pr['silhouette'], 3)}) over "
            f"{n(pr['buildings'])} buildings.",
        ]))
    out.append(("8. Reproduce", [
        "python main.py --domain energy builds every zone and runs both pipelines; python -m "
        "utils.domains.energy.forecast and python -m utils.domains.energy.profiles rerun one of them; python main.py "
        "deck --domain energy draws the deck and, with --companion, this document. The "
        "notebooks notebooks/energy/01_next_day_forecast.ipynb and 02_load_profiles.ipynb show each pipeline "
        "step by step on the exploitation zone.",
    ]))
    return out


class _Pages:
    """Text flowed onto A4 Figures from the top; a new page when the next block does not fit."""

    def __init__(self, f: EnergyFacts):
        self.f, self.figures, self.y = f, [], PAGE_H
        self.width = PAGE_W - 2 * MARGIN

    def _new(self):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=(PAGE_W, PAGE_H), facecolor="white")
        FigureCanvasAgg(fig)
        self.figures.append(fig)
        self.y = TOP

    def _room(self, height: float) -> None:
        if not self.figures or self.y + height > PAGE_H - BOTTOM:
            self._new()

    def text(self, s: str, size: float, *, color: str = "#23272E", weight: str = "normal", after: float = 0.1):
        lines = wrap(s, self.width, size, weight=weight)
        lh = line_height(size)
        self._room(len(lines) * lh if len(lines) < 4 else 3 * lh)
        for line in lines:
            self._room(lh)
            self.figures[-1].text(MARGIN / PAGE_W, 1 - (self.y + 0.93 * size / 72) / PAGE_H, plain(line),
                                  fontsize=size, color=color, fontweight=weight, family=FONT, va="baseline")
            self.y += lh
        self.y += after

    def image(self, path: Path, height: float) -> None:
        from matplotlib.image import imread

        picture = imread(str(path))
        w = min(self.width, height * picture.shape[1] / picture.shape[0])
        self._room(height + 0.1)
        ax = self.figures[-1].add_axes([(PAGE_W - w) / 2 / PAGE_W, 1 - (self.y + height) / PAGE_H, w / PAGE_W,
                                        height / PAGE_H])
        ax.imshow(picture)
        ax.set_axis_off()
        self.y += height + 0.15


def build_pages(f: EnergyFacts) -> list:
    """The document's pages as Figures, each with a footer (run, page)."""
    pages = _Pages(f)
    pages.text("Energy domain: design choices, with measured numbers", 17, color=NAVY, weight="bold", after=0.05)
    pages.text(f"Companion to notebooks/energy and deck/energy_deck.pdf · datamart {portable_path(f.datamart)} · "
               f"run {f.run.run_id}", SMALL_TEXT, color=GREY, after=0.2)
    for heading, paragraphs in sections(f):
        pages.text(heading, HEAD, color=NAVY, weight="bold", after=0.06)
        for p in paragraphs:
            pages.text(p, TEXT, after=0.1)
        if heading.startswith("6.") and "forecast" in f.plots:
            pages.image(f.plots["forecast"], 2.4)
        if heading.startswith("7.") and "profiles" in f.plots:
            pages.image(f.plots["profiles"], 2.4)
        pages.y += 0.08
    total = len(pages.figures)
    for i, fig in enumerate(pages.figures, 1):
        fig.text(MARGIN / PAGE_W, 0.45 / PAGE_H, plain(f"energy companion · run {f.run.run_id}"), fontsize=SMALL_TEXT,
                 color=GREY_DARK, family=FONT)
        fig.text(1 - MARGIN / PAGE_W, 0.45 / PAGE_H, f"{i} / {total}", fontsize=SMALL_TEXT, color=GREY_DARK,
                 family=FONT, ha="right")
    if total > MAX_PAGES:
        logger.warning("the companion takes %d pages, more than %d", total, MAX_PAGES)
    return pages.figures


def render_companion(f: EnergyFacts, out: str | Path = DEFAULT_OUT) -> Path:
    """Write the companion PDF to `out` (folders created); returns the path."""
    from matplotlib.backends.backend_pdf import PdfPages

    from .render import _rc

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _rc({"pdf.fonttype": 42, "font.family": FONT, "axes.unicode_minus": False}):
        figures = build_pages(f)
        metadata = {"Title": f"Energy domain, design choices: run {f.run.run_id}", "Subject": portable_path(f.datamart),
                    "Creator": "python main.py deck --domain energy --companion"}
        with PdfPages(out, metadata=metadata) as pdf:
            for fig in figures:
                pdf.savefig(fig)
    logger.info("wrote the %d-page energy companion of run %s to %s", len(figures), f.run.run_id, out)
    return out
