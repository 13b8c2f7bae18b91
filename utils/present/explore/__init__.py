"""Small summaries and charts of the datamart, for the notebooks in ``notebooks/``.

Two kinds of functions, so a notebook only calls and shows:

- **Summaries** run as one Spark aggregation (or read the Delta log, which already
  counts the rows of every file) and return a *small* pandas DataFrame: at most one
  row per table x snapshot month x column or rule. Nothing collects a whole table;
  :func:`sample_rows` brings at most ``limit`` random rows for histograms.
- **Charts** take such a frame and return a :class:`matplotlib.figure.Figure` that is
  not registered with pyplot (so a notebook shows it exactly once, where it is the
  value of a cell, and it is freed when dropped). Every chart has a title and axis
  labels; an empty frame gives a chart that says so instead of an empty axis.

Functions receive the Spark session, DataFrames and paths as arguments; they read no
environment variables and keep no state.

Modules, by idea: ``datamart`` (build it when missing), ``coverage`` (rows per snapshot
month), ``columns`` (missing and invalid values, samples, correlation), ``quality`` (the
quality `_meta` tables, quarantine and accounting), ``model`` (the sanity classifier and
the leakage guards), ``reco`` (user x item interactions, the long tail, a graded label
store and the recommenders' evaluation), ``charts`` (the chart kit they share). The energy
notebooks use ``energy`` (imported as a module, ``from utils.present.explore import energy``:
build the domain when its exploitation zone is missing, read that zone, the two analysis
pipelines' tables and charts). Every
name the notebooks use is importable from here (``from utils.present import explore;
explore.rule_summary(...)``).
"""

from __future__ import annotations

# ruff: noqa: F401  (re-exports)
from .charts import (
                      ALARM_COLOR,
                      BAR_COLOR,
                      INVALID_COLOR,
                      MISSING_COLOR,
                      SEVERITY_COLORS,
                      SNAPSHOT,
)
from .columns import (
                      FLAG_SUFFIX,
                      SAMPLE_LIMIT,
                      correlation_matrix,
                      flag_columns,
                      missing_and_invalid,
                      numeric_columns,
                      plot_boxplots,
                      plot_correlation_heatmap,
                      plot_histograms,
                      plot_missing_invalid,
                      sample_rows,
                      value_columns,
)
from .coverage import (
                      plot_rows_per_snapshot,
                      plot_time_coverage,
                      rows_per_snapshot,
                      time_coverage,
)
from .datamart import GOLD_TABLES, ensure_datamart, has_gold
from .model import (
                      best_model,
                      confusion,
                      guard_results,
                      metrics_table,
                      plot_confusion_matrix,
                      plot_feature_importance,
                      plot_single_feature_auc,
                      single_feature_aucs,
                      split_table,
)
from .quality import (
                      failure_rates,
                      failure_table,
                      latest_checks,
                      latest_run_id,
                      plot_failure_rates,
                      plot_quarantine,
                      plot_rule_failures,
                      quality_runs,
                      quarantine_sample,
                      quarantine_summary,
                      reconciliation,
                      reconciliation_totals,
                      rule_summary,
)
from .reco import (
                      activity_distribution,
                      activity_stats,
                      evaluation_table,
                      interaction_density,
                      item_popularity,
                      label_summary,
                      latest_items,
                      metrics_at_k,
                      model_runs,
                      plot_activity_histogram,
                      plot_interaction_heatmap,
                      plot_label_grades,
                      plot_long_tail,
                      plot_model_comparison,
                      plot_quarantined_by_rule,
                      plot_value_counts,
                      read_evaluation,
                      retrieval_table,
                      top_entities,
                      top_matrix,
                      top_share,
                      value_counts,
)
