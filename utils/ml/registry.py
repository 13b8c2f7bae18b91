"""The feature registry: every feature of every domain in conf/, generated from the YAML.

    python -m utils.ml.registry                      # write docs/feature_registry.md
    python -m utils.ml.registry --check              # exit 1 when that file is stale
    python -m utils.ml.registry --out - --datamart datamart   # print it, with dtypes

One :class:`FeatureEntry` per feature: domain, entity, name, description, source (gold
source -> silver table -> bronze source -> file or API, from the config), transformation
(in words, from the definition), version, owner ("unassigned" when none) and dtype (from
the Delta schema of gold/<domain>/feature_store when a datamart is given and the table
exists). Feature definitions are read generically (``dataclasses.fields``): a field the
words below do not know yet is still shown in the transformation and hashed into the
version, so a new kind of feature never goes unregistered.

The version is ``v<declared version>-<8 hex digits>``, the digits hashing the definition
(name, source, silver table, cutoff, expr, aggregate, column, months, declared version,
and every other field of the definition that is not at its default); descriptions and
owners are not part of it. For features with only those fields it equals the version of
docs/feature_catalogue.md. The committed file is generated without a datamart, so it is
reproducible from a clean checkout; `--check` regenerates with the options given and
compares.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from utils.lake import delta_io
from utils.lake.config import CONF_DIR, DomainConfig, FeatureDef, GoldSpec, load_config
from utils.lake.datamart import Datamart
from utils.lake.paths import PROJECT_ROOT, portable_path

log = logging.getLogger(__name__)

DEFAULT_OUT = PROJECT_ROOT / "docs" / "feature_registry.md"
COMMAND = "python -m utils.ml.registry"
UNASSIGNED = "unassigned"
#: Fields of FeatureDef that the transformation text below puts into words.
DESCRIBED = {"name", "source", "description", "version", "expr", "aggregate", "owner", "column", "months",
             "days", "offset_days", "where"}
#: Fields never hashed into the version (rewording or re-owning keeps it).
NOT_DEFINITION = {"description", "owner"}
#: Fields always hashed (the catalogue's definition), at their default or not.
CORE = ("name", "source", "expr", "aggregate", "column", "months", "version")
#: Event aggregates that read a column, in words.
EVENT_STATS = {"sum": "sum", "mean": "mean", "min": "minimum", "max": "maximum", "distinct": "distinct values"}


@dataclass(frozen=True)
class FeatureEntry:
    """One feature of one domain, as the registry lists it."""

    domain: str
    entity: str
    name: str
    description: str
    source: str
    transformation: str
    version: str
    owner: str
    dtype: str = ""
    definition: dict[str, Any] = field(default_factory=dict, compare=False)
    table: str = "feature_store"  # the gold table holding it (feature_store or an entity table)


# --------------------------------------------------------------------------- one feature


def _code(text: object) -> str:
    """`text` as Markdown inline code (doubled fence when it holds a backtick)."""
    body = str(text)
    return f"`` {body} ``" if "`" in body else f"`{body}`"


def _defaults() -> dict[str, Any]:
    """The default value of each FeatureDef field that has one."""
    out = {}
    for f in dataclasses.fields(FeatureDef):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _extras(feature: FeatureDef) -> dict[str, Any]:
    """Fields of the definition not at their default that the words do not describe."""
    defaults, values = _defaults(), dataclasses.asdict(feature)
    return {k: v for k, v in values.items() if k not in DESCRIBED and (k not in defaults or v != defaults[k])}


def definition(feature: FeatureDef, spec: GoldSpec) -> dict[str, Any]:
    """What decides the feature's values (what its version hashes): the core fields, the
    source's silver table and cutoff, and every other field not at its default."""
    table, cutoff = spec.sources.get(feature.source, (None, None))
    values = dataclasses.asdict(feature)
    defaults = _defaults()
    body = {k: values[k] for k in CORE}
    body |= {"table": table, "cutoff": cutoff}
    for key, value in values.items():
        if key in CORE or key in NOT_DEFINITION:
            continue
        if key not in defaults or value != defaults[key]:
            body[key] = value
    return body


