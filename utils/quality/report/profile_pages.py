"""The PDF pages about the data itself: small multiples of every profiled column
(histograms or most frequent values) and the drift of every numeric column (PSI,
first against latest partition)."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .data import KEY_LIKE_SHARE, MAX_PSI_BARS, ReportData, profile_of
from .drift import PSI_BANDS, psi_band
from .format import balanced_chunks, capital, month, num, shorten
from .pages import COLORS, CONTENT_TOP, Pages, compact_number, left_margin, month_of_day


def _histogram(ax, rows: pd.DataFrame, drift: dict[str, Any] | None, column: str) -> None:
    """Small multiple: bars = share of rows per bin over all partitions, lines = the
    first (grey) and latest (red) partition with values."""
    from matplotlib import ticker

    rows = rows.sort_values("snapshot_date")
    edges = np.asarray(rows.iloc[0]["hist_edges"], dtype=float)
    counts = np.sum(np.stack([np.asarray(c, dtype=float) for c in rows["hist_counts"]]), axis=0)
    total = counts.sum()
    kind = rows.iloc[0]["kind"]
    value = drift["psi"] if drift else float("nan")
    band = psi_band(value) if kind == "numeric" else "n/a"
    title = shorten(column, 40)
    if band != "n/a":
        title += ("\n" if len(column) > 24 else "  ") + f"PSI {value:.3f}"
    ax.set_title(title, fontsize=7, color=COLORS[band] if band in ("moderate", "significant") else "black",
                 linespacing=1.1)
    ax.tick_params(labelsize=5.5, length=2, pad=1)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_yticks([])
    if total <= 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", fontsize=7, transform=ax.transAxes)
        ax.set_xticks([])
        return
    ax.bar(edges[:-1], counts / total, width=np.diff(edges), align="edge", color=COLORS["all"], linewidth=0)
    by_date = {r.snapshot_date: r for r in rows.itertuples()}
    for which in ("first", "latest"):
        row = by_date.get(drift[which]) if drift else None
        if row is not None and sum(row.hist_counts) > 0:
            c = np.asarray(row.hist_counts, dtype=float)
            ax.stairs(c / c.sum(), edges, color=COLORS[which], linewidth=0.9 if which == "latest" else 1.1)
    lows, highs = rows["min"].dropna().tolist(), rows["max"].dropna().tolist()
    if lows and highs and min(lows) == max(highs):  # one value: say so, one tick
        shown = month_of_day(min(lows)) if kind == "date" else compact_number(min(lows))
        ax.text(0.5, 0.5, f"constant {shown}", ha="center", va="center", fontsize=6.5, transform=ax.transAxes,
                bbox={"boxstyle": "round", "fc": "white", "ec": "#cccccc"})
        ax.set_xticks([min(lows)], [shown])
    elif kind == "date":
        ax.xaxis.set_major_locator(ticker.MaxNLocator(3))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(month_of_day))
    else:
        unit_bins = len(edges) > 1 and np.allclose(np.diff(edges), 1) and float(edges[0] + 0.5).is_integer()
        ax.xaxis.set_major_locator(ticker.MaxNLocator(4, integer=unit_bins))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(compact_number))


def _top_values(ax, rows: pd.DataFrame, column: str) -> None:
    """Small multiple: the most frequent values over all partitions (sum of the
    per-partition top values), or a note for key-like and masked columns."""
    latest = rows.sort_values("snapshot_date").iloc[-1]
    nonnull = int(latest["row_count"] - latest["null_count"])
    totals: dict[str, int] = {}
    for entries in rows["top_values"]:
        for e in entries if entries is not None else []:
            totals[e["value"]] = totals.get(e["value"], 0) + int(e["count"])
    ax.set_title(shorten(column, 40), fontsize=7)
    masked = any(v == "<masked>" for v in totals) or column.endswith("_hash")
    key_like = latest["kind"] != "list" and nonnull > 20 and latest["distinct_count"] >= KEY_LIKE_SHARE * nonnull
    if masked or key_like or not totals:
        ax.axis("off")
        if not totals and not key_like:
            text = "no values"
        else:
            counted = latest["top_values"] is not None and len(latest["top_values"]) > 0
            distinct = min(int(latest["distinct_count"]), nonnull)
            text = ("values masked (personal data)" if masked else "key-like column") + (
                f"\nlatest partition: {num(distinct)} distinct\nof {num(nonnull)} values")
            if counted:
                largest = max(e["count"] for e in latest["top_values"])
                text += f"; most\nfrequent value: {largest}×"
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=6.5, transform=ax.transAxes,
                bbox={"boxstyle": "round", "fc": "#f4f6f9", "ec": "#cccccc"})
        return
    items = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:6][::-1]
    biggest = max(v for _, v in items)
    ax.barh(range(len(items)), [v for _, v in items], color=COLORS["all"], height=0.8)
    for i, (label, v) in enumerate(items):  # labels inside the bars: no overlap with the neighbours
        ax.text(biggest * 0.02, i, shorten(label, 28), va="center", ha="left", fontsize=5.5)
    ax.set_yticks([])
    ax.set_xlim(0, biggest * 1.05)
    ax.tick_params(labelsize=5.5, length=2, pad=1)
    ax.spines[["top", "right"]].set_visible(False)
    from matplotlib import ticker

    ax.xaxis.set_major_locator(ticker.MaxNLocator(3))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(compact_number))


GRID_COLUMNS = 6
GRID_ROW = 0.195  # height of one row of small multiples, figure fraction
GRID_ROWS = 4


def distribution_pages(pages: Pages, data: ReportData, table: str, notes: Sequence[str] = ()):
    """Small multiples of every profiled column, 24 a page. Returns (last figure, the
    height where its grid ends) so a short drift chart can go below."""
    profile = profile_of(data, table)
    if profile.empty:
        return None, None
    drift = {r.column: r._asdict() for r in data.drift[data.drift["table"] == table].itertuples()}
    columns = list(dict.fromkeys(profile["column"]))
    dates = sorted(profile["snapshot_date"].dropna().unique())
    span = f"{month(dates[0])} to {month(dates[-1])}" if dates else ""
    chunks = balanced_chunks(columns, GRID_COLUMNS * GRID_ROWS)
    fig = bottom = None
    width = 0.92 / GRID_COLUMNS
    for n, chunk in enumerate(chunks):
        part = f" ({n + 1} of {len(chunks)})" if len(chunks) > 1 else ""
        fig = pages.new(table, f"{table}: distributions{part}",
                        f"Numbers and dates: share of rows per bin over all partitions ({span}; bars), first (grey) "
                        "and latest (red) partition with values; PSI first → latest in the title, orange ≥ 0.1, "
                        "red ≥ 0.25. Text: most frequent values." + "".join(f" {capital(n)}." for n in notes))
        for i, column in enumerate(chunk):
            r, c = divmod(i, GRID_COLUMNS)
            rect = [0.045 + c * width, CONTENT_TOP - (r + 1) * GRID_ROW + 0.05, width - 0.03, GRID_ROW - 0.085]
            ax = fig.add_axes(rect)
            rows = profile[profile["column"] == column]
            if rows["hist_counts"].notna().any():
                _histogram(ax, rows[rows["hist_counts"].notna()], drift.get(column), column)
            else:
                _top_values(ax, rows, column)
        bottom = CONTENT_TOP - math.ceil(len(chunk) / GRID_COLUMNS) * GRID_ROW
    return fig, bottom


def _drift_chart(fig, drift: pd.DataFrame, top: float, bottom: float, table_first, table_latest) -> None:
    """PSI bars of the numeric columns in drift (sorted), between top and bottom."""
    labels, values = [], []
    for r in drift.itertuples():
        label = r.column
        if (r.first, r.latest) != (table_first, table_latest):
            label += f" ({month(r.first)} → {month(r.latest)})"
        labels.append(label)
        values.append(r.psi)
    labels, values = labels[::-1], values[::-1]
    left = left_margin(labels, 7)
    ax = fig.add_axes([left, bottom, 0.9 - left, top - bottom])
    ax.barh(range(len(labels)), values, color=[COLORS[psi_band(v)] for v in values], height=0.7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    biggest = max(values)
    xmax = max(biggest * 1.15, 0.3) if biggest <= 1 else 1.0
    ax.set_xlim(0, xmax)
    for x in PSI_BANDS:
        ax.axvline(x, color="#444444", linestyle="--", linewidth=0.8)
        ax.text(x, 1.0, f" {x:g}", transform=ax.get_xaxis_transform(), fontsize=6.5, va="bottom", color="#444444")
    for i, v in enumerate(values):
        if v > xmax:
            ax.text(xmax * 0.995, i, f"{v:.2f} ▸", va="center", ha="right", fontsize=6, color="white",
                    fontweight="bold")
        else:
            ax.text(v + xmax * 0.005, i, f"{v:.3f}", va="center", fontsize=6)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("PSI" + (" (axis cut at 1; longer bars carry their value)" if biggest > 1 else ""), fontsize=7.5)
    ax.spines[["top", "right"]].set_visible(False)


def drift_page(pages: Pages, data: ReportData, table: str, fig=None, space_top: float | None = None) -> None:
    """PSI of every numeric column, first → latest partition: below the distributions
    on `fig` when it fits under `space_top`, else on a page of its own."""
    drift = data.drift[(data.drift["table"] == table) & (data.drift["kind"] == "numeric")]
    if drift.empty:
        return
    profile = profile_of(data, table)
    dates = sorted(profile["snapshot_date"].dropna().unique())
    first, latest = dates[0], dates[-1]
    valid = drift[np.isfinite(drift["psi"])].sort_values("psi", ascending=False)
    shown = valid.head(MAX_PSI_BARS)
    counts = valid["band"].value_counts()
    sizes = profile.groupby("snapshot_date")["row_count"].max()
    summary = (f"PSI of each numeric column between the first ({month(first)}, {num(sizes.get(first))} rows) and the "
               f"latest ({month(latest)}, {num(sizes.get(latest))} rows) partition with values, from the stored "
               f"histograms (small partitions give noisy PSI): {counts.get('stable', 0)} stable (< 0.1), "
               f"{counts.get('moderate', 0)} moderate (0.1–0.25), {counts.get('significant', 0)} significant (≥ 0.25)"
               + (f"; {len(drift) - len(valid)} with values in fewer than two partitions" if len(valid) < len(drift)
                  else "") + (f"; the {len(valid) - len(shown)} lowest are in the HTML report" if len(valid) > len(shown)
                              else ""))
    needed = 0.09 + len(shown) * 0.0185 + 0.06
    if fig is not None and space_top is not None and not shown.empty and space_top - needed >= 0.07:
        fig.text(0.04, space_top - 0.01, f"Drift {month(first)} → {month(latest)}", fontsize=10,
                 fontweight="bold", va="top")
        fig.text(0.04, space_top - 0.04, "\n".join(textwrap.wrap(summary, 175)), fontsize=7.5, color="#444444",
                 va="top")
        top = space_top - 0.09
        _drift_chart(fig, shown, top, top - len(shown) * 0.0185 - 0.01, first, latest)
        return
    fig = pages.new(table, f"{table}: drift {month(first)} → {month(latest)}", summary)
    if shown.empty:
        fig.text(0.04, CONTENT_TOP, "no numeric column has values in two partitions", fontsize=9, va="top")
        return
    height = min(0.74, 0.01 + 0.0185 * len(shown))
    _drift_chart(fig, shown, CONTENT_TOP - 0.02, CONTENT_TOP - 0.02 - height, first, latest)
