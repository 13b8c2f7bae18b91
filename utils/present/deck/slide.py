"""One slide: a 16:9 matplotlib Figure with a kicker, a headline of at most two lines,
helpers that place text, tables, boxes, arrows and charts in inches from the top-left
corner, and the footer every slide carries (run id, data root, datamart, page)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from .facts import DeckFacts
from .format import plain, portable_path
from .style import (
    ACCENT,
    ASCENT,
    BODY,
    CONTENT_BOTTOM,
    CONTENT_W,
    DISPLAY,
    FONT,
    FOOTER_RULE_Y,
    FOOTER_Y,
    GREY,
    GREY_DARK,
    GREY_LIGHT,
    HEADLINE_LINES,
    HEADLINE_Y,
    INK,
    KICKER_Y,
    MARGIN_X,
    NAVY,
    SLIDE_H,
    SLIDE_W,
    SMALL,
    TITLE,
    line_height,
    text_width,
    wrap,
)

logger = logging.getLogger(__name__)


#: half the gutter between table columns; none at the table's outer edges
HALF_GUTTER = 0.1


def _inner(i: int, columns: int) -> tuple[float, float]:
    """(left, right) padding of column `i` of a table of `columns` columns."""
    return (HALF_GUTTER if i else 0.0), (HALF_GUTTER if i < columns - 1 else 0.0)


def _cells(values: Sequence[str], widths: Sequence[float], size: float, weight: str) -> list[list[str]]:
    """The lines of every cell of a table row, wrapped to its column."""
    return [wrap(str(v), w - sum(_inner(i, len(widths))), size, weight=weight)
            for i, (v, w) in enumerate(zip(values, widths))]


def table_height(widths: Sequence[float], header: Sequence[str], rows: Sequence[Sequence[str]], *,
                 size: float = SMALL, pad: float = 0.07) -> float:
    """The height in inches :meth:`Slide.table` gives these rows (measured, not drawn)."""
    lh = line_height(size)
    return sum(max(len(c) for c in _cells(values, widths, size, weight)) * lh + 2 * pad
               for values, weight in [(header, "bold"), *((r, "normal") for r in rows)])


class Slide:
    """One 16:9 Figure with a kicker, a headline of at most two lines and helpers that
    place text, tables, boxes and charts in inches from the top-left corner."""

    def __init__(self, kicker: str, headline: str):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.fig = Figure(figsize=(SLIDE_W, SLIDE_H), facecolor="white")
        FigureCanvasAgg(self.fig)
        self.kicker, self.headline = kicker, headline
        self.text(MARGIN_X, KICKER_Y, kicker.upper(), size=SMALL, color=ACCENT, weight="bold")
        lines = wrap(headline, CONTENT_W, TITLE, weight="bold")
        if len(lines) > HEADLINE_LINES:
            logger.warning("headline of slide %r takes %d lines: %s", kicker, len(lines), headline)
        self.text(MARGIN_X, HEADLINE_Y, "\n".join(lines), size=TITLE, color=NAVY, weight="bold")

    # positions: x from the left edge, y from the top edge, in inches
    def _xy(self, x: float, y: float) -> tuple[float, float]:
        return x / SLIDE_W, 1 - y / SLIDE_H

    def text(self, x: float, y: float, s: str, *, size: float = BODY, color: str = INK, weight: str = "normal",
             ha: str = "left", va: str = "top", family: str = FONT, **kw) -> None:
        """Text at (x, y). With va="top" every line is placed on its own baseline
        (top + ascent + i x line height), so bold and regular text, and every backend,
        line up on the same grid."""
        s = plain(s)
        if va != "top":
            self.fig.text(*self._xy(x, y), s, fontsize=size, color=color, fontweight=weight, ha=ha, va=va,
                          family=family, **kw)
            return
        for i, line in enumerate(str(s).split("\n")):
            base = y + ASCENT * size / 72 + i * line_height(size, family)
            self.fig.text(*self._xy(x, base), line, fontsize=size, color=color, fontweight=weight, ha=ha,
                          va="baseline", family=family, **kw)

    def paragraph(self, x: float, y: float, s: str, width: float, *, size: float = BODY, color: str = INK,
                  weight: str = "normal", family: str = FONT) -> float:
        """Wrapped text from (x, y) down; returns the y below its last line."""
        lines = wrap(s, width, size, weight=weight, family=family)
        self.text(x, y, "\n".join(lines), size=size, color=color, weight=weight, family=family)
        return y + len(lines) * line_height(size, family)

    def bullets(self, x: float, y: float, items: Sequence[str], width: float, *, size: float = BODY,
                color: str = INK, gap: float = 0.12, marker_color: str = ACCENT) -> float:
        indent = size * 1.1 / 72
        for item in items:
            self.text(x, y, "■", size=size * 0.6, color=marker_color, va="top")
            y = self.paragraph(x + indent, y - size * 0.12 / 72, item, width - indent, size=size, color=color) + gap
        return y

    def rule(self, x0: float, x1: float, y: float, *, color: str = GREY_LIGHT, width: float = 0.8) -> None:
        from matplotlib.lines import Line2D

        (a, b), (c, d) = self._xy(x0, y), self._xy(x1, y)
        self.fig.add_artist(Line2D([a, c], [b, d], color=color, linewidth=width, transform=self.fig.transFigure))

    def line(self, x0: float, y0: float, x1: float, y1: float, *, color: str = GREY_LIGHT, width: float = 0.8) -> None:
        from matplotlib.lines import Line2D

        (a, b), (c, d) = self._xy(x0, y0), self._xy(x1, y1)
        self.fig.add_artist(Line2D([a, c], [b, d], color=color, linewidth=width, transform=self.fig.transFigure))

    def box(self, x: float, y: float, w: float, h: float, *, fill: str = "white", edge: str = GREY_LIGHT,
            lw: float = 1.0, radius: float = 0.06, dashed: bool = False) -> None:
        from matplotlib.patches import FancyBboxPatch

        self.fig.add_artist(FancyBboxPatch(
            (x, SLIDE_H - y - h), w, h, boxstyle=f"round,pad=0,rounding_size={radius}", facecolor=fill,
            edgecolor=edge, linewidth=lw, linestyle="--" if dashed else "-", transform=self.fig.dpi_scale_trans))

    def arrow(self, x0: float, y0: float, x1: float, y1: float, *, color: str = NAVY, lw: float = 1.6,
              dashed: bool = False, head: bool = True) -> None:
        from matplotlib.patches import FancyArrowPatch

        self.fig.add_artist(FancyArrowPatch(
            (x0, SLIDE_H - y0), (x1, SLIDE_H - y1), arrowstyle="-|>,head_length=5,head_width=3" if head else "-",
            mutation_scale=1.6, color=color, linewidth=lw, linestyle="--" if dashed else "-",
            transform=self.fig.dpi_scale_trans, shrinkA=0, shrinkB=0))

    def axes(self, x: float, y: float, w: float, h: float):
        """Chart axes with the deck's style: no top/right spines, small grey ticks."""
        ax = self.fig.add_axes([x / SLIDE_W, 1 - (y + h) / SLIDE_H, w / SLIDE_W, h / SLIDE_H])
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        for side in ("left", "bottom"):
            ax.spines[side].set_color(GREY_LIGHT)
        ax.tick_params(labelsize=SMALL, colors=GREY_DARK, length=0)
        ax.set_facecolor("white")
        return ax

    def table(self, x: float, y: float, widths: Sequence[float], header: Sequence[str], rows: Sequence[Sequence[str]],
              *, size: float = SMALL, aligns: Sequence[str] | None = None, pad: float = 0.07,
              strong_first: bool = True, row_colors: Sequence[str | None] | None = None) -> float:
        """A table from (x, y) down: header, navy rule, rows with light rules; cells
        wrap to their column width. Returns the y below the last row."""
        aligns = aligns or ["left"] * len(widths)
        lh = line_height(size)

        def draw(values, top, weight, color, first_weight):
            lines = _cells(values, widths, size, weight)
            cx = x
            for i, (cell, w, al) in enumerate(zip(lines, widths, aligns)):
                lpad, rpad = _inner(i, len(widths))
                tx = cx + w - rpad if al == "right" else cx + lpad
                self.text(tx, top + pad, "\n".join(cell), size=size, color=color, ha=al,
                          weight=first_weight if i == 0 else weight)
                cx += w
            return top + max(len(c) for c in lines) * lh + 2 * pad

        bottom = draw(header, y, "bold", GREY_DARK, "bold")
        self.rule(x, x + sum(widths), bottom, color=NAVY, width=1.2)
        for i, row in enumerate(rows):
            color = (row_colors[i] if row_colors and row_colors[i] else INK)
            bottom = draw(row, bottom, "normal", color, "bold" if strong_first else "normal")
            self.rule(x, x + sum(widths), bottom)
        if bottom > CONTENT_BOTTOM:
            logger.warning("table of slide %r runs %.2f in into the footer", self.kicker, bottom - CONTENT_BOTTOM)
        return bottom

    def tile(self, x: float, y: float, w: float, value: str, label: str, *, color: str = NAVY) -> float:
        """A big number with a small label under it; returns the y below."""
        self.rule(x, x + w, y, color=color, width=2.0)
        self.text(x, y + 0.12, value, size=DISPLAY, color=color, weight="bold")
        return self.paragraph(x, y + 0.12 + DISPLAY * 1.25 / 72, label, w, size=SMALL, color=GREY_DARK)


