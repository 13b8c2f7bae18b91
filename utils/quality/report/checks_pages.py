"""The PDF pages about checks: the summary, rule results per partition, missing and
invalid values per column and partition, and the top quarantine reasons."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd

from .data import MAX_HEATMAP_ROWS, SAMPLES_PER_REASON, ReportData, profile_of
from .format import balanced_chunks, compact, month, num, portable_path, shorten
from .pages import (
    CONTENT_TOP,
    Pages,
    draw_table,
    heatmap,
    left_margin,
    rows_height,
    table_pages,
)
from .rules import rule_totals, with_rule_labels
from .summary import SUMMARY_HEADER, SUMMARY_NOTES, reason_rows, run_lines, summary_rows


def summary_page(pages: Pages, data: ReportData) -> None:
    """The first page: the datamart (relative to the project), the run lines, the summary table and its notes."""
    fig = pages.new("summary", "Data-quality report", f"datamart {portable_path(data.datamart)}")
    y = CONTENT_TOP
    for text in run_lines(data):
        fig.text(0.04, y, shorten(text, 175), fontsize=9, va="top")
        y -= 0.032
    widths = [2.2, 0.65, 0.8, 1.0, 0.85, 0.95, 0.75, 0.95, 1.05, 0.85]
    aligns = ["left"] + ["right"] * 9
    y, _ = draw_table(fig, y - 0.02, SUMMARY_HEADER, summary_rows(data), widths, fontsize=9, aligns=aligns)
    for text in SUMMARY_NOTES:
        fig.text(0.04, y - 0.03, text, fontsize=7.5, color="#555555", va="top")
        y -= 0.025


def rules_page(pages: Pages, data: ReportData, table: str) -> str | None:
    """The rule heatmap page (or a table of the rules when all passed); returns a note
    instead of a page when the run did not check the table."""
    from matplotlib import colors, ticker

    rules = data.quality[data.quality["table"] == table]
    quarantined = next((s.quarantined for s in data.summaries if s.table == table), None)
    if rules.empty:
        return "rules not re-checked in this run (inputs unchanged, table not rebuilt)"
    totals = rule_totals(rules)
    failing, passing = totals[totals["failed"] > 0], totals[totals["failed"] == 0]
    rows_checked = rules.groupby("snapshot_date")["rows_checked"].max().sum()
    subtitle = (f"{len(totals)} rules checked on {num(rows_checked)} rows in {rules['snapshot_date'].nunique()} "
                f"partitions; {len(failing)} failed somewhere; {num(quarantined)} rows quarantined")
    if failing.empty:
        header = ["rule", "kind", "severity", "action", "rows checked", "rows failed"]
        rows = [[r, t.kind, t.severity, t.action, num(t.checked), "0"] for r, t in totals.sort_index().iterrows()]
        table_pages(pages, table, f"{table}: rule results — every rule passed in every partition", subtitle,
                    header, rows, [3.6, 1.0, 1.0, 1.2, 1.3, 1.2], fontsize=8,
                    aligns=["left", "left", "left", "left", "right", "right"])
        return None
    dates = sorted(rules["snapshot_date"].dropna().unique())
    shown = failing.head(MAX_HEATMAP_ROWS)
    labelled = with_rule_labels(rules)
    failed = labelled.pivot_table(index="label", columns="snapshot_date", values="rows_failed", aggfunc="sum")
    checked = labelled.pivot_table(index="label", columns="snapshot_date", values="rows_checked", aggfunc="sum")
    failed = failed.reindex(index=shown.index, columns=dates)
    share = (failed / checked.reindex(index=shown.index, columns=dates)).to_numpy(dtype=float)
    share[failed.to_numpy() == 0] = np.nan
    labels = [f"{r} ({t.severity}) · {num(t.failed)}" for r, t in shown.iterrows()]
    fig = pages.new(table, f"{table}: rule results per partition",
                    subtitle + ". Cells: failing rows; colour: share of the partition's rows; blank: none. "
                    "Rules sorted by failures (total after the name).")
    left, bottom = left_margin(labels, 7), 0.2
    height = rows_height(len(labels), CONTENT_TOP, bottom, per_row=0.32)
    norm = colors.Normalize(vmin=0, vmax=max(float(np.nanmax(share)), 1e-3))
    counts = np.nan_to_num(failed.to_numpy(dtype=float))
    annotate = np.where(np.isfinite(share), np.vectorize(lambda v: compact(int(v)))(counts), "")
    _, image = heatmap(fig, [left, CONTENT_TOP - height, 0.9 - left, height], share, labels,
                        [month(d) for d in dates], cmap="OrRd", norm=norm, annotate=annotate)
    cax = fig.add_axes([0.92, CONTENT_TOP - height, 0.012, height])
    bar = fig.colorbar(image, cax=cax)
    bar.ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1, decimals=None))
    bar.ax.tick_params(labelsize=6.5)
    notes = []
    if len(failing) > len(shown):
        notes.append(f"{len(failing) - len(shown)} more failing rules are listed in the HTML report.")
    if len(passing):
        notes.append(f"Passed in every partition ({len(passing)}): " + ", ".join(passing.index) + ".")
    if notes:
        text = "\n".join(line for note in notes for line in textwrap.wrap(note, 185))
        fig.text(0.04, 0.115, text, fontsize=7, color="#555555", va="top", linespacing=1.3)
    return None


def missing_summary(profile: pd.DataFrame) -> tuple[list[str], list[str], pd.DataFrame, pd.DataFrame | None]:
    """(columns with a null or invalid value somewhere, columns complete everywhere,
    null share and invalid share per column x partition)."""
    dates = sorted(profile["snapshot_date"].dropna().unique())
    order = list(dict.fromkeys(profile["column"]))
    rows = profile.pivot_table(index="column", columns="snapshot_date", values="row_count", aggfunc="sum")
    nulls = profile.pivot_table(index="column", columns="snapshot_date", values="null_count", aggfunc="sum")
    share = (nulls / rows).reindex(index=order, columns=dates)
    invalid = None
    if profile["invalid_count"].notna().any():
        inv = profile.pivot_table(index="column", columns="snapshot_date", values="invalid_count", aggfunc="sum")
        invalid = (inv / rows).reindex(index=order, columns=dates)
    missing = share.fillna(0).max(axis=1) > 0
    if invalid is not None:
        missing |= invalid.fillna(0).max(axis=1) > 0
    return [c for c in order if missing[c]], [c for c in order if not missing[c]], share, invalid


def missing_pages(pages: Pages, data: ReportData, table: str) -> str | None:
    """Heatmap pages of missing values; returns a one-line note instead when no column
    has a missing value (so the caller can put it elsewhere)."""
    from matplotlib import colors

    profile = profile_of(data, table)
    if profile.empty:
        return None
    columns, complete, share, invalid = missing_summary(profile)
    if not columns:
        return f"no missing or invalid value in any of the {len(complete)} columns and partitions"
    dates = list(share.columns)
    note = f"{len(complete)} of {len(share)} columns have no missing value in any partition" + (
        ": " + ", ".join(complete) if complete else "")
    chunks = balanced_chunks(columns, MAX_HEATMAP_ROWS)
    for n, chunk in enumerate(chunks):
        part = f" ({n + 1} of {len(chunks)})" if len(chunks) > 1 else ""
        fig = pages.new(table, f"{table}: missing values{part}",
                        "share of null values per column and partition" + (
                            "; right: share flagged invalid (present but unusable, so nulled)" if invalid is not None
                            else "") + ". Cells show the percentage when at least 0.5 %.")
        left, bottom = left_margin(chunk, 7), 0.2
        height = rows_height(len(chunk), CONTENT_TOP - 0.03, bottom)
        top = CONTENT_TOP - 0.03
        panels = [("null", share, "Blues")] + ([("invalid", invalid, "Purples")] if invalid is not None else [])
        width = (0.9 - left - 0.03 * (len(panels) - 1)) / len(panels)
        norm = colors.Normalize(vmin=0, vmax=1)
        for i, (label, frame, cmap) in enumerate(panels):
            matrix = frame.reindex(index=chunk).to_numpy(dtype=float)
            annotate = np.vectorize(lambda v: f"{v * 100:.0f}" if v >= 0.005 else "")(np.nan_to_num(matrix))
            ax, image = heatmap(fig, [left + i * (width + 0.03), top - height, width, height], matrix,
                                 chunk, [month(d) for d in dates], cmap=cmap, norm=norm,
                                 annotate=annotate if len(dates) <= 40 else None)
            if i:
                ax.set_yticks([])
            ax.set_title(f"{label} share", fontsize=8)
        cax = fig.add_axes([0.92, top - height, 0.012, height])
        fig.colorbar(image, cax=cax, format=lambda x, _: f"{x:.0%}").ax.tick_params(labelsize=6.5)
        fig.text(0.04, 0.105, "\n".join(textwrap.wrap(note, 200)[:3]), fontsize=7, color="#555555", va="top",
                 linespacing=1.3)
    return None


def quarantine_pages(pages: Pages, data: ReportData, table: str) -> None:
    """The top quarantine reasons of a silver table with sample rows (personal data masked), as many pages as needed."""
    rows = data.quarantine.get(table)
    if rows is None or rows.empty:
        return
    reasons = reason_rows(rows)
    header = ["reason (every rule the row failed)", "rows", "share", "partition, file:line",
              "raw values (personal data masked)"]
    body = []
    for r in reasons:
        for i, s in enumerate(r["samples"]):
            raw = s["raw_values"] + (f" | malformed line: {s['malformed_line']}" if s["malformed_line"] else "")
            body.append([r["reason"] if i == 0 else "", num(r["rows"]) if i == 0 else "",
                         f"{r['share']:.1%}" if i == 0 else "", f"{s['snapshot_date']}\n{s['source']}",
                         shorten(raw, 420)])
    table_pages(pages, table, f"{table}: top quarantine reasons",
                f"{num(len(rows))} rows quarantined; the {len(reasons)} most frequent reason"
                f"{'s' if len(reasons) > 1 else ''} with up to {SAMPLES_PER_REASON} sample rows each (oldest first; "
                "raw values cut at 420 characters, in full in the HTML report)", header, body,
                [2.9, 0.55, 0.55, 1.7, 4.9], fontsize=7, aligns=["left", "right", "right", "left", "left"])
