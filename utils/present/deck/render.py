"""The deck in order (:data:`SLIDES`), every slide with its footer, and the PDF."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from utils.lake.paths import PROJECT_ROOT

from .facts import DeckFacts
from .format import portable_path
from .gather import gather_facts
from .slide import Slide, add_footer
from .slides_checks import (
    headline_features,
    headline_leakage,
    headline_quality,
    slide_features,
    slide_leakage,
    slide_quality,
)
from .slides_data import (
    headline_architecture,
    headline_sources,
    headline_tables,
    headline_title,
    slide_architecture,
    slide_sources,
    slide_tables,
    slide_title,
)
from .slides_results import (
    headline_limits,
    headline_model,
    headline_run,
    slide_limits,
    slide_model,
    slide_run,
)
from .style import FONT

logger = logging.getLogger(__name__)

DEFAULT_OUT = PROJECT_ROOT / "deck" / "lakehouse_deck.pdf"
MAX_SLIDES = 10

#: the deck, in order: (headline, drawing) per slide
SLIDES: tuple[tuple[Callable[[DeckFacts], str], Callable[[DeckFacts], Slide]], ...] = (
    (headline_title, slide_title),
    (headline_architecture, slide_architecture),
    (headline_sources, slide_sources),
    (headline_tables, slide_tables),
    (headline_quality, slide_quality),
    (headline_leakage, slide_leakage),
    (headline_features, slide_features),
    (headline_model, slide_model),
    (headline_run, slide_run),
    (headline_limits, slide_limits),
)
assert len(SLIDES) <= MAX_SLIDES


def headlines(f: DeckFacts) -> list[str]:
    """The headline sentence of every slide, in order (what a reader gets without a presenter)."""
    return [headline(f) for headline, _ in SLIDES]


def build_slides(f: DeckFacts) -> list:
    """Every slide as a matplotlib Figure with its footer."""
    figures = []
    for i, (_, draw) in enumerate(SLIDES, 1):
        fig = draw(f).fig
        add_footer(fig, f, i, len(SLIDES))
        figures.append(fig)
    return figures


def render_deck(f: DeckFacts, out: str | Path) -> Path:
    """Write the slides of `f` to the PDF `out` (folders created); returns the path."""
    from matplotlib.backends.backend_pdf import PdfPages

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _rc({"pdf.fonttype": 42, "font.family": FONT, "axes.unicode_minus": False}):
        figures = build_slides(f)
        metadata = {"Title": f"{f.title}: run {f.run.run_id}", "Subject": portable_path(f.datamart),
                    "Creator": "python -m utils.present.deck"}
        with PdfPages(out, metadata=metadata) as pdf:
            for fig in figures:
                pdf.savefig(fig)
    logger.info("wrote %d slides of run %s to %s", len(figures), f.run.run_id, out)
    return out


class _rc:
    """Temporarily set matplotlib rcParams (like matplotlib.rc_context, without pyplot)."""

    def __init__(self, values: dict[str, Any]):
        self.values, self.saved = values, {}

    def __enter__(self):
        from matplotlib import rcParams

        self.saved = {k: rcParams[k] for k in self.values}
        rcParams.update(self.values)

    def __exit__(self, *exc):
        from matplotlib import rcParams

        rcParams.update(self.saved)


def build_deck(datamart: str | Path, out: str | Path = DEFAULT_OUT, run_id: str | None = None) -> Path:
    """Gather the facts of `run_id` (default: latest successful run) and render the deck."""
    return render_deck(gather_facts(datamart, run_id), out)
