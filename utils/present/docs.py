"""Generated documentation: the feature catalogue and the source tables, from the YAML.

    python -m utils.present.docs [--config conf/loan_default.yaml] [--out docs/feature_catalogue.md]
                         [--formulation docs/problem_formulation.md] [--datamart DIR] [--check]

Writes (or, with ``--check``, compares against what is committed):

- ``docs/feature_catalogue.md``: every label definition and every feature of the domain's
  ``gold`` section after ``for_each`` expansion (:func:`utils.lake.config.load_config`), with
  its description, source, silver table, cutoff, transformation and version;
- the block between ``<!-- generated:sources:start -->`` and
  ``<!-- generated:sources:end -->`` of ``docs/problem_formulation.md``: one table per
  declared source (raw column, silver column, type, cleaning and checks) and the rules of
  each silver table.

Version of a feature (or label): ``v<declared>-<hash>``. ``<declared>`` is the optional
``version:`` key of the YAML entry (1 when absent); ``<hash>`` is the first 8 hex digits
of the SHA-256 of everything that decides the feature's values: name, gold source, silver
table, cutoff, expr or aggregate/column/months, and the declared version (for a label:
dpd and mob). A change to any of these in the YAML changes the version; a change to the
description alone does not. Cleaning of the underlying silver column is not part of it
(the run fingerprints and the config hash cover that).

``--datamart DIR`` appends a data section (null rate and months with data per feature,
read from ``gold/feature_store`` with ``deltalake``; no Spark). ``--check`` ignores that
section, so a catalogue written with or without a datamart checks the same. ``--check``
exits 1 naming each out-of-date file and how to regenerate it.

The Markdown of the definition is rendered by :mod:`utils.present.catalogue`; this module
writes, checks and adds the data section.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from utils.lake.config import PROJECT_ROOT, DomainConfig, load_config
from utils.present.catalogue import (  # noqa: F401  (re-exported: tests and callers use docs.<name>)
    DocsError,
    _cell,
    _relative,
    feature_version,
    label_version,
    render_catalogue,
    render_sources,
    transformation,
)
from utils.lake.datamart import Datamart
from utils.lake.paths import portable_path

logger = logging.getLogger(__name__)

DEFAULT_CONFIG = PROJECT_ROOT / "conf" / "loan_default.yaml"
DEFAULT_OUT = PROJECT_ROOT / "docs" / "feature_catalogue.md"
DEFAULT_FORMULATION = PROJECT_ROOT / "docs" / "problem_formulation.md"
DATA_MARKER = "<!-- data section: written with --datamart, ignored by --check -->"
SOURCES_BLOCK = "sources"


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- generated:{name}:start -->", f"<!-- generated:{name}:end -->"


def replace_block(text: str, name: str, content: str) -> str:
    """`text` with the generated block `name` replaced by `content`."""
    start, end = _markers(name)
    if start not in text or end not in text:
        raise DocsError(f"no generated block {name!r} ({start} ... {end})")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{content.rstrip()}\n{end}{tail}"


# --------------------------------------------------------------------------- data section


def feature_coverage(datamart: str | Path, features: Iterable[str], version: int | None = None) -> dict:
    """Null rate and months with data per feature in ``gold/feature_store`` (deltalake,
    no Spark), batch by batch. Returns ``{"version", "rows", "months", "features":
    {name: {"nulls", "null_rate", "months_with_data"}}}``; features missing from the
    table get None values."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    from utils.lake import delta_io

    path = Datamart(Path(datamart), "loan_default").table("gold", "feature_store")
    if not delta_io.table_exists(path):
        raise DocsError(f"no gold/feature_store in {datamart}; build it with `python main.py --datamart {datamart}`")
    table = DeltaTable(str(path), version=version)
    dataset = table.to_pyarrow_dataset()
    names = list(features)
    present = [n for n in names if n in dataset.schema.names]
    rows_per_month: dict = {}
    nulls_per_month: dict = {n: {} for n in present}
    for batch in dataset.to_batches(columns=["snapshot_date", *present]):
        if batch.num_rows == 0:
            continue
        grouped = pa.Table.from_batches([batch]).group_by("snapshot_date").aggregate(
            [([], "count_all")] + [(n, "count", pc.CountOptions(mode="only_null")) for n in present]
        ).to_pylist()
        for g in grouped:
            month = g["snapshot_date"]
            rows_per_month[month] = rows_per_month.get(month, 0) + g["count_all"]
            for n in present:
                nulls_per_month[n][month] = nulls_per_month[n].get(month, 0) + g[f"{n}_count"]
    total = sum(rows_per_month.values())
    result = {"version": table.version(), "rows": total, "months": len(rows_per_month), "features": {}}
    for n in names:
        if n not in nulls_per_month:
            result["features"][n] = {"nulls": None, "null_rate": None, "months_with_data": None}
            continue
        nulls = sum(nulls_per_month[n].values())
        result["features"][n] = {
            "nulls": nulls,
            "null_rate": nulls / total if total else None,
            "months_with_data": sum(1 for m, r in rows_per_month.items() if nulls_per_month[n].get(m, 0) < r),
        }
    return result


