"""Slides 1 to 4, what the data is: the problem and label, the architecture, the sources
and the tables per layer. Each slide is a ``headline_*`` (its takeaway, a sentence of
facts) and a ``slide_*`` (the drawing)."""

from __future__ import annotations

import re
from pathlib import Path

from .facts import (
    FEATURE_STORE,
    LABEL_STORE,
    META_TABLES,
    QUARANTINE,
    DeckFacts,
    LabelFacts,
)
from .format import mb, month_of, month_span, n, pct, plural, seconds, short_table
from .slide import Slide, table_height
from .style import (
    ACCENT,
    BODY,
    CONTENT_BOTTOM,
    CONTENT_TOP,
    CONTENT_W,
    GREY,
    GREY_DARK,
    GREY_LIGHT,
    GUTTER,
    INK,
    MARGIN_X,
    NAVY,
    NAVY_TINT,
    SMALL,
    grid,
    text_width,
)


def _label_rule(label: LabelFacts) -> str:
    return label.rule


def headline_title(f: DeckFacts) -> str:
    label = f.label
    if label is None:
        return (f"{len(f.sources)} raw {'CSV files' if _all_csv(f) else 'sources'}, {n(f.rows('bronze'))} rows, "
                "landed and cleaned; no label store yet")
    files = "raw CSV files" if _all_csv(f) else "raw sources"
    if label.kind == "interactions" and not label.grades:
        return f"No graded ({label.unit}, {label.item}) interactions yet: every {label.days}-day window runs past the data"
    if label.kind == "interactions":
        grade, _ = label.top_grade
        return (f"{n(label.total)} graded ({label.unit}, {label.item}) interactions from {len(f.sources)} {files}, "
                f"{n(label.entities)} {label.unit}-months; {pct(label.grade_share(grade))} reach the top grade {grade}")
    return (f"{n(label.total)} {label.unit}s labelled from {len(f.sources)} {files}: {pct(label.rate)} were "
            f"{_label_rule(label)}")


def _interaction_items(label: LabelFacts) -> list[str]:
    """The label bullets of the title slide for a graded label (kind interactions)."""
    grades = ", ".join(f"{g}: {n(rows)} ({pct(label.grade_share(g))})" for g, rows in label.grades)
    return [
        f"{label.label_def}: one row per ({label.unit}, {label.item}) with an event in (D, D + {label.days} days]; "
        f"the label is the highest grade of its events. {label.description}",
        f"{n(label.total)} rows of {n(label.entities)} {label.unit}-months and {n(label.items)} {label.item}s; "
        f"per grade {grades}.",
        f"Features belong to the month end D ({month_span(label.application_months)}); a D whose window ends "
        "after the data is not labelled (censored).",
    ]


