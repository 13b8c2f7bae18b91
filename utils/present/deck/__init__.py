"""The slide deck of a datamart's latest run: ten 16:9 slides in one PDF.

    python -m utils.present.deck [--datamart DIR] [--out deck/lakehouse_deck.pdf] [--run-id ID]

Two halves, so the numbers can be tested without drawing anything:

* :func:`gather_facts` (module ``gather``, with ``runs``) reads what the deck shows into
  a :class:`DeckFacts` (``facts``): the run ledger (`_meta/runs`) and the run record
  (`_meta/run_records/<run_id>.json`), the row counts per partition of every bronze,
  silver and gold table of the run's domain (``<layer>/<domain>/<table>``, located by
  :class:`utils.lake.datamart.Datamart`) at the Delta version the run left it (from the Delta log, no
  data read), the labels of `gold/label_store`, the quarantined rows, the run's rows of
  `_meta/quality`, `_meta/accounting`, `_meta/leakage`, `_meta/statistics` and
  `_meta/profile`, the domain configuration (`conf/<domain>.yaml` through
  :mod:`utils.lake.config`) and the newest sanity model
  (`_models/<label_def>/<stamp>/metrics.json` of ``python -m utils.ml.train``) or, when
  the label is of kind interactions (graded (user, item) rows, e.g. recommendation), the
  recommenders' out-of-time evaluation (`_models/<domain>/evaluation.json` of
  ``python main.py train``, which a full build also runs) as :class:`RankingFacts`.
  Metadata of a table the run did not rebuild (inputs unchanged, or a partition range)
  comes from the latest earlier run that did, per table and partition.
* one ``slide_*`` function per slide (``slides_data``, ``slides_checks``,
  ``slides_results``; ``slides_ranking`` is the model slide of a graded label, chosen by
  ``slide_model`` from the label kind) draws a :class:`Slide` (``slide``, on the grid, type scale and
  palette of ``style``, with the text helpers of ``format``) from the facts alone;
  :func:`render_deck` (``render``) writes them with PdfPages; ``cli`` is the command
  line. Every number on a slide is a field of the facts; the headline of each slide
  (``headline_*``) states its takeaway. A path on a slide is relative to the project or
  only its folder name (:func:`portable_path`), never absolute.

The energy domain has no label store: ``python -m utils.present.deck --domain energy``
draws its own eight slides (``energy_facts`` gathers :class:`EnergyFacts`,
``slides_energy`` draws them) and, with ``--companion``, the design document of at most
five A4 pages (``companion``), on the same style, slide helpers and footer.

No Spark, no network, no pyplot (so no global backend is switched). May import
:mod:`utils.lake`. Every name of the former single module is importable from here.
"""

from __future__ import annotations

from .cli import build_parser, main

# ruff: noqa: F401  (re-exports)
from .facts import (
                    BRONZE_LINEAGE,
                    FEATURE_STORE,
                    LABEL_STORE,
                    META_TABLES,
                    QUARANTINE,
                    DeckError,
                    DeckFacts,
                    FeatureFacts,
                    GuardFacts,
                    LabelFacts,
                    LeakageFacts,
                    MissingFacts,
                    ModelFacts,
                    QualityFacts,
                    RankingFacts,
                    ReconcileFacts,
                    RecommenderFacts,
                    RuleFacts,
                    RunFacts,
                    SourceFacts,
                    StatisticFacts,
                    TableFacts,
)
from .format import (
                    mb,
                    month_of,
                    month_span,
                    n,
                    pct,
                    plain,
                    plural,
                    portable_path,
                    seconds,
                    short_table,
)
from .gather import (
                    feature_kind,
                    gather_facts,
                    gather_features,
                    gather_labels,
                    gather_leakage,
                    gather_missing,
                    gather_model,
                    gather_quality,
                    gather_ranking,
                    gather_run,
                    gather_sources,
                    gather_statistics,
                    gather_tables,
                    grain,
                    newest_model,
)
from .render import (
                    DEFAULT_OUT,
                    MAX_SLIDES,
                    SLIDES,
                    build_deck,
                    build_slides,
                    headlines,
                    render_deck,
)
from .runs import (
                    as_time,
                    effective_rows,
                    latest_inputs,
                    ledger_runs,
                    resolve_run,
                    run_config,
                    run_options,
                    run_record,
                    source_inputs,
                    table_versions,
)
from .slide import FOOTER_ROOM, Slide, add_footer, footer_text, table_height
from .slides_checks import (
                    KIND_NAMES,
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
                    gist,
                    headline_title,
                    slide_architecture,
                    slide_sources,
                    slide_tables,
                    slide_title,
)
from .slides_ranking import ceiling_text, headline_ranking, metric_name, slide_ranking
from .slides_results import (
                    NEXT_STEPS,
                    NEXT_STEPS_RANKING,
                    headline_limits,
                    headline_model,
                    headline_run,
                    limits,
                    next_steps,
                    run_commands,
                    run_options_text,
                    shell_lines,
                    slide_limits,
                    slide_model,
                    slide_run,
)
from .style import (
                    ACCENT,
                    ASCENT,
                    BODY,
                    COLUMN_W,
                    COLUMNS,
                    CONTENT_BOTTOM,
                    CONTENT_TOP,
                    CONTENT_W,
                    DISPLAY,
                    FONT,
                    FOOTER_RULE_Y,
                    FOOTER_Y,
                    GREY,
                    GREY_DARK,
                    GREY_FAINT,
                    GREY_LIGHT,
                    GUTTER,
                    HEADLINE_LINES,
                    HEADLINE_Y,
                    INK,
                    KICKER_Y,
                    LINESPACING,
                    MARGIN_X,
                    MONO,
                    NAVY,
                    NAVY_TINT,
                    SLIDE_H,
                    SLIDE_W,
                    SMALL,
                    TITLE,
                    grid,
                    line_height,
                    text_width,
                    wrap,
)
