"""Generic bronze ingest: every raw record of every declared source, every field as text.

One code path serves every source in `conf/<domain>.yaml`, whatever its format (CSV,
JSON Lines, JSON documents, Parquet; see utils/ingest/readers.py). A bronze table
``bronze/<source>`` holds one row per raw record of the file:

- every field, as text, under its column name: the CSV header (or the declared
  `columns` of a headerless CSV), the JSON records' top-level keys (or the declared
  `json_fields`), the Parquet columns. Characters that Delta does not allow in names
  become ``_``; a name equal to a bronze column below is kept as ``<name>_raw``;
- ``snapshot_date`` (date, the partition column): the source's date column parsed with
  the first configured format that fits, null when none does;
- ``_source_file`` (`SourceFile.name`: the path the caller names the file by, by
  default its absolute path), ``_ingested_at`` (run start, UTC), ``_run_id``;
- ``_source_line`` (long), the record locator: for CSV and JSON Lines the 1-based
  line where the record starts (a header is line 1); for JSON documents and Parquet
  the record's 1-based index in the file;
- ``_malformed_record``: the raw text of a record that does not parse (wrong field
  count, bytes invalid in the declared encoding, a NUL byte, an unclosed quote, not
  valid JSON, not a JSON object), null otherwise, so nothing of a broken record is
  lost; ``_malformed_reason``: why, in words ("3 fields, header has 5").

Blank lines and comment lines carry no record. Two ways in, one result
(:func:`read_bronze` picks): plain UTF-8 (or ASCII) CSV with a header, a one-character
delimiter and one record per line is read by Spark in parallel (spark.read.text +
from_csv, lines numbered per block: :func:`read_numbered_lines`, :func:`parse_bronze`);
everything else, and any file with bytes that do not decode or a NUL byte (Spark's
text reader would replace or keep them silently), goes through the streaming Python
reader, which writes all-string Parquet that Spark then reads. Both end in
:func:`bronze_rows`, so columns and date parsing are identical.

A file is refused before anything is written (SourceError, one line naming source and
file) when it is missing, a directory, empty (0 bytes), binary (its first KB is not
text in the declared encoding), has a header line that is blank, does not decode or
names a column twice, lacks a required column (in the header, the declared columns,
the Parquet schema, or in every JSON record), or is a JSON document or Parquet file
that does not parse. A NUL byte does not refuse a text file: the record holding it is
malformed (kept, then quarantined by silver's well_formed_row). A file with a header
and no records lands as 0 rows, with a warning.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import logging
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from utils.ingest import readers
from utils.ingest.readers import ReadError, csv_dialect
from utils.lake.config import Source

logger = logging.getLogger(__name__)

PARTITION_COLUMN = "snapshot_date"
LINEAGE_COLUMNS = ("_source_file", "_source_line", "_ingested_at", "_run_id", "_malformed_record",
                   "_malformed_reason")
RESERVED = (PARTITION_COLUMN, *LINEAGE_COLUMNS)
_BAD_NAME_CHARS = re.compile(r"[ ,;{}()\n\t=]")
#: Encodings Spark's text reader decodes as the file declares them (the fast path).
_SPARK_CODECS = ("utf-8", "ascii")
_HEAD_BYTES = 1024


class SourceError(RuntimeError):
    """A source file cannot be ingested; the message names the file and the problem."""


@dataclass(frozen=True)
class SourceFile:
    """A checked source file: where it is, its field names (`header`: the CSV header or
    declared columns, the JSON keys or declared fields, the Parquet columns), its
    content hash and size, the name `_source_file` records, and which reader takes it
    (``spark``: the parallel fast path; ``python``: utils/ingest/readers.py)."""

    source: Source
    path: Path
    header: tuple[str, ...]
    sha256: str
    size: int
    name: str = ""
    reader: str = "spark"

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", str(self.path))

    @property
    def columns(self) -> tuple[str, ...]:
        """Bronze names of the header columns (sanitised, reserved names suffixed)."""
        return bronze_column_names(self.header)


def bronze_column_names(header: tuple[str, ...]) -> tuple[str, ...]:
    names = []
    for name in header:
        clean = _BAD_NAME_CHARS.sub("_", name.strip())
        names.append(f"{clean}_raw" if clean in RESERVED else clean)
    return tuple(names)


def inspect_source(source: Source, data_root: Path) -> SourceFile:
    """:func:`inspect_file` on the source's single file (its `path` under `data_root`)."""
    return inspect_file(source, source.resolve(data_root).resolve())