def feature_version(feature: FeatureDef, spec: GoldSpec) -> str:
    """``v<declared version>-<8 hex digits of the definition's SHA-256>``."""
    digest = hashlib.sha256(json.dumps(definition(feature, spec), sort_keys=True, default=str).encode())
    return f"v{feature.version}-{digest.hexdigest()[:8]}"


def _origin(config: DomainConfig, bronze: str) -> str:
    source = config.sources.get(bronze)
    if source is None:
        return ""
    if source.api is not None:
        return f"API {source.api.url}"
    return f"file {source.path}"


def source_lineage(feature: FeatureDef, config: DomainConfig, spec: GoldSpec | None = None) -> tuple[str, ...]:
    """Where the feature's data comes from, nearest first: gold source, silver table,
    bronze source, file or API. A derived feature names the features it reads. `spec`:
    the feature's table (default the feature store)."""
    spec = spec or config.gold
    if not feature.source:
        names = [f.name for f in spec.features]
        earlier = set(names[: names.index(feature.name)]) if feature.name in names else set(names)
        used = sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", feature.expr or "")) & earlier)
        return (f"derived from {', '.join(used)}" if used else "derived from other features",)
    table, _ = spec.sources.get(feature.source, (feature.source, ""))
    steps = [feature.source, f"silver/{table}"]
    silver = config.silver.get(table)
    if silver is not None:
        steps.append(f"bronze/{silver.source}")
        origin = _origin(config, silver.source)
        if origin:
            steps.append(origin)
    return tuple(steps)


def _row_words(feature: FeatureDef, table: str, cutoff: str) -> str:
    """A feature of a row source: an expression on the as-of row, or a window of months."""
    usable = f"silver/{table} rows with snapshot_date {cutoff} D"
    col = _code(feature.column) if feature.column else "the row"
    months = f"the {feature.months} months ending at D" if feature.months else "all months up to D"
    if feature.expr is not None:
        return f"{_code(feature.expr)} on the latest of the {usable}"
    match feature.aggregate:
        case "months":
            return f"count of the {usable} (months of history)"
        case "last":
            return f"{col} of the latest of the {usable}"
        case "mean":
            return f"mean of {col} over {months} ({usable}; nulls skipped)"
        case "slope":
            return f"least-squares slope of {col} per month over {months} ({usable}; null with fewer than 2 values)"
    return f"{feature.aggregate} of {col} over {months} ({usable})"


def _event_window(feature: FeatureDef, cutoff: str) -> str:
    end = "D" if not feature.offset_days else f"{feature.offset_days} days before D"
    window = f"the {feature.days} days ending at {end}" if feature.days else f"all history up to {end}"
    return window + (" (day D itself excluded)" if cutoff == "<" and not feature.offset_days else "")


def _event_words(feature: FeatureDef, table: str, cutoff: str) -> str:
    """A window aggregate over the events of an event source."""
    window = _event_window(feature, cutoff)
    events = f"events of silver/{table}" + (f" matching {_code(feature.where)}" if feature.where else "")
    col = _code(feature.column) if feature.column else "the event"
    match feature.aggregate:
        case "count":
            return f"count of {events} in {window}"
        case "last":
            return f"{col} of the latest of the {events} in {window}"
        case "recency":
            return f"days from the latest of the {events} to D, in {window}"
        case "share":
            return (f"share of the events of silver/{table} in {window} that match {_code(feature.where)}"
                    if feature.where else f"share of {events} in {window}")
        case agg if agg in EVENT_STATS:
            return f"{EVENT_STATS[agg]} of {col} over the {events} in {window}"
    return f"{feature.aggregate} of {col} over the {events} in {window}"


