"""Building the report of one run: every page in order, the PDF, the HTML and rules.csv
in ``<datamart>/_reports/<run_id>/``; and the command line that profiles a run first
when it has no profile (``python -m utils.quality.report``)."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from utils.lake import delta_io
from utils.lake.paths import PROJECT_ROOT
from utils.quality.profile import profile_path

from .checks_pages import missing_pages, quarantine_pages, rules_page, summary_page
from .data import ReportData, ReportError, load_report_data, resolve_run
from .format import portable_path
from .html_page import png, render_html
from .monitoring import monitoring_pages
from .pages import Pages
from .profile_pages import distribution_pages, drift_page
from .rules import write_rules_csv

logger = logging.getLogger(__name__)

DESCRIPTION = "Data-quality report of one run: quality.html, quality.pdf and rules.csv."


def default_out_dir(datamart: str | Path, run_id: str) -> Path:
    """``<datamart>/_reports/<run_id>``."""
    return Path(datamart) / "_reports" / run_id


def build_figures(data: ReportData) -> Pages:
    """Every page of the report, in order: summary, then per table its rule results,
    missing values, distributions (with the drift chart below when it fits, else on its
    own page) and top quarantine reasons; then the monitoring of the domain's champion
    model when it has been monitored."""
    pages = Pages(data.run["run_id"])
    summary_page(pages, data)
    for table in data.tables:
        notes = [rules_page(pages, data, table)] if table.startswith("silver/") else []
        notes.append(missing_pages(pages, data, table))
        fig, bottom = distribution_pages(pages, data, table, [n for n in notes if n])
        drift_page(pages, data, table, fig, bottom)
        if table.startswith("silver/"):
            quarantine_pages(pages, data, table)
    if data.monitoring is not None:
        monitoring_pages(pages, data.monitoring)
    return pages


def build_report(datamart: str | Path, run_id: str | None = None, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write quality.html, quality.pdf and rules.csv of a run (default: the latest
    successful run) into `out_dir` (default ``<datamart>/_reports/<run_id>``) and return
    their paths as {"html", "pdf", "rules_csv"}. Reads no Spark table and starts no
    Spark: the profile must already be in `_meta/profile` (else those sections are
    left out, with a warning)."""
    from matplotlib.backends.backend_pdf import PdfPages

    began = time.perf_counter()
    data = load_report_data(datamart, run_id)
    run_id = data.run["run_id"]
    out = Path(out_dir) if out_dir is not None else default_out_dir(datamart, run_id)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / "quality.html", "pdf": out / "quality.pdf", "rules_csv": out / "rules.csv"}
    write_rules_csv(paths["rules_csv"], data.quality)

    pages = build_figures(data)
    images: dict[str, list[str]] = {}
    with PdfPages(paths["pdf"]) as pdf:
        info = pdf.infodict()
        info["Title"] = f"Data-quality report, run {run_id}"
        info["Subject"] = portable_path(Path(datamart).resolve())  # never absolute: the PDF may be shared
        for section, fig in pages.figures:
            pdf.savefig(fig)
            if section != "summary":  # the HTML has the summary as text
                images.setdefault(section, []).append(png(fig))
    paths["html"].write_text(render_html(data, images), encoding="utf-8")
    logger.info("report of run %s: %d pages, %s (%.1fs)", run_id, len(pages.figures), out, time.perf_counter() - began)
    return paths


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    """The options of ``python -m utils.quality.report``."""
    p = argparse.ArgumentParser(prog="python -m utils.quality.report", description=DESCRIPTION,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--run-id", help="run to report on (default: the latest successful build of the ledger)")
    p.add_argument("--domain", help="with no --run-id: the latest successful build of this domain")
    p.add_argument("--out-dir", type=Path, help="output folder (default: <datamart>/_reports/<run_id>)")
    p.add_argument("--reprofile", action="store_true", help="profile the run again even when it has a profile")
    p.add_argument("--master", default="local[*]", help="Spark master URL, when the run needs profiling")
    return p


def main(argv: list[str] | None = None) -> int:
    """Profile the run when it has no profile yet, build the report, print the paths.
    0 on success, 1 with one line on stderr when the datamart cannot give a report."""
    from utils.quality.profile import profile_datamart, profiled_runs

    args = build_parser().parse_args(argv)
    datamart = args.datamart.resolve()
    try:
        run = resolve_run(datamart, args.run_id, args.domain)
        if args.reprofile or run["run_id"] not in profiled_runs(profile_path(datamart)):
            from pyspark.sql import SparkSession

            from utils.lake.spark import SparkSettings, get_spark

            started_here = SparkSession.getActiveSession() is None
            spark = get_spark(SparkSettings(master=args.master, app_name="lakehouse-report"))
            try:
                profile_datamart(spark, datamart, run["run_id"])
            finally:
                if started_here:
                    spark.stop()
        paths = build_report(datamart, run["run_id"], args.out_dir)
    except (ReportError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name in ("html", "pdf", "rules_csv"):
        print(f"{name}: {paths[name]}")
    return 0