#: room of the footer's left text: the content width less the page number's place
FOOTER_ROOM = SLIDE_W - 2 * MARGIN_X - 1.0


def footer_text(facts: DeckFacts, room: float = FOOTER_ROOM) -> str:
    """"run <id> · data root <path> · datamart <path>", the paths relative to the project
    (or "…/<folder>", never absolute; see :func:`portable_path`) and, when the line is
    wider than `room` inches, shortened from their start: their end says the most."""
    root, dm = portable_path(facts.run.data_root) or "–", portable_path(facts.datamart)
    left = f"run {facts.run.run_id}   ·   data root {root}   ·   datamart {dm}"
    while text_width(left, SMALL) > room and max(len(root), len(dm)) > 12:
        if len(root) >= len(dm):
            root = "…" + root.lstrip("…")[1:]
        else:
            dm = "…" + dm.lstrip("…")[1:]
        left = f"run {facts.run.run_id}   ·   data root {root}   ·   datamart {dm}"
    return left


def add_footer(fig, facts: DeckFacts, page: int, total: int) -> None:
    """Footer: :func:`footer_text` on the left, page number on the right."""
    from matplotlib.lines import Line2D

    y = 1 - FOOTER_RULE_Y / SLIDE_H
    fig.add_artist(Line2D([MARGIN_X / SLIDE_W, 1 - MARGIN_X / SLIDE_W], [y, y], color=GREY_LIGHT, linewidth=0.8))
    fig.text(MARGIN_X / SLIDE_W, 1 - FOOTER_Y / SLIDE_H, plain(footer_text(facts)), fontsize=SMALL, color=GREY,
             va="top", family=FONT)
    fig.text(1 - MARGIN_X / SLIDE_W, 1 - FOOTER_Y / SLIDE_H, f"{page} / {total}", fontsize=SMALL, color=GREY,
             va="top", ha="right", family=FONT)