def slide_title(f: DeckFacts) -> Slide:
    s = Slide(f"{f.title} · {Path(f.run.data_root).name or 'data'}", headline_title(f))
    x, w = grid(0, 7)
    y = CONTENT_TOP
    s.text(x, y, "The problem", size=SMALL, color=GREY_DARK, weight="bold")
    y = s.paragraph(x, y + 0.3, f.description, w, size=BODY) + 0.3
    label = f.label
    s.text(x, y, "The label", size=SMALL, color=GREY_DARK, weight="bold")
    if label is None:
        s.paragraph(x, y + 0.3, "The run built no gold/label_store; run every layer to get labels.", w)
    elif label.kind == "interactions":
        s.bullets(x, y + 0.32, _interaction_items(label), w, size=SMALL if len(label.description) > 120 else BODY)
    else:
        how = ("Days past due as the course defines them: missed instalments = ceil(overdue / due); the first "
               "missed date lies that many months before the snapshot." if label.kind == "dpd_at_mob" else
               (f"Counted events: {label.where}. " if label.where else "")
               + f"The window (D, D + {label.days} days] is stored with each label; a row whose window runs past "
               "the end of the data is not labelled (censored).")
        items = [
            f"{label.label_def}: a {label.unit} is positive (1) when it is {_label_rule(label)}, else 0.",
            how,
            f"{n(label.positives)} positives of {n(label.total)} labelled {label.unit}s; labels observed in "
            f"{len(label.label_months)} months, {month_span(label.label_months)}.",
            f"Features belong to the {label.decision}, {label.lag} earlier: "
            f"{month_span(label.application_months)}.",
        ]
        s.bullets(x, y + 0.32, items, w, size=BODY)
    tx, tw = grid(8, 4)
    half = (tw - GUTTER) / 2
    if label is not None and label.kind == "interactions":
        grade, _ = label.top_grade
        tiles = [(n(label.total), f"labelled ({label.unit}, {label.item}) pairs"),
                 (pct(label.grade_share(grade), 1), f"at the top grade {grade} ({label.label_def})"),
                 (n(f.features.total), f"{label.unit} features per {label.decision}"),
                 (seconds(f.run.seconds), "run time: " + ", ".join(f.run.layers))]
    elif label is not None:
        tiles = [(n(label.total), f"labelled {label.unit}s"), (pct(label.rate, 1), f"positive ({label.label_def})"),
                 (n(f.features.total), f"features per {label.decision}"),
                 (seconds(f.run.seconds), "run time: " + ", ".join(f.run.layers))]
    else:
        tiles = [(n(f.rows("bronze")), "bronze rows"), (n(f.rows("silver")), "silver rows"),
                 (n(f.features.total), "features declared"), (seconds(f.run.seconds), "run time")]
    for i, (value, text) in enumerate(tiles):
        col, row = i % 2, i // 2
        s.tile(tx + col * (half + GUTTER), CONTENT_TOP + row * 1.75, half, value, text,
               color=ACCENT if i == 1 else NAVY)
    return s


def _all_csv(f: DeckFacts) -> bool:
    return bool(f.sources) and all(src.file.lower().endswith(".csv") for src in f.sources)


def headline_architecture(f: DeckFacts) -> str:
    written = sum(1 for o in f.run.outputs if o.get("status") == "written")
    return (f"Raw {'CSVs' if _all_csv(f) else 'drops'} flow landing → bronze → silver → gold; this run rebuilt {written} of {len(f.tables)} tables "
            f"in {seconds(f.run.seconds)}, with its evidence in _meta")