def transformation(feature: FeatureDef, spec: GoldSpec) -> str:
    """How the feature row (entity, D) gets the feature's value, in words; fields the
    words do not cover are appended as ``key=value``."""
    if not feature.source:
        text = f"{_code(feature.expr)} over the features of the same row"
    else:
        table, cutoff = spec.sources.get(feature.source, (feature.source, "<="))
        words = _event_words if feature.source in spec.event_times else _row_words
        text = words(feature, table, cutoff)
    extras = _extras(feature)
    if extras:
        text += "; " + ", ".join(f"{k}={_code(v)}" for k, v in sorted(extras.items()))
    return text


# --------------------------------------------------------------------------- the registry


def domain_configs(domains: Iterable[str] | None = None, *, conf_dir: Path = CONF_DIR) -> list[DomainConfig]:
    """The configurations of conf/*.yaml that declare gold features (by domain name), or
    of `domains` only (KeyError naming the known ones when one is not there)."""
    configs = [load_config(path=p) for p in sorted(Path(conf_dir).glob("*.yaml"))]
    configs = [c for c in configs if c.gold is not None]
    if domains is None:
        return sorted(configs, key=lambda c: c.domain)
    by_name = {c.domain: c for c in configs}
    unknown = [d for d in domains if d not in by_name]
    if unknown:
        raise KeyError(f"no domain {unknown} with gold features in {portable_path(conf_dir)} "
                       f"(known: {', '.join(sorted(by_name)) or 'none'})")
    return [by_name[d] for d in sorted(set(domains))]


def feature_dtypes(datamart: str | Path, domain: str, table: str = "feature_store") -> dict[str, str]:
    """Column -> Arrow type name of gold/<domain>/<table> ({} when there is no table)."""
    path = Datamart(Path(datamart), domain).table("gold", table)
    if not delta_io.table_exists(path):
        log.warning("no %s: dtypes of %s left empty", path, domain)
        return {}
    return {f.name: str(f.type) for f in delta_io.view(path).schema}


def domain_entries(config: DomainConfig, dtypes: dict[str, dict[str, str]] | None = None) -> list[FeatureEntry]:
    """The registry rows of one domain, in the YAML's order: the feature store's, then
    each entity table's. `dtypes`: table -> column -> type."""
    dtypes = dtypes or {}
    tables = {"feature_store": config.gold, **config.gold.tables}
    return [
        FeatureEntry(
            domain=config.domain, entity=spec.entity, name=f.name, description=f.description,
            source=" → ".join(source_lineage(f, config, spec)), transformation=transformation(f, spec),
            version=feature_version(f, spec), owner=f.owner or spec.owner or UNASSIGNED,
            dtype=dtypes.get(table, {}).get(f.name, ""), definition=definition(f, spec), table=table,
        )
        for table, spec in tables.items()
        for f in spec.features
    ]


def registry(domains: Iterable[str] | None = None, *, datamart: str | Path | None = None,
             conf_dir: Path = CONF_DIR) -> list[FeatureEntry]:
    """Every feature of every domain (or of `domains`), by domain then YAML order; dtypes
    from `datamart`'s feature stores when given."""
    entries: list[FeatureEntry] = []
    for config in domain_configs(domains, conf_dir=conf_dir):
        tables = ("feature_store", *config.gold.tables)
        dtypes = {t: feature_dtypes(datamart, config.domain, t) for t in tables} if datamart is not None else {}
        entries += domain_entries(config, dtypes)
    return entries


# --------------------------------------------------------------------------- Markdown


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\n", " ").replace("|", "\\|")