def inspect_file(source: Source, path: Path, *, name: str | None = None) -> SourceFile:
    """Check one file of `source` can be ingested as declared, hash it, and choose its
    reader. Raises SourceError with a one-line message naming the source and file."""
    path = Path(path)
    label = f"source {source.name}: {path}"
    try:
        opts = readers.read_options(source)
    except ReadError as exc:
        raise SourceError(f"{label}: {exc}") from exc
    if not path.exists():
        raise SourceError(f"{label}: file not found (set --data-root or sources.{source.name}.path)")
    if path.is_dir():
        raise SourceError(f"{label}: is a directory, expected a {opts.format.upper()} file")
    size = path.stat().st_size
    if size == 0:
        raise SourceError(f"{label}: file is empty (0 bytes), expected "
                          f"{'a header line' if opts.format == 'csv' and opts.header else 'records'}")
    digest = hashlib.sha256()
    probe = None if opts.format == "parquet" else readers.TextProbe(opts)
    with path.open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        why = None if probe is None else readers.binary_reason(head, opts)
        if why:
            raise SourceError(f"{label}: {why}")
        for chunk in itertools.chain([head], iter(lambda: fh.read(1 << 20), b"")):
            digest.update(chunk)
            if probe is not None:
                probe.feed(chunk)
    if probe is not None:
        probe.close()
    try:
        header, records = _fields_of(path, opts, source, probe)
    except ReadError as exc:
        raise SourceError(f"{label}: {exc}") from exc
    _check_names(label, header, source, opts)
    if records == 0:
        logger.warning("%s: no records%s; bronze gets 0 rows from it", label,
                       " (header only)" if opts.format == "csv" and opts.header else "")
    fast = (opts.format == "csv" and opts.header and not opts.whitespace and not opts.multiline
            and opts.codec in _SPARK_CODECS and len(opts.sep) == 1 and probe.clean)
    if opts.format == "csv" and not fast and probe is not None and not probe.clean:
        first = min(n for n in (probe.bad_line, probe.nul_line) if n is not None)
        logger.warning("%s: line %d holds bytes not valid %s or a NUL byte; such records land malformed",
                       label, first, opts.encoding)
    return SourceFile(source, path, header, digest.hexdigest(), size, name=name or "",
                      reader="spark" if fast else "python")


def _fields_of(path: Path, opts: readers.ReadOptions, source: Source, probe) -> tuple[tuple[str, ...], int | None]:
    """The file's field names and, when known without reading it again, its record
    count (0 = no records; None = some). Required columns are checked by the caller,
    except for JSON, where a required column must hold a value in some record."""
    if opts.format == "parquet":
        return readers.parquet_columns(path)
    if opts.format == "csv":
        header = readers.csv_header(path, opts)
        return header, (None if probe.data_after_line_1 or not opts.header else 0)
    header, present, records = readers.json_field_names(path, opts)
    absent = [c for c in source.required_columns if c in header and c not in present]
    if absent:
        raise ReadError(f"required column(s) {absent} hold a value in none of its {records} record(s)")
    return header, records


def _check_names(label: str, header: tuple[str, ...], source: Source, opts: readers.ReadOptions) -> None:
    where = "line 1: " if opts.format == "csv" and opts.header else ""
    folded = [c.casefold() for c in bronze_column_names(header)]
    dupes = sorted({c for c, f in zip(header, folded) if folded.count(f) > 1})
    if dupes:
        raise SourceError(f"{label}: {where}duplicate column name(s) {dupes}")
    blank = [i + 1 for i, c in enumerate(header) if not c.strip()]
    if blank:
        raise SourceError(f"{label}: {where}column(s) {blank} have no name")
    missing = [c for c in source.required_columns if c not in header]
    if missing:
        what = {"csv": "header" if opts.header else "declared columns", "parquet": "Parquet columns"}.get(
            opts.format, "JSON fields" if opts.json_fields else "record keys")
        raise SourceError(f"{label}: {where}missing required column(s) {missing}; {what}: {list(header)}")
    extra = [c for c in header if c not in source.required_columns]
    if extra:
        logger.warning("%s: extra column(s) %s kept in bronze", label, extra)


# --------------------------------------------------------------------------- Spark