def slide_architecture(f: DeckFacts) -> Slide:
    s = Slide("Architecture", headline_architecture(f))
    by_layer = {layer: [t for t in f.tables if t.layer == layer] for layer in ("bronze", "silver", "gold")}
    auc = f.model.models[f.model.best_model]["auc"] if f.model else None
    if f.graded:  # recommenders, not a classifier
        best = f.ranking.best if f.ranking else None
        consumers = [("top_k()", "a user's top K as of a time", False),
                     ("recommenders", f"{best.name} NDCG@10 {best.at('all', 10, 'ndcg'):.3f}" if best
                      else "python main.py train", False),
                     ("quality report", "python main.py report", False)]
    else:
        consumers = [("training_set()", "labels joined to features", False),
                     ("sanity model", f"test AUC {auc:.3f}" if auc is not None else "python -m utils.ml.train", False),
                     ("quality report", "python main.py report", False)]
    gap = 0.42
    cw = (CONTENT_W - gap * 4) / 5

    # file names, or all stems when one name is too wide for its box
    fits = all(text_width(src.file, SMALL, weight="bold") <= cw - 0.2 for src in f.sources)
    columns = [
        ("landing: CSV files" if _all_csv(f) else "landing: raw files",
         [(src.file if fits else Path(src.file).stem,
           mb(src.bytes) if src.files == 1 else f"{src.files} files, {mb(src.bytes)}", False) for src in f.sources]),
        ("bronze: raw as text", [(short_table(t.name), plural(t.rows, "row"), False) for t in by_layer["bronze"]]),
        ("silver: typed, checked", [(short_table(t.name), plural(t.rows, "row"), t.name == QUARANTINE and t.rows > 0)
                                    for t in by_layer["silver"]]),
        ("gold: point in time", [(short_table(t.name), plural(t.rows, "row"), False) for t in by_layer["gold"]]),
        ("consumers", consumers),
    ]
    top, item_h, item_gap, head_h = CONTENT_TOP, 0.52, 0.1, 0.36
    if max(len(items) for _, items in columns) > 5:  # six boxes in a column: closer, so _meta fits
        item_h, item_gap = 0.47, 0.05
    centers = []
    for i, (head, items) in enumerate(columns):
        x = MARGIN_X + i * (cw + gap)
        s.box(x, top, cw, head_h, fill=NAVY, edge=NAVY)
        s.text(x + cw / 2, top + head_h / 2, head, size=SMALL, color="white", weight="bold", ha="center", va="center")
        y = top + head_h + item_gap
        for name, detail, alert in items:
            s.box(x, y, cw, item_h, fill="white", edge=ACCENT if alert else GREY_LIGHT, lw=1.4 if alert else 1.0)
            s.text(x + 0.1, y + 0.07, name, size=SMALL, color=INK, weight="bold")
            s.text(x + 0.1, y + 0.29, detail, size=SMALL, color=ACCENT if alert else GREY_DARK)
            y += item_h + item_gap
        centers.append((x, y))
    mid = top + head_h + item_gap + 1.5 * (item_h + item_gap)
    for i in range(len(columns) - 1):
        x0 = MARGIN_X + i * (cw + gap) + cw + 0.05
        s.arrow(x0, mid, x0 + gap - 0.1, mid)
    # _meta band under the layers
    band_y = max(y for _, y in centers) + 0.25
    band_h = 1.05
    s.box(MARGIN_X, band_y, CONTENT_W, band_h, fill=NAVY_TINT, edge=NAVY_TINT)
    s.text(MARGIN_X + 0.15, band_y + 0.1, "_meta side tables (Delta): what this run recorded", size=SMALL,
           color=NAVY, weight="bold")
    labels = {"runs": ("run in the ledger", "runs in the ledger"), "quality": ("rule result", "rule results"),
              "accounting": ("partition balance", "partition balances"), "statistics": ("fitted bound", "fitted bounds"),
              "leakage": ("guard result", "guard results"), "profile": ("profile metric", "profile metrics")}
    present = [(k, f.meta_rows[k]) for k in META_TABLES if k in f.meta_rows]
    if present:
        iw = (CONTENT_W - 0.3) / len(present)
        for i, (k, rows) in enumerate(present):
            ix = MARGIN_X + 0.15 + i * iw
            s.text(ix, band_y + 0.42, f"_meta/{k}", size=SMALL, color=INK, weight="bold")
            s.text(ix, band_y + 0.68, plural(rows, *labels[k]), size=SMALL, color=GREY_DARK)
    for i in (1, 2, 3):  # bronze, silver and gold write to _meta
        x = MARGIN_X + i * (cw + gap) + cw / 2
        s.arrow(x, centers[i][1] - item_gap + 0.02, x, band_y - 0.02, color=GREY, lw=1.0, dashed=True)
    note_y = band_y + band_h + 0.18
    if note_y < CONTENT_BOTTOM:
        s.paragraph(MARGIN_X, note_y, "Every table is Delta, partitioned by snapshot_date; a run commits nothing "
                    "until every layer passed its checks.", CONTENT_W, size=SMALL, color=GREY_DARK)
    return s