def _intro(with_dtypes: bool) -> list[str]:
    dtype = ("the column's Arrow type in the Delta schema of `gold/<domain>/feature_store`" if with_dtypes else
             "left empty (—): this file is generated without a datamart; `--datamart DIR` fills it from the Delta "
             "schema of each `gold/<domain>/feature_store`")
    return [
        f"<!-- Generated by `{COMMAND}` from conf/*.yaml; do not edit by hand. -->",
        "",
        "# Feature registry",
        "",
        (f"Every feature of every domain in `conf/`, generated from the YAML by `{COMMAND}`; "
         f"`{COMMAND} --check` fails when this file is stale (tests/test_registry.py runs it)."),
        "",
        "- **D** is the feature row's `snapshot_date`; nothing dated after the source's cutoff is read.",
        "- **source**: gold source → silver table → bronze source → the file or API it is collected from.",
        "- **version**: `v<declared version>-<hash of the definition>` (description and owner excluded).",
        "- **owner**: the feature's `owner`, else the domain's `gold.owner`, else unassigned.",
        f"- **dtype**: {dtype}.",
        "",
        ("Retrieval, point in time: `utils.ml.feature_store.training_set(domain=..., label=..., as_of=...)` "
         "(each label joined to the feature row of its `feature_snapshot_date`) and "
         "`latest_features(domain, as_of, entities)` (per entity the latest row with `snapshot_date` <= as_of) "
         "share one as-of function, `point_in_time`."),
        "",
    ]


def render_markdown(entries: Sequence[FeatureEntry]) -> str:
    """The registry as Markdown: an introduction, then one table per domain."""
    lines = _intro(any(e.dtype for e in entries))
    domains = sorted({e.domain for e in entries})
    lines += [f"Domains: {', '.join(f'{d} ({sum(e.domain == d for e in entries)})' for d in domains)}.", ""]
    for domain in domains:
        lines += [f"## {domain}", ""]
        mine = [e for e in entries if e.domain == domain]
        for table in dict.fromkeys(e.table for e in mine):
            rows = [e for e in mine if e.table == table]
            lines += [
                f"{len(rows)} features of `gold/{domain}/{table}`, one row per (`{rows[0].entity}`, D).",
                "",
                "| name | description | source | transformation | version | owner | dtype |",
                "|---|---|---|---|---|---|---|",
            ]
            lines += [
                f"| `{e.name}` | {_cell(e.description)} | {_cell(e.source)} | {_cell(e.transformation)} | "
                f"`{e.version}` | {_cell(e.owner)} | {_cell(e.dtype) or '—'} |"
                for e in rows
            ]
            lines.append("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def check(text: str, out: Path) -> list[str]:
    """Problems of the file `out` against the expected `text` ([] when current)."""
    if not out.is_file():
        return [f"{portable_path(out)} does not exist; run `{COMMAND} --out {portable_path(out)}`"]
    current = out.read_text(encoding="utf-8")
    if current == text:
        return []
    old, new = current.splitlines(), text.splitlines()
    line = next((i for i, (a, b) in enumerate(zip(old, new, strict=False)) if a != b), min(len(old), len(new)))
    return [f"{portable_path(out)} is stale (first difference at line {line + 1}); run `{COMMAND}`"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=COMMAND, description="Generate or check the feature registry "
                                "(every feature of every domain in conf/).")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="file to write or check; '-' prints it")
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 when the file is stale")
    p.add_argument("--domain", action="append", help="only this domain (repeatable; default: all)")
    p.add_argument("--datamart", type=Path, help="fill dtypes from this datamart's feature stores")
    p.add_argument("--conf-dir", type=Path, default=CONF_DIR, help="folder of the domain YAML files")
    return p


def main(argv: list[str] | None = None) -> int:
    """0: written, printed or current; 1: stale (--check) or the configuration is invalid."""
    from utils.lake.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        text = render_markdown(registry(args.domain, datamart=args.datamart, conf_dir=args.conf_dir))
    except (ConfigError, KeyError) as exc:
        log.error("%s", exc)
        return 1
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    out = Path(args.out)
    if args.check:
        problems = check(text, out)
        for problem in problems:
            log.error("%s", problem)
        if not problems:
            log.info("%s is current", portable_path(out))
        return 1 if problems else 0
    if out.is_file() and out.read_text(encoding="utf-8") == text:
        log.info("unchanged: %s", portable_path(out))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        log.info("wrote %s", portable_path(out))
    return 0


if __name__ == "__main__":
    from utils.lake.logs import configure

    configure()
    sys.exit(main())
