"""Data-quality report of one run: ``quality.html``, ``quality.pdf`` and ``rules.csv``.

    python -m utils.quality.report [--datamart DIR] [--run-id ID] [--out-dir DIR]

writes ``<datamart>/_reports/<run_id>/`` (or ``--out-dir``) for the latest successful
run of the ledger (or ``--run-id``), profiling the run first when `_meta/profile` has
no rows of it (that needs Spark; the report itself does not), and prints the paths.

What it reads, and only that: the run ledger (`_meta/runs`), `_meta/quality`,
`_meta/accounting`, `_meta/leakage`, `_meta/profile`, `_meta/drift`, `_meta/performance`,
`_meta/alerts` (the domain's latest monitoring run), the Delta logs of the silver and
gold tables of the run's domain (``<layer>/<domain>/<table>``, located by
:class:`utils.lake.datamart.Datamart`; row counts per partition at the versions the run
recorded) and
`silver/_quarantine` at the run's version (whose raw values were masked when written).
Nothing from bronze.

Content:
  - ``rules.csv``: the run's rows of `_meta/quality` unchanged (one row per table,
    partition and rule: rows checked and failed, kind, severity, action), sorted by
    table, snapshot_date and rule;
  - summary: per table rows, partitions, quarantined rows, rules failed and failed
    checks, with their change since the previous successful run; row accounting and
    leakage guards;
  - per table: rule results per partition (heatmap of the failing rules), missing and
    invalid values per column and partition, distributions (histograms from the
    stored bins: all partitions, first and latest), drift of every numeric column
    between the first and the latest partition (PSI from the stored histograms, bands
    0.1 and 0.25), and for silver the top quarantine reasons with sample rows;
  - monitoring, when the run's domain has been monitored (``python -m utils.ml.monitor``):
    PSI per feature over the snapshots (the features that drift most) and the champion's
    ROC AUC per labelled cohort, from `_meta/drift`, `_meta/performance` and `_meta/alerts`.

The HTML is one self-contained file (inline CSS, figures as base64 PNG); the PDF has
A4 landscape pages drawn with matplotlib (no pyplot, so no global backend is set). The
datamart is named relative to the project, or by its folder name only: never an
absolute path.

Modules, by idea: ``data`` (reading the run's tables into a :class:`ReportData`),
``drift`` (PSI), ``rules`` (rules.csv and rule totals), ``format`` and ``summary``
(text shared by PDF and HTML), ``pages`` (the PDF's drawing kit), ``checks_pages``,
``profile_pages`` and ``monitoring`` (the pages), ``html_page`` (the HTML), ``build`` (the
report and the command line). May import utils.lake, utils.layers.leakage (its schema) and
utils.quality. Every public name of the former single module is importable from here
(PROJECT_ROOT from utils.lake.paths).
"""

from __future__ import annotations

from .build import build_figures, build_parser, build_report, default_out_dir, main
from .checks_pages import (
                   missing_pages,
                   missing_summary,
                   quarantine_pages,
                   rules_page,
                   summary_page,
)
from .data import (
                   KEY_LIKE_SHARE,
                   MAX_HEATMAP_ROWS,
                   MAX_PSI_BARS,
                   QUARANTINE,
                   SAMPLES_PER_REASON,
                   TOP_REASONS,
                   ReportData,
                   ReportError,
                   TableSummary,
                   load_report_data,
                   resolve_run,
                   successful_runs,
)

# ruff: noqa: F401  (re-exports)
from .drift import PSI_BANDS, PSI_EPSILON, drift_table, psi, psi_band
from .format import portable_path
from .html_page import CSS, PNG_DPI, render_html, table_section
from .monitoring import MonitoringData, load_monitoring, monitoring_html, monitoring_pages
from .pages import (
                   A4_LANDSCAPE,
                   COLORS,
                   CONTENT_TOP,
                   SUBTITLE_CHARS,
                   Pages,
                   draw_table,
                   table_pages,
)
from .profile_pages import (
                   GRID_COLUMNS,
                   GRID_ROW,
                   GRID_ROWS,
                   distribution_pages,
                   drift_page,
)
from .rules import read_rules_csv, rule_totals, with_rule_labels, write_rules_csv
from .summary import SUMMARY_HEADER, SUMMARY_NOTES, reason_rows, run_lines, summary_rows
