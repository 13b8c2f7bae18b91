"""The notebooks' chart kit: a figure not registered with pyplot, a tidy axis, a chart that
says there is nothing to draw, grids of panels, month axes, and the palette."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

SNAPSHOT = "snapshot_date"
SEVERITY_COLORS = {"warn": "#E69F00", "drop": "#D55E00", "fail": "#7B0000"}
MISSING_COLOR, INVALID_COLOR = "#56B4E9", "#D55E00"
BAR_COLOR, ALARM_COLOR = "#0072B2", "#D55E00"


def figure(width: float, height: float) -> Figure:
    """A Figure of that size in inches, constrained layout, not registered with pyplot."""
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def tidy(ax, grid_axis: str = "y") -> None:
    """No top/right frame, a light grid on the value axis only."""
    ax.spines[["top", "right"]].set_visible(False)
    if grid_axis:
        ax.grid(axis=grid_axis, alpha=0.3, linewidth=0.8)
        ax.set_axisbelow(True)


def empty_chart(title: str, message: str, width: float = 8, height: float = 2.5) -> Figure:
    """A chart that states there is nothing to draw."""
    fig = figure(width, height)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, transform=ax.transAxes)
    return fig


def axes_grid(fig: Figure, n: int, ncols: int, **kwargs) -> list:
    """n axes in a grid of `ncols` columns; the unused cells are switched off."""
    nrows = max(1, math.ceil(n / ncols))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, **kwargs)).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return list(axes[:n])


def month_axis(ax) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))


def short_table(table: str) -> str:
    """'silver/financials' -> 'financials'."""
    return table.split("/", 1)[-1]