def render_data_section(config: DomainConfig, datamart: str | Path, version: int | None = None) -> str:
    """The data section: null rate and months with data per feature, from a datamart."""
    names = [f.name for f in config.gold.features]
    cov = feature_coverage(datamart, names, version)
    out = [
        DATA_MARKER,
        "",
        "## Coverage in a built datamart",
        "",
        (f"From `{portable_path(datamart)}` gold/feature_store version {cov['version']}: {cov['rows']:,} feature rows in "
        f"{cov['months']} months. Null rate = share of feature rows where "
        "the feature is null; months with data = months (of those) with at least one non-null value."),
        "",
        "| name | null rate | months with data |",
        "|---|---:|---:|",
    ]
    for n in names:
        f = cov["features"][n]
        if f["nulls"] is None:
            out.append(f"| `{n}` | not in the table | - |")
        else:
            rate = "-" if f["null_rate"] is None else f"{100 * f['null_rate']:.1f} %"
            out.append(f"| `{n}` | {rate} | {f['months_with_data']} / {cov['months']} |")
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- check and write


def definition_part(text: str) -> str:
    """The catalogue without its data section (what --check compares)."""
    return text.split(DATA_MARKER, 1)[0].rstrip() + "\n"


def catalogue_text(config: DomainConfig, config_path: Path | None = None, datamart: str | Path | None = None,
                   version: int | None = None) -> str:
    text = render_catalogue(config, config_path).rstrip() + "\n"
    if datamart is not None:
        text += "\n" + render_data_section(config, datamart, version)
    return text


def check(config: DomainConfig, out: Path, formulation: Path | None = None,
          config_path: Path | None = None) -> list[str]:
    """Problems of the committed files against the YAML: [] when up to date."""
    problems = []
    regenerate = f"python -m utils.present.docs --config {_relative(config_path or config.file)}"
    expected = definition_part(render_catalogue(config, config_path))
    if not out.is_file():
        problems.append(f"{_relative(out)} is missing; run `{regenerate} --out {_relative(out)}`")
    elif definition_part(out.read_text(encoding="utf-8")) != expected:
        problems.append(f"{_relative(out)} is out of date with {_relative(config_path or config.file)}; "
                        f"run `{regenerate} --out {_relative(out)}` and commit it")
    if formulation is not None and formulation.is_file():
        text = formulation.read_text(encoding="utf-8")
        try:
            fresh = replace_block(text, SOURCES_BLOCK, render_sources(config))
        except DocsError as exc:
            problems.append(f"{_relative(formulation)}: {exc}")
        else:
            if fresh != text:
                problems.append(f"{_relative(formulation)}: the generated sources block is out of date; "
                                f"run `{regenerate}` and commit it")
    return problems


def write(config: DomainConfig, out: Path, formulation: Path | None = None, config_path: Path | None = None,
          datamart: str | Path | None = None, version: int | None = None) -> list[Path]:
    """Write the catalogue (and refresh the sources block of `formulation` when that file
    exists); returns the files changed."""
    changed = []
    text = catalogue_text(config, config_path, datamart, version)
    if not out.is_file() or out.read_text(encoding="utf-8") != text:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        changed.append(out)
    if formulation is not None and formulation.is_file():
        old = formulation.read_text(encoding="utf-8")
        new = replace_block(old, SOURCES_BLOCK, render_sources(config))
        if new != old:
            formulation.write_text(new, encoding="utf-8")
            changed.append(formulation)
    for path in changed:
        logger.debug("wrote %s", path)
    return changed


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m utils.present.docs",
        description="Generate the feature catalogue (and the source tables of the problem formulation) "
                    "from the domain YAML, or check that the committed ones are up to date.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="domain configuration file")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="feature catalogue to write or check")
    p.add_argument("--formulation", type=Path, default=DEFAULT_FORMULATION,
                   help="Markdown file whose generated sources block is refreshed or checked (skipped when absent)")
    p.add_argument("--datamart", type=Path, default=None,
                   help="add null rate and months with data per feature from <datamart>/gold/feature_store")
    p.add_argument("--version", type=int, default=None, help="gold/feature_store version for --datamart")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a file is out of date with the configuration")
    return p


def main(argv: list[str] | None = None) -> int:
    """0: written or up to date; 1: out of date (--check) or cannot generate; 2: wrong options."""
    from utils.lake.config import ConfigError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version is not None and args.datamart is None:
        parser.error("--version needs --datamart")
    formulation = args.formulation if args.formulation.is_file() else None
    try:
        config = load_config(path=args.config)
        if args.check:
            problems = check(config, args.out, formulation, args.config)
            for problem in problems:
                print(f"error: {problem}", file=sys.stderr)
            if not problems:
                print("up to date: " + ", ".join(_relative(p) for p in (args.out, formulation) if p is not None))
            return 1 if problems else 0
        changed = write(config, args.out, formulation, args.config, args.datamart, args.version)
    except (DocsError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("wrote " + ", ".join(_relative(p) for p in changed) if changed else "unchanged: " + _relative(args.out))
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    sys.exit(main())
