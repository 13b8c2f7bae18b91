"""What the report says in words, shared by the PDF and the HTML: the summary table,
the run lines (run, trend, accounting, guards) and the top quarantine reasons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from .data import SAMPLES_PER_REASON, TOP_REASONS, ReportData
from .format import day, delta, num, raw_text, shorten


def summary_rows(data: ReportData) -> list[list[str]]:
    rows = []
    for s in data.summaries:
        rows.append([
            s.table, "–" if s.version is None else str(s.version), str(s.partitions), num(s.rows),
            delta(s.rows, s.prev_rows), num(s.quarantined), delta(s.quarantined, s.prev_quarantined),
            f"{s.rules_failed} of {s.rules}" if s.rules else "–", num(s.failed_checks),
            delta(s.failed_checks, s.prev_failed_checks),
        ])
    return rows


SUMMARY_NOTES = [
    "rows: rows of the table at the version this run left; quarantined: rows of silver/_quarantine for the table;",
    ("rules failed: rules with at least one failing row, of the rules checked in this run; failed checks: rows "
     "failed summed over rules and partitions (a row failing two rules counts twice);"),
    "Δ: change since the previous successful run (– when that run has no value to compare).",
]
SUMMARY_HEADER = ["table", "version", "partitions", "rows", "Δ rows", "quarantined", "Δ quar.",
                  "rules failed", "failed checks", "Δ failed"]


def run_lines(data: ReportData) -> list[str]:
    run, prev = data.run, data.previous
    seconds = run.get("seconds")
    lines = [
        f"run {run['run_id']}  ·  status {run['status']}  ·  started {run['started_at']:%Y-%m-%d %H:%M:%S} UTC"
        + (f"  ·  {seconds:.0f} s" if seconds else "") + f"  ·  code {run.get('code_version') or 'unknown'}",
        (f"compared with the previous successful run {prev['run_id']} ({prev['started_at']:%Y-%m-%d %H:%M} UTC)"
         if prev else "no earlier successful run: no trend"),
    ]
    acc = data.accounting
    if not acc.empty:
        bad = acc[~acc["balanced"].astype(bool)]
        lines.append(f"row accounting: {len(acc)} silver partitions checked, bronze = silver + quarantine in "
                     + ("all" if bad.empty else f"all but {len(bad)}"))
    else:
        lines.append("row accounting: no silver table was rebuilt in this run")
    leak = data.leakage
    if not leak.empty:
        failed = leak[~leak["passed"].astype(bool)]
        guards = ", ".join(sorted(leak["guard"].unique()))
        lines.append(f"leakage guards ({guards}): {len(leak)} results, "
                     + ("all passed" if failed.empty else f"{len(failed)} alarm(s): "
                        + ", ".join(shorten(str(x), 40) for x in failed["subject"].head(5))))
    unchecked = [t for t in data.tables if t.startswith("silver/") and t not in set(data.quality["table"])]
    if unchecked:
        lines.append(f"rules not re-checked in this run (inputs unchanged, table not rebuilt): {', '.join(unchecked)}")
    return lines


def reason_rows(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Top quarantine reasons: reason text, rows, share, and sample rows (lineage and
    the masked raw values), most frequent first."""
    total = len(rows)
    out = []
    reasons = rows["reason"].fillna("")
    counts = reasons.value_counts()
    for reason, n in counts.head(TOP_REASONS).items():
        picked = rows[reasons == reason]
        samples = picked.sort_values(["snapshot_date", "_source_line"]).head(SAMPLES_PER_REASON)
        out.append({"reason": reason, "rows": int(n), "share": n / total, "samples": [
            {"snapshot_date": day(s["snapshot_date"]),
             "source": f"{Path(str(s['_source_file'])).name}:{s['_source_line']}",
             "raw_values": raw_text(s["raw_values"]), "malformed_line": s["_malformed_record"] or ""}
            for s in samples.to_dict("records")]})
    return out