def headline_sources(f: DeckFacts) -> str:
    pop = next((src for src in f.sources if src.feeds_labels), None)
    feeders = [src for src in f.sources if src.features]
    if pop is None:
        return f"{len(f.sources)} source files, {n(sum(src.rows for src in f.sources))} raw rows"
    if f.graded:
        givers = [src.name for src in f.sources if src.feeds_labels]
        return (f"{len(f.sources)} sources, {n(sum(src.rows for src in f.sources))} raw rows: "
                f"{' and '.join(givers)} give the graded labels, {len(feeders)} sources give "
                f"{n(sum(src.features for src in feeders))} {f.label.unit} features")
    if f.label is not None and f.label.kind == "no_event":
        return (f"{len(f.sources)} sources, {n(sum(src.rows for src in f.sources))} raw rows: {pop.name} gives the "
                f"labels, {len(feeders)} sources give {n(sum(src.features for src in feeders))} features")
    return (f"{len(f.sources)} sources, {n(sum(src.rows for src in f.sources))} raw rows: {pop.name} gives the loans "
            f"and labels, {len(feeders)} customer files give {n(sum(src.features for src in feeders))} features")


def gist(text: str, most: int = 70) -> str:
    """The first clause of a description: without parentheses, its first sentence up to a
    ";" or ":", and longer than `most` characters, up to its first comma after 30."""
    text = re.sub(r"\s*\([^)]*\)", "", text)
    text = re.split(r"(?<=\.)\s|[;:]", text, maxsplit=1)[0].strip().rstrip(".")
    comma = text.find(", ", 30)
    if len(text) > most and comma > 0:
        text = text[:comma]
    return text + "."


def slide_sources(f: DeckFacts) -> Slide:
    s = Slide("Sources", headline_sources(f))
    header = ["Source", "What it holds", "File", "Rows", "Snapshot months", "Columns", "Contributes"]
    widths = [2.35, 3.25, 1.0, 1.15, 2.05, 0.95, 1.38]
    extra = any(src.gold_tables for src in f.sources)
    if extra:  # a wider last column for the other gold tables a source feeds
        widths = [1.45, 2.88, 1.5, 0.9, 2.05, 0.85, 2.5]
    rows = []
    for src in f.sources:
        if src.feeds_labels and f.label is not None and f.label.windowed:
            feeds = f"labels, {src.features} features"
        elif src.feeds_labels:
            feeds = "population and labels"
        elif src.features:
            feeds = f"{src.features} features"
        else:
            feeds = "–" if not src.gold_tables else ""
        if src.gold_tables:
            feeds = ", ".join(([feeds] if feeds else []) + list(src.gold_tables))
        pii = f" Personal data: {', '.join(src.personal_data)}." if src.personal_data else ""
        text = src.description
        if len(f.sources) * len(text) > 600:  # too long for one slide: the first sentence of each
            text = re.split(r"(?<=[.;])\s", text, maxsplit=1)[0]
        size = mb(src.bytes) if src.files == 1 else f"{src.files} files, {mb(src.bytes)}"
        rows.append([src.name, text, size, n(src.rows),
                     f"{src.months}: {src.first_month} to {src.last_month}", f"{src.raw_columns} → {src.silver_columns}",
                     feeds, pii])
    if table_height(widths, header, [r[:-1] for r in rows]) > CONTENT_BOTTOM - CONTENT_TOP - 1.0:
        for r in rows:  # still too tall (the notes need an inch): the gist of each description
            r[1] = gist(r[1])
    rows = [[*r[:1], r[1] + r[-1], *r[2:-1]] for r in rows]
    y = s.table(MARGIN_X, CONTENT_TOP, widths, header, rows, size=SMALL,
                aligns=["left", "left", "right", "right", "left", "right", "left"])
    notes = [
        "Rows: data lines of the file as landed in bronze (every line lands, also malformed ones). "
        + ("Columns: in the file → in the silver table (Name dropped, SSN only as a keyed hash)."
           if f.label is None or f.label.kind == "dpd_at_mob" else
           "Columns: in the files → in the silver table (personal data dropped or keyed-hashed)."),
        f"Run inputs are fingerprinted by sha256; an unchanged file is skipped on the next run "
        f"({sum(1 for src in f.sources if src.skipped)} of {len(f.sources)} skipped in this run).",
    ]
    s.bullets(MARGIN_X, y + 0.35, notes, CONTENT_W, size=SMALL, color=GREY_DARK, marker_color=GREY)
    return s