def read_numbered_lines(spark, path: Path):
    """The file's lines as (value, _source_line), numbered 1.. in file order.

    Spark reads the text in parallel blocks; one small aggregation gives each block's
    line count, from which every line's number follows without a shuffle.
    """
    from pyspark.sql import functions as F

    lines = spark.read.text(str(path)).select(
        "value",
        F.col("_metadata.file_block_start").alias("_block"),
        F.monotonically_increasing_id().alias("_mid"),
    )
    blocks = (
        lines.groupBy("_block").agg(F.min("_mid").alias("first"), F.count(F.lit(1)).alias("n")).collect()
    )
    shift: list = []
    seen = 0
    for block in sorted(blocks, key=lambda b: b["_block"]):
        # line number = lines before this block + position in block + 1
        shift += [F.lit(block["_block"]), F.lit(seen - block["first"] + 1)]
        seen += block["n"]
    if not shift:
        return lines.select("value", F.lit(None).cast("long").alias("_source_line"))
    offsets = F.create_map(*shift)
    return lines.select("value", (F.col("_mid") + offsets[F.col("_block")]).alias("_source_line"))


def parse_bronze(lines, source_file: SourceFile, *, run_id: str, ingested_at: dt.datetime):
    """Numbered raw lines -> bronze rows (pure: no reads, writes or actions).

    Drops the header (line 1), blank and comment lines; splits each line with the
    source's CSV options; keeps every field as text; a line whose field count differs
    from the header keeps its raw text in _malformed_record and the counts in
    _malformed_reason; parses the partition date (:func:`bronze_rows`).
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    source = source_file.source
    width = len(source_file.header)
    positional = [f"_c{i}" for i in range(width)]
    schema = T.StructType(
        [T.StructField(c, T.StringType()) for c in positional] + [T.StructField("_malformed_record", T.StringType())]
    )
    options = {k: v for k, v in source.csv.items() if k != "comment"}
    options.update(mode="PERMISSIVE", columnNameOfCorruptRecord="_malformed_record")

    keep = (F.col("_source_line") > 1) & (F.trim(F.col("value")) != "")
    if source.csv.get("comment"):
        keep &= ~F.col("value").startswith(source.csv["comment"])
    parsed = lines.where(keep).select(
        F.from_csv(F.col("value"), schema.simpleString(), options).alias("r"), "_source_line", "value"
    )
    # a line with an unbalanced quote is half of a record that spans lines (multiline
    # off): Spark would read the second half as fields; the Python reader says the same
    unclosed = _quote_count(F.col("value"), source.csv) % 2 == 1
    count = _field_count(F.col("value"), source.csv)
    reason = (
        F.when(unclosed, F.lit("quoted field not closed at the end of the line (multiline is off)"))
        .when(F.col("r._malformed_record").isNull(), F.lit(None))
        .when(count == 1, F.lit(f"1 field, header has {width}"))
        .when(count != width, F.format_string(f"%d fields, header has {width}", count))
        .otherwise(F.lit("does not parse as CSV"))
    )
    malformed = F.coalesce(F.col("r._malformed_record"), F.when(unclosed, F.col("value")))
    return bronze_rows(
        parsed.select(*[F.col(f"r.{c}").alias(c) for c in positional], "_source_line",
                      malformed.alias("_malformed_record"), reason.alias("_malformed_reason")),
        source_file, run_id=run_id, ingested_at=ingested_at,
    )


def _regex_char(ch: str) -> str:
    """One character, literally, in a Java regular expression."""
    return ch if ch.isalnum() else "\\" + ch


def _quote_count(value, options: dict[str, str]):
    """The number of quote characters of a CSV line (a Spark column) that open or close
    a quoted field: escaped ones (escape other than the quote) are not counted."""
    from pyspark.sql import functions as F

    quote, escape = options.get("quote", '"'), options.get("escape", '"')
    if escape and escape != quote:
        value = F.regexp_replace(value, f"{_regex_char(escape)}.", "")
    return F.length(value) - F.length(F.replace(value, F.lit(quote), F.lit("")))


def _field_count(value, options: dict[str, str]):
    """The number of fields of a CSV line (a Spark column): delimiters outside quoted
    text, plus one. Only shown in _malformed_reason, so an approximation is fine."""
    from pyspark.sql import functions as F

    lit = _regex_char
    quote, escape, sep = options.get("quote", '"'), options.get("escape", '"'), options.get("sep", ",")
    inner = f"[^{lit(quote)}]|{lit(quote)}{lit(quote)}" if escape == quote else f"[^{lit(quote)}{lit(escape)}]|{lit(escape)}."
    unquoted = F.regexp_replace(value, f"{lit(quote)}(?:{inner})*{lit(quote)}", "")
    return F.size(F.split(unquoted, "".join(lit(c) for c in sep), -1))


def bronze_rows(parsed, source_file: SourceFile, *, run_id: str, ingested_at: dt.datetime):
    """Positional records -> bronze rows (pure). `parsed` has string columns `_c0..`
    (the file's fields in header order), `_source_line`, `_malformed_record`,
    `_malformed_reason`; out come the named fields, lineage and the parsed date."""
    from pyspark.sql import functions as F

    source = source_file.source
    columns = source_file.columns
    date_col = f"_c{source_file.header.index(source.date_column)}"
    raw_date = F.trim(F.col(date_col))
    parsed_dates = [F.to_date(F.try_to_timestamp(raw_date, F.lit(fmt))) for fmt in source.date_formats]
    snapshot = snapshot_at_grain(parsed_dates[0] if len(parsed_dates) == 1 else F.coalesce(*parsed_dates), source)
    return parsed.select(
        *[F.col(f"_c{i}").alias(name) for i, name in enumerate(columns)],
        F.lit(source_file.name).alias("_source_file"),
        F.col("_source_line").cast("long").alias("_source_line"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.lit(run_id).alias("_run_id"),
        F.col("_malformed_record").cast("string").alias("_malformed_record"),
        F.col("_malformed_reason").cast("string").alias("_malformed_reason"),
        snapshot.alias(PARTITION_COLUMN),
    )


def read_bronze(spark, source_file: SourceFile, *, run_id: str, ingested_at: dt.datetime, scratch: Path):
    """Bronze rows of one checked file (lazy DataFrame, see the module docstring), by
    the reader `inspect_file` chose. The Python reader first writes the records as
    Parquet under `scratch` (a folder the caller deletes after the run, once the rows
    are written), which Spark then reads; on a cluster, `scratch` must be on storage
    the executors can read."""
    if source_file.reader == "spark":
        lines = read_numbered_lines(spark, source_file.path)
        return parse_bronze(lines, source_file, run_id=run_id, ingested_at=ingested_at)
    out = Path(scratch) / f"bronze-{source_file.source.name}-{source_file.sha256[:12]}-{uuid.uuid4().hex[:6]}"
    try:
        stats = readers.records_to_parquet(source_file.path, source_file.source, out, source_file.header)
    except ReadError as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise SourceError(f"source {source_file.source.name}: {source_file.path}: {exc}") from exc
    logger.info("bronze/%s: %s read by the Python reader: %d record(s), %d malformed",
                source_file.source.name, source_file.path.name, stats.records, stats.malformed)
    parsed = spark.read.schema(_positional_ddl(len(source_file.header))).parquet(str(out))
    return bronze_rows(parsed, source_file, run_id=run_id, ingested_at=ingested_at)


def _positional_ddl(width: int) -> str:
    columns = [f"_c{i} string" for i in range(width)]
    return ", ".join([*columns, "_source_line bigint", "_malformed_record string", "_malformed_reason string"])


def restrict_to_range(df, start: dt.date | None, end: dt.date | None):
    """Rows dated within [start, end], plus rows whose date did not parse."""
    from pyspark.sql import functions as F

    if start is None and end is None:
        return df
    col = F.col(PARTITION_COLUMN)
    cond = F.lit(True)
    if start is not None:
        cond &= col >= F.lit(start)
    if end is not None:
        cond &= col <= F.lit(end)
    return df.where(col.isNull() | cond)


def in_partitions(partitions: set[str | None]):
    """A filter for rows whose snapshot_date is one of `partitions` (None = null)."""
    from pyspark.sql import functions as F

    dates = sorted(p for p in partitions if p is not None)
    cond = F.col(PARTITION_COLUMN).isin([dt.date.fromisoformat(p) for p in dates]) if dates else F.lit(False)
    return cond | F.col(PARTITION_COLUMN).isNull() if None in partitions else cond


#: Delta commit metadata key under which a bronze write stores the file's date digests.
DIGEST_KEY = "lakehouse.date_digests"
#: Digest key of the lines whose fields do not match the header.
MALFORMED = "\u0000malformed"
MAX_DIGEST_KEYS = 10_000
_MASK = (1 << 64) - 1


def date_digests(source_file: SourceFile) -> dict[str, list[int]] | None:
    """Per raw date text of the file's data lines (as written, before parsing): the
    number of lines and two order-free sums of 64-bit halves of each line's BLAKE2b
    hash. Two versions of a file hold the same lines for a date text exactly when its
    entries agree (up to hash collisions), whatever the line order. Lines whose field
    count differs from the header, or with an unclosed quote, are kept under MALFORMED.
    None when the file has more than MAX_DIGEST_KEYS date texts, or when the file is
    not read by the fast CSV path (the other readers rewrite the table whole, which is
    correct). Pure Python, no Spark: it runs beside it."""
    if source_file.reader != "spark":
        return None
    source = source_file.source
    dialect = csv_dialect(source.csv)
    sep, special = dialect["delimiter"], {dialect["quotechar"], dialect.get("escapechar") or dialect["quotechar"]}
    index = source_file.header.index(source.date_column)
    width = len(source_file.header)
    comment = source.csv.get("comment")
    opts = readers.read_options(source)
    out: dict[str, list[int]] = {}
    with source_file.path.open(encoding="utf-8", errors="surrogateescape", newline=None) as fh:
        next(fh, None)  # the header
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip(" ") or (comment and line.startswith(comment)):
                continue  # Spark's bronze drops these lines too
            plain = not any(c in line for c in special)
            fields = line.split(sep) if plain else next(csv.reader((line,), **dialect))
            unclosed = not plain and readers.quote_open(line, opts, False)  # malformed in bronze too
            key = fields[index] if len(fields) == width and not unclosed else MALFORMED
            h = hashlib.blake2b(line.encode("utf-8", "surrogateescape"), digest_size=16).digest()
            entry = out.get(key)
            if entry is None:
                if len(out) >= MAX_DIGEST_KEYS:
                    return None
                entry = out[key] = [0, 0, 0]
            entry[0] += 1
            entry[1] = (entry[1] + int.from_bytes(h[:8], "little")) & _MASK
            entry[2] = (entry[2] + int.from_bytes(h[8:], "little")) & _MASK
    return out


def changed_date_texts(new: dict[str, list[int]], old: dict[str, list[int]]) -> set[str]:
    """The raw date texts whose lines differ between two digests (added, removed or changed)."""
    return {k for k in new.keys() | old.keys() if new.get(k) != old.get(k)}


def snapshot_at_grain(date, source: Source):
    """The parsed date as the snapshot_date partition: itself, or with `snapshot_grain:
    month` the first of its month (event data: one partition per month, not per day)."""
    from pyspark.sql import functions as F

    return F.trunc(date, "month") if getattr(source, "snapshot_grain", "day") == "month" else date


def partitions_of(spark, source: Source, texts: set[str]) -> set[str | None]:
    """The snapshot_date partitions (ISO text; None = unparsed) that raw date `texts`
    land in, parsed exactly as :func:`parse_bronze` parses them: in Python when the
    first format is plain yyyy/MM/dd (see _simple_date), else by Spark over the texts
    as literals (one small job)."""
    from pyspark.sql import functions as F

    if not texts:
        return set()
    found: set[str | None] = set()
    ordered = []
    for text in sorted(texts):
        date = _simple_date(text, source.date_formats)
        if date is NotImplemented:
            ordered.append(text)  # a pattern we do not mirror: Spark decides
        elif date is None:
            found.add(None)
        else:
            found.add((date.replace(day=1) if source.snapshot_grain == "month" else date).isoformat())
    if not ordered:
        return found

    def parse(text: str):
        raw = F.trim(F.lit(text))
        dates = [F.to_date(F.try_to_timestamp(raw, F.lit(fmt))) for fmt in source.date_formats]
        return snapshot_at_grain(dates[0] if len(dates) == 1 else F.coalesce(*dates), source).cast("string")

    row = spark.createDataFrame([(0,)], "x int").select(*[parse(t).alias(f"d{i}") for i, t in enumerate(ordered)])
    return found | set(row.collect()[0])


_SIMPLE_FIELDS = {"yyyy": r"(?P<y>\d{4})", "MM": r"(?P<m>\d{2})", "dd": r"(?P<d>\d{2})"}


def _simple_date(text: str, formats: tuple[str, ...]):
    """`text` parsed like ``to_date(try_to_timestamp(trim(text), fmt))`` does, in the
    one case that is certain without Spark: the first format is made of yyyy, MM and
    dd with - / . separators and the text fits it digit for digit (a date, or None for
    an impossible date when there is no other format). NotImplemented otherwise."""
    tokens = re.findall(r"yyyy|MM|dd|[-/.]|.", formats[0]) if formats else []
    if sorted(t for t in tokens if t[0] in "yMd") != ["MM", "dd", "yyyy"] or any(
            t not in _SIMPLE_FIELDS and t not in "-/." for t in tokens):
        return NotImplemented
    match = re.fullmatch("".join(_SIMPLE_FIELDS.get(t, re.escape(t)) for t in tokens), text.strip(" "))
    if match is None:
        return NotImplemented
    try:
        return dt.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        return None if len(formats) == 1 else NotImplemented
