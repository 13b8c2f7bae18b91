"""The Markdown of a domain's definition, from its YAML alone: the feature catalogue
(labels, features of the feature store and of the entity tables, similarity tables,
lineage columns), the source tables of the problem formulation, and the versions of
features and labels. :mod:`utils.present.docs` writes and checks the files; see it for
what a version hashes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from utils.lake.config import PROJECT_ROOT, ColumnSpec, DomainConfig, FeatureDef, GoldSpec, LabelDef
from utils.lake.paths import portable_path


class DocsError(RuntimeError):
    """The documentation cannot be generated or checked (message is one line)."""


# --------------------------------------------------------------------------- versions


def _short_hash(body: object) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:8]


def feature_version(feature: FeatureDef, spec: GoldSpec) -> str:
    """``v<declared version>-<8 hex digits of the definition's hash>``: the feature
    registry's version (:func:`utils.ml.registry.feature_version`), so both files show
    one version per feature."""
    from utils.ml.registry import feature_version as registry_version

    return registry_version(feature, spec)


def label_version(label: LabelDef) -> str:
    """``v1-<hash of the definition>`` (labels have no declared version): dpd and mob, or
    for a no_event label its days, table, event time and predicate."""
    if label.kind == "no_event":
        return "v1-" + _short_hash({"label_def": label.name, "kind": label.kind, "days": label.days,
                                    "table": label.table, "time": label.time, "where": label.where})
    if label.kind == "interactions":
        return "v1-" + _short_hash({"label_def": label.name, "kind": label.kind, "days": label.days,
                                    "item": label.item, "events": [list(e) for e in label.graded]})
    return f"v1-{_short_hash({'label_def': label.name, 'dpd': label.dpd, 'mob': label.mob})}"


# --------------------------------------------------------------------------- text helpers


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("\n", " ").replace("|", "\\|")


def _code(text: object) -> str:
    body = str(text)
    fence = "``" if "`" in body else "`"
    return f"{fence}{body}{fence}" if fence == "`" else f"`` {body} ``"


def _relative(path: Path) -> str:
    """`path` relative to the project for messages on the console (absolute when outside it)."""
    try:
        return Path(path).resolve().relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(path)


def _usable_rule(cutoff: str) -> str:
    return "snapshot_date <= D" if cutoff == "<=" else "snapshot_date < D"


def transformation(feature: FeatureDef, spec: GoldSpec) -> str:
    """The feature's computation for feature row (customer, D), in words. "Usable rows"
    are the customer's rows of the source's silver table whose snapshot_date passes the
    source's cutoff; "the as-of row" is the latest of them. Event sources and derived
    features are put into words by the feature registry (one wording for both files)."""
    if not feature.source or feature.source in spec.event_times:
        from utils.ml.registry import transformation as registry_words

        return registry_words(feature, spec)
    if feature.expr is not None:
        return f"{_code(feature.expr)} on the as-of row"
    col = _code(feature.column) if feature.column else ""
    window = f"usable rows with months_between(D, snapshot_date) < {feature.months}"
    if feature.aggregate == "months":
        return "count of usable rows"
    if feature.aggregate == "last":
        return f"{col} of the latest usable row"
    if feature.aggregate == "mean":
        return f"mean of {col} over {window} (nulls skipped)"
    if feature.aggregate == "slope":
        return (f"least-squares slope of {col} on the month index (0 at D, -1 the month before, ...) over "
                f"{window}; null with fewer than 2 values")
    raise DocsError(f"feature {feature.name}: unknown aggregate {feature.aggregate!r}")


def _column_recipe(c: ColumnSpec) -> str:
    """The cleaning and checks of one silver column, in the order they apply."""
    steps = []
    if not c.trim:
        steps.append("no trim")
    if c.null_tokens:
        steps.append("null tokens " + ", ".join(_code(t) for t in c.null_tokens))
    if c.strip:
        steps.append(f"strip {_code(c.strip)}")
    if c.mapping is not None:
        steps.append("map " + ", ".join(f"{k} -> {'null' if v is None else v}" for k, v in c.mapping.items()))
    if c.parse:
        steps.append(f"parse {c.parse}")
    if c.type == "date":
        steps.append("date formats " + ", ".join(c.date_formats))
    if c.valid_range is not None:
        lo, hi = ("-inf" if c.valid_range[0] is None else f"{c.valid_range[0]:g}",
                  "inf" if c.valid_range[1] is None else f"{c.valid_range[1]:g}")
        steps.append(f"valid range [{lo}, {hi}]")
    if c.fit_k is not None:
        steps.append(f"fitted Tukey fences k={c.fit_k:g}")
    if c.pattern:
        steps.append(f"pattern {_code(c.pattern)}")
    if c.vocabulary:
        steps.append(f"vocabulary of {len(c.vocabulary)} values")
    if c.mask:
        steps.append(f"mask {c.mask}")
    if c.derive:
        steps.append(f"derived: {_code(c.derive)} (the cleaned value is not kept)")
    if c.validated:
        steps.append(("unusable -> row quarantined" if c.on_invalid == "quarantine" else "unusable -> null")
                     + f", flag {_code(c.flag_column)}")
    return "; ".join(steps) or "trim only"


# --------------------------------------------------------------------------- catalogue


def _header(config_path: Path, command: str) -> list[str]:
    return [
        f"<!-- Generated by `{command}` from {portable_path(config_path)}; do not edit by hand. -->",
        "",
    ]


def _feature_sections(spec, table: str) -> list[str]:
    """The features of one gold table, by source, then the derived ones."""
    out = ["", f"## Features (gold/{table}, {len(spec.features)})", ""]
    for name, (table, cutoff) in spec.sources.items():
        feats = [f for f in spec.features if f.source == name]
        if not feats:
            continue
        out += [
            f"### {name} (silver/{table}, "
            f"{spec.event_times[name] + ' before the end of D' if name in spec.event_times else _usable_rule(cutoff)}, "
            f"{len(feats)} features)",
            "",
            "| name | description | transformation | version |",
            "|---|---|---|---|",
        ]
        out += [
            f"| `{f.name}` | {_cell(f.description)} | {_cell(transformation(f, spec))} | `{feature_version(f, spec)}` |"
            for f in feats
        ]
        out.append("")
    derived = [f for f in spec.features if not f.source]
    if derived:
        out += [f"### derived ({len(derived)} features, from the features above)", "",
                "| name | description | transformation | version |", "|---|---|---|---|"]
        out += [f"| `{f.name}` | {_cell(f.description)} | {_cell(transformation(f, spec))} | "
                f"`{feature_version(f, spec)}` |" for f in derived]
        out.append("")
    return out


def _entity_table_section(name: str, spec) -> list[str]:
    """An entity table (gold.tables): its population and sources, then its features."""
    population = (
        f"silver/{spec.population_table} rows" if spec.population_kind == "rows" else
        f"every `{spec.entity}` with one of these events in the {spec.active_days} days up to D: "
        + "; ".join(f"silver/{t} by `{time}`" + (f" with `{w}`" if w else "") for t, time, w in spec.activity))
    out = ["", f"## Entity table gold/{name}", "", _cell(spec.description), "",
           f"One row per (`{spec.entity}`, D), D a month end: {population}.", "",
           "| gold source | silver table | usable rows for D |", "|---|---|---|"]
    out += [f"| {n} | silver/{t} | " + (f"{spec.event_times[n]} before the end of D" if n in spec.event_times
                                         else _usable_rule(cutoff)) + " |" for n, (t, cutoff) in spec.sources.items()]
    return out + _feature_sections(spec, name)


def _similarity_section(name: str, sim) -> list[str]:
    """An item-item similarity table (gold.similarity): its kinds and scores."""
    out = ["", f"## Similarity table gold/{name}", "", _cell(sim.description), "",
           (f"Per month end D and `{sim.item}`: its {sim.top_n} nearest items per kind (`neighbour_id`, `rank` "
            "1 = nearest, ties by id), with `score`."), "",
           "| kind | what co-occurs / is compared | score |", "|---|---|---|"]
    for kind, (table, time, group, where) in sim.cooccurrence.items():
        out.append(f"| {kind} | items of one `{group}` in silver/{table}" + (f" with `{where}`" if where else "")
                   + f", by `{time}` in the {sim.days} days up to D; pairs in fewer than {sim.min_count} baskets "
                   "dropped | Jaccard = baskets with both / baskets with either (`baskets`, `jaccard`, `lift` "
                   "kept) |")
    if sim.content is not None:
        table, time, text, max_features = sim.content
        out.append(f"| content | TF-IDF ({max_features} terms) of {', '.join(f'`{c}`' for c in text)} of the "
                   f"latest silver/{table} version per item by `{time}` up to D, fitted on that catalogue | "
                   "cosine similarity |")
    return out + [""]


def render_catalogue(config: DomainConfig, config_path: Path | None = None) -> str:  # noqa: C901  long on purpose: the catalogue's sections in reading order, each a few lines of text
    """The feature catalogue as Markdown (definition part only, no data)."""
    spec = config.gold
    if spec is None:
        raise DocsError(f"{config.file}: no gold section, so no features to document")
    path = Path(config_path or config.file)
    rel = portable_path(path)
    out = _header(path, "python -m utils.present.docs")
    out += [
        f"# Feature catalogue: {config.domain}",
        "",
        (f"Generated from `{rel}` (config hash `{config.config_hash}`, the `config_hash` that every run "
        "records in `_meta/runs`) by `python -m utils.present.docs`, **without a datamart**: everything below "
        "comes from the YAML alone, so the file is reproducible from a clean checkout. "
        "`python -m utils.present.docs --check` fails when it is out of date with the YAML; "
        "`python -m utils.present.docs --datamart DIR` appends null rates per feature from a built datamart."),
        "",
        *([f"Domain: {config.description}", ""] if config.description else []),
        "## How to read this",
        "",
        ("- **D** is the feature row's `snapshot_date`: the month the customer applies for a loan."
         if spec.population_kind == "rows" else
         "- **D** is the feature row's `snapshot_date`: a month end at which the entity is active."),
        ("- **Usable rows** of a feature row (customer, D) are that customer's rows of the source's silver "
        "table whose own `snapshot_date` passes the source's cutoff (`<= D`, or `< D` for a source whose "
        "month-D data lands after the decision); the **as-of row** is the latest usable row. "
        "Sources with `expr` features are joined as of D; sources with `aggregate` features are "
        "aggregated over their usable rows. Nothing dated after the cutoff is ever read."),
        ("- **Version** `v<n>-<hash>`: `<n>` is the entry's optional `version:` key in the YAML (1 when "
        "absent); `<hash>` is the first 8 hex digits of the SHA-256 of the definition: name, gold source, "
        "silver table, cutoff, `expr` or `aggregate`/`column`/`months`, and `<n>`. Changing any of these "
        "in the YAML changes the version; rewording the description does not. The cleaning of the "
        "underlying silver column is not part of it (the run fingerprints and the config hash cover that). "
        "Labels hash their `dpd` and `mob`."),
        "- Entries written once with `for_each` in the YAML appear here expanded, one row each.",
        "",
        "## Population and point-in-time sources",
        "",
        (f"One feature row per (`{spec.entity}`, D) of silver/{spec.population_table}"
         + (f" rows with `{spec.population_where}`" if spec.population_where else "")
         if spec.population_kind == "rows" else
         f"One feature row per (`{spec.entity}`, D), D a month end, when the entity has one of these events in "
         f"the {spec.active_days} days up to D: "
         + "; ".join(f"silver/{t} by `{time}`" + (f" with `{w}`" if w else "") for t, time, w in spec.activity))
        + f". {_cell(spec.raw.get('population', {}).get('description', ''))}",
        "",
        "| gold source | silver table | usable rows for D | features | kind |",
        "|---|---|---|---:|---|",
    ]
    for name, (table, cutoff) in spec.sources.items():
        feats = [f for f in spec.features if f.source == name]
        kind = "window aggregates" if any(f.aggregate for f in feats) else "as-of join (latest usable row)"
        usable = _usable_rule(cutoff)
        if name in spec.event_times:
            kind, usable = "event windows (days ending at D)", f"{spec.event_times[name]} before the end of D"
        out.append(f"| {name} | silver/{table} | {usable} | {len(feats)} | {kind} |")
    out += [
        "",
        (f"Leakage settings: replay cut `{spec.replay_cut}`, single-feature AUC alarm above "
        f"{spec.max_single_feature_auc:g}."),
        "",
        f"## Labels (gold/label_store, {len(spec.labels)})",
        "",
        "| label_def | description | definition | feature row | version |",
        "|---|---|---|---|---|",
    ]
    for label in spec.labels:
        if label.kind == "interactions":
            definition = (f"one row per (`{spec.entity}`, `{label.item}`) with an event in (D, D + {label.days} "
                          "days]; label = the highest grade of its events: " + "; ".join(
                              f"silver/{t} by `{time}`" + (f" with `{w}`" if w else "") + f", grade `{g}`"
                              for t, time, w, g in label.graded)
                          + "; not labelled when that window ends after the data")
            row = f"feature_snapshot_date = D = snapshot_date - {label.days} days"
        elif label.kind == "no_event":
            definition = (f"1 when silver/{label.table} has no event (by `{label.time}`)"
                          + (f" with `{label.where}`" if label.where else "")
                          + f" in (D, D + {label.days} days]; not labelled when that window ends after the data")
            row = f"feature_snapshot_date = D = snapshot_date - {label.days} days"
        else:
            definition = (
                f"loan-month row at installment_num = {label.mob}; installments missed = ceil(overdue_amt / due_amt) "
                f"(0 when due_amt = 0); dpd = days from (snapshot_date - missed months) to snapshot_date "
                f"(0 when overdue_amt = 0); label = 1 when dpd >= {label.dpd}"
            )
            row = f"feature_snapshot_date = snapshot_date - {label.mob} months"
        out.append(
            f"| `{label.name}` | {_cell(label.description)} | {_cell(definition)} | {row} | `{label_version(label)}` |"
        )
    out += _feature_sections(spec, "feature_store")
    for name, sub in spec.tables.items():
        out += _entity_table_section(name, sub)
    for name, sim in spec.similarity.items():
        out += _similarity_section(name, sim)
    out += [
        "## Lineage columns of gold/feature_store",
        "",
        "Not features (`training_set()` leaves them out by default); written per gold source:",
        "",
        "| column | meaning |",
        "|---|---|",
    ]
    for name in spec.sources:
        out.append(f"| `has_{name}` | 1 when at least one usable {name} row existed for (customer, D), else 0 |")
        out.append(f"| `_asof_{name}` | snapshot_date of the latest {name} row read (null when none) |")
    out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- sources


def render_sources(config: DomainConfig) -> str:
    """One table per declared source (raw column -> silver column, type, cleaning) and the
    declared rules of each silver table, as Markdown."""
    out = []
    for name, source in config.sources.items():
        tables = [t for t in config.silver.values() if t.source == name]
        by_raw = {c.source_column: (t, c) for t in tables for c in t.columns}
        out += [
            f"#### {name} (`{source.path}`)",
            "",
            _cell(source.description),
            "",
            (f"Date column `{source.date_column}` (formats {', '.join(source.date_formats)}) -> partition "
            f"`snapshot_date`; keys {', '.join(f'`{k}`' for k in source.keys) or 'none'}; silver table(s): "
            f"{', '.join(f'silver/{t.name}' for t in tables) or 'none'}."),
            "",
            "| raw column | silver column | type | cleaning and checks |",
            "|---|---|---|---|",
        ]
        for raw in source.required_columns:
            if raw in source.personal_data and raw not in by_raw:
                out.append(f"| {raw} | - | - | personal data: never leaves bronze |")
            elif raw == source.date_column and raw not in by_raw:
                out.append(f"| {raw} | snapshot_date | date | partition column (parsed in bronze) |")
            elif raw in by_raw:
                t, c = by_raw[raw]
                note = _column_recipe(c)
                if raw in source.personal_data:
                    note = f"personal data; {note}"
                if c.description:
                    note = f"{note}. {c.description}"
                out.append(f"| {raw} | {t.name}.{c.name} | {c.type} | {_cell(note)} |")
            else:
                out.append(f"| {raw} | - | - | bronze only |")
        out.append("")
        for t in tables:
            if not t.rules:
                continue
            out += [(f"Rules of silver/{t.name} (besides the built-in well_formed_row and valid_snapshot_date, "
                    "and one per validated column):"), "",
                    "| rule | severity | kind | definition |", "|---|---|---|---|"]
            for r in t.rules:
                if r.check:
                    kind, body = "check", _code(r.check)
                elif r.unique:
                    kind, body = "unique", ", ".join(r.unique)
                else:
                    kind, body = "references", f"silver/{r.references[0]} ({', '.join(r.references[1])})"
                    if r.reference_where:
                        body += f" among rows with {_code(r.reference_where)}"
                if r.where:
                    body = f"rows with {_code(r.where)}: {body}"
                out.append(f"| {r.name} | {r.severity} | {kind} | {_cell(body)} |")
            out.append("")
    return "\n".join(out)
