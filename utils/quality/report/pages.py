"""The PDF's drawing kit: A4 landscape pages with title, subtitle and footer, tables
that wrap and continue on the next page, heatmaps, tick labels and the palette."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Sequence
from typing import Any

import numpy as np

from .data import ReportError
from .format import shorten

A4_LANDSCAPE = (11.69, 8.27)
COLORS = {"all": "#9db4d0", "first": "#555555", "latest": "#d62728", "stable": "#2ca02c",
          "moderate": "#ff7f0e", "significant": "#d62728", "na": "#bbbbbb"}
CONTENT_TOP = 0.85  # below the title and a subtitle of up to three lines
SUBTITLE_CHARS = 175


class Pages:
    """Figures of the report, each an A4 landscape page with a title, a subtitle of up
    to three lines and a footer; `section` groups them for the HTML."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.figures: list[tuple[str, Any]] = []  # (section, figure)

    def new(self, section: str, title: str, subtitle: str = ""):
        from matplotlib.figure import Figure

        fig = Figure(figsize=A4_LANDSCAPE)
        fig.text(0.04, 0.955, title, fontsize=14, fontweight="bold", va="top")
        if subtitle:
            lines = textwrap.wrap(subtitle, SUBTITLE_CHARS)
            if len(lines) > 3:
                lines = lines[:2] + [shorten(" ".join(lines[2:]), SUBTITLE_CHARS)]
            fig.text(0.04, 0.915, "\n".join(lines), fontsize=8.5, color="#444444", va="top", linespacing=1.3)
        fig.text(0.04, 0.02, f"data-quality report · run {self.run_id}", fontsize=7, color="#888888")
        fig.text(0.96, 0.02, f"page {len(self.figures) + 1}", fontsize=7, color="#888888", ha="right")
        self.figures.append((section, fig))
        return fig


def text_width(chars: int, fontsize: float) -> float:
    """Approximate width in inches of `chars` characters of DejaVu Sans."""
    return chars * fontsize * 0.6 / 72


def compact_number(x: float, _pos=None) -> str:
    """Tick label: 1.5M, 12k, 1500, 0.15."""
    size = abs(x)
    if size >= 1e6:
        return f"{x / 1e6:.3g}M"
    if size >= 1e4:
        return f"{x / 1e3:.3g}k"
    return f"{x:.4g}"


def month_of_day(x: float, _pos=None) -> str:
    """Tick label of a date profiled as days since 1970-01-01."""
    try:
        return (dt.date(1970, 1, 1) + dt.timedelta(days=float(x))).strftime("%Y-%m")
    except (OverflowError, ValueError):
        return ""


def draw_table(fig, top: float, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float],
               *, fontsize: float = 7.5, left: float = 0.04, bottom: float = 0.06,
               aligns: Sequence[str] | None = None) -> tuple[float, int]:
    """Draw a table on `fig` from figure height `top` down, wrapping each cell to its
    column width (inches). Returns (the height where it ended, rows drawn): rows that
    do not fit above `bottom` are left for the caller to put on the next page."""
    from matplotlib.patches import Rectangle

    fig_w, fig_h = fig.get_size_inches()
    line = fontsize * 1.3 / 72 / fig_h  # one text line as a figure fraction
    pad = 0.4 * line
    chars = [max(4, int(w / text_width(1, fontsize))) for w in widths]
    aligns = aligns or ["left"] * len(header)
    xs = [left]
    for w in widths[:-1]:
        xs.append(xs[-1] + w / fig_w)
    total_w = sum(widths) / fig_w

    def wrap(cells) -> list[list[str]]:
        out = []
        for c, n in zip(cells, chars):
            lines = []
            for part in str(c).split("\n"):
                lines += textwrap.wrap(part, width=n, break_long_words=True, break_on_hyphens=False) or [""]
            out.append(lines)
        return out

    def put(y, cells, bold=False, shade=None):
        lines = wrap(cells)
        height = max(len(x) for x in lines) * line + 2 * pad
        if shade:
            fig.patches.append(Rectangle((left, y - height), total_w, height, transform=fig.transFigure,
                                         facecolor=shade, edgecolor="none", zorder=0))
        ascent = 0.8 * fontsize / 72 / fig_h
        for x, w, cell, align in zip(xs, widths, lines, aligns):
            tx = x + (w / fig_w - 0.006 if align == "right" else 0.004)
            for i, text in enumerate(cell):  # one baseline per line: cells of a row line up
                fig.text(tx, y - pad - ascent - i * line, text, fontsize=fontsize, va="baseline", ha=align,
                         fontweight="bold" if bold else "normal")
        return y - height

    y = put(top, header, bold=True, shade="#dde4ee")
    drawn = 0
    for i, row in enumerate(rows):
        need = max(len(x) for x in wrap(row)) * line + 2 * pad
        if y - need < bottom:
            break
        y = put(y, row, shade="#f4f6f9" if i % 2 else None)
        drawn += 1
    return y, drawn


def table_pages(pages: Pages, section: str, title: str, subtitle: str, header, rows, widths, **kw) -> None:
    """As many pages as the rows need."""
    rows = list(rows)
    first = True
    while first or rows:
        fig = pages.new(section, title if first else f"{title} (continued)", subtitle if first else "")
        _, drawn = draw_table(fig, CONTENT_TOP, header, rows, widths, **kw)
        if drawn == 0 and rows:
            raise ReportError(f"{title}: a table row does not fit on a page")
        rows = rows[drawn:]
        first = False


def heatmap(fig, rect, matrix: np.ndarray, ylabels, xlabels, *, cmap, norm, annotate: np.ndarray | None = None,
             fontsize: float = 7):
    """A cells-and-labels heatmap in `rect` (figure fraction); NaN cells blank; cell
    texts white on dark cells. Returns the image (for a colorbar)."""
    ax = fig.add_axes(rect)
    masked = np.ma.masked_invalid(matrix)
    image = ax.imshow(masked, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_yticks(range(len(ylabels)), ylabels, fontsize=fontsize)
    ax.set_xticks(range(len(xlabels)), xlabels, fontsize=fontsize, rotation=90)
    ax.set_xticks(np.arange(-0.5, len(xlabels), 1), minor=True)
    ax.set_yticks(np.arange(-0.5, len(ylabels), 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(which="major", length=2)
    if annotate is not None:
        size = 4.5 if len(xlabels) > 30 else 5.5
        for (i, j), text in np.ndenumerate(annotate):
            if text:
                dark = np.isfinite(matrix[i, j]) and norm(matrix[i, j]) > 0.55
                ax.text(j, i, text, ha="center", va="center", fontsize=size, color="white" if dark else "black")
    return ax, image


def left_margin(labels: Sequence[str], fontsize: float) -> float:
    """Left margin (figure fraction) for y labels of that length."""
    longest = max((len(x) for x in labels), default=10)
    return min(0.45, 0.05 + text_width(longest, fontsize) / A4_LANDSCAPE[0])


def rows_height(n: int, top: float, bottom: float, per_row: float = 0.3) -> float:
    """Axes height (figure fraction) for n heatmap rows: at most `per_row` inches each."""
    return min(top - bottom, n * per_row / A4_LANDSCAPE[1])
