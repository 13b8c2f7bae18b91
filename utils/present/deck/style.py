"""The deck's visual system: a 16:9 page, a 12-column grid, a type scale, one palette,
and text measured in inches without a renderer (so layout is decided before drawing)."""

from __future__ import annotations

#: 16:9 slide in inches, and the grid every slide uses (inches from the top-left corner)

SLIDE_W, SLIDE_H = 40 / 3, 7.5  # 960 x 540 points
MARGIN_X = 0.6
CONTENT_W = SLIDE_W - 2 * MARGIN_X
KICKER_Y = 0.42
HEADLINE_Y = 0.66
CONTENT_TOP = 1.95
CONTENT_BOTTOM = 6.8
FOOTER_RULE_Y = 6.98
FOOTER_Y = 7.12
COLUMNS, GUTTER = 12, 0.25
COLUMN_W = (CONTENT_W - (COLUMNS - 1) * GUTTER) / COLUMNS

#: type scale (points): big numbers, headline, body, small (tables, charts, footer)
DISPLAY, TITLE, BODY, SMALL = 34, 24, 14, 11
#: one palette: a corporate navy, one accent, greys
NAVY = "#1B2A4A"
NAVY_TINT = "#E8ECF3"
ACCENT = "#E07A2E"
INK = "#23272E"
GREY_DARK = "#555B65"
GREY = "#8C929B"
GREY_LIGHT = "#D4D7DC"
GREY_FAINT = "#F3F4F6"
FONT = "DejaVu Sans"
MONO = "DejaVu Sans Mono"
LINESPACING = 1.3
ASCENT = 0.93  # of the font size: from the top of a line to its baseline
HEADLINE_LINES = 2


def grid(start: int, span: int) -> tuple[float, float]:
    """(x, width) in inches of `span` grid columns starting at column `start` (0-based)."""
    return MARGIN_X + start * (COLUMN_W + GUTTER), span * COLUMN_W + (span - 1) * GUTTER


def text_width(text: str, size: float, *, weight: str = "normal", family: str = FONT) -> float:
    """Width in inches of `text` set in `family` at `size` points (no renderer needed)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop = FontProperties(family=family, size=size, weight=weight)
    width, _, _ = TextToPath().get_text_width_height_descent(text, prop, ismath=False)
    return width / 72


def wrap(text: str, width: float, size: float, *, weight: str = "normal", family: str = FONT) -> list[str]:
    """`text` broken into lines no wider than `width` inches (words longer than a line
    stay whole); explicit newlines are kept."""
    lines: list[str] = []
    for para in str(text).split("\n"):
        words, line = para.split(" "), ""
        for word in words:
            trial = f"{line} {word}" if line else word
            if line and text_width(trial, size, weight=weight, family=family) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def line_height(size: float, family: str = FONT) -> float:
    """Distance in inches between baselines of consecutive lines at `size` points."""
    return size * 1.17 * LINESPACING / 72 if family == FONT else size * 1.18 * LINESPACING / 72