def _bronze_in_one_row(f: DeckFacts, rows: list[list[str]], colors: list) -> tuple[list[list[str]], list]:
    """The rows of the tables slide with the bronze tables (same grain and key, one per
    source) in one row, for a domain with more tables than a slide holds: their rows
    summed, the partitions as a range, the versions as a range."""
    bronze = [t for t in f.tables if t.layer == "bronze"]
    if len(bronze) < 2:
        return rows, colors
    months = sorted(m for t in bronze for m in (month_of(t.first_partition), month_of(t.last_partition)) if m)
    counts = sorted(t.partitions for t in bronze)
    versions = sorted({t.version for t in bronze if t.version is not None})
    row = [f"bronze/<source> ({len(bronze)})", bronze[0].grain, ", ".join(bronze[0].keys),
           f"{counts[0]}–{counts[-1]}: {months[0]}–{months[-1]}" if months else "0", n(sum(t.rows for t in bronze)),
           "–" if not versions else (str(versions[0]) if len(versions) == 1 else f"{versions[0]}–{versions[-1]}")]
    keep = [(r, c) for t, r, c in zip(f.tables, rows, colors) if t.layer != "bronze"]
    return [row] + [r for r, _ in keep], [None] + [c for _, c in keep]


def headline_tables(f: DeckFacts) -> str:
    fs, ls = f.table(FEATURE_STORE), f.table(LABEL_STORE)
    gold = f"; gold has {n(fs.rows)} feature and {n(ls.rows)} label rows" if fs and ls else ""
    return (f"{len(f.tables)} Delta tables by month: {n(f.rows('silver'))} of {n(f.rows('bronze'))} bronze rows "
            f"reached silver{gold}")


def slide_tables(f: DeckFacts) -> Slide:
    s = Slide("Tables per layer", headline_tables(f))
    header = ["Table", "Grain", "Key", "Partitions", "Rows", "Version"]
    # event domains key their label store by (entity, feature_snapshot_date, label_def): a wider
    # key column, so it takes two lines, not three
    wide_keys = any(len(", ".join(t.keys)) > 40 for t in f.tables)
    widths = [2.2, 3.45, 2.6, 2.0, 0.95] if wide_keys else [2.45, 3.4, 2.4, 2.05, 0.95]
    widths.append(CONTENT_W - sum(widths))
    rows, colors = [], []
    for t in f.tables:
        parts = t.partitions
        span = f"{parts}: {month_of(t.first_partition)}–{month_of(t.last_partition)}" if parts else "0"
        rows.append([t.name, t.grain, ", ".join(t.keys), span, n(t.rows), "–" if t.version is None else str(t.version)])
        colors.append(ACCENT if t.name == QUARANTINE and t.rows else None)
    pad = 0.05
    if table_height(widths, header, rows, pad=pad) > CONTENT_BOTTOM - CONTENT_TOP:
        # more tables than a slide holds (e.g. item tables besides the stores): bronze in one
        # row, the table names narrower, the keys wider, the rows closer
        rows, colors = _bronze_in_one_row(f, rows, colors)
        widths, pad = [1.95, 3.3, 3.1, 2.05, 0.9], 0.03
        widths.append(CONTENT_W - sum(widths))
    y = s.table(MARGIN_X, CONTENT_TOP, widths, header, rows, size=SMALL, pad=pad,
                aligns=["left", "left", "left", "left", "right", "right"], row_colors=colors)
    q = f.table(QUARANTINE)
    qpart = f" silver/_quarantine by ({', '.join(q.partition_by)})." if q else ""
    s.paragraph(MARGIN_X, y + 0.2, "Partitions: snapshot months (count: first–last), from the Delta log at the "
                "version the run left;" + qpart, CONTENT_W, size=SMALL, color=GREY_DARK)
    return s
