"""Generic bronze ingest: every raw row of every declared source, every column as text.

One code path serves every source in `conf/<domain>.yaml`. A bronze table
``bronze/<source>`` holds, per raw data line of the CSV file:

- every column of the file's header, as text, under its header name (characters that
  Delta does not allow in names become ``_``; a header column named like a bronze
  column below is kept as ``<name>_raw``);
- ``snapshot_date`` (date, the partition column): the source's date column parsed with
  the first configured format that fits, null when none does;
- ``_source_file`` (absolute path), ``_source_line`` (1-based line number in that file,
  the header being line 1), ``_ingested_at`` (run start, UTC), ``_run_id``;
- ``_malformed_line``: the raw line when its number of fields differs from the header
  (null otherwise), so nothing of a broken row is lost.

Blank lines and comment lines carry no row. Records must not span lines (quoted
newlines), which is what line numbers require.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from utils.lake.config import Source

logger = logging.getLogger(__name__)

PARTITION_COLUMN = "snapshot_date"
LINEAGE_COLUMNS = ("_source_file", "_source_line", "_ingested_at", "_run_id", "_malformed_line")
RESERVED = (PARTITION_COLUMN, *LINEAGE_COLUMNS)
_BAD_NAME_CHARS = re.compile(r"[ ,;{}()\n\t=]")


class SourceError(RuntimeError):
    """A source file cannot be ingested; the message names the file and the problem."""


@dataclass(frozen=True)
class SourceFile:
    """A checked source file: where it is, what it holds, and its content hash."""

    source: Source
    path: Path
    header: tuple[str, ...]
    sha256: str
    size: int

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
    """Check the file exists, is a non-empty CSV with the required columns; hash it.

    Raises SourceError with a one-line message naming the file.
    """
    path = source.resolve(data_root).resolve()
    label = f"source {source.name}: {path}"
    if not path.exists():
        raise SourceError(f"{label}: file not found (set --data-root or sources.{source.name}.path)")
    if path.is_dir():
        raise SourceError(f"{label}: is a directory, expected a CSV file")
    size = path.stat().st_size
    if size == 0:
        raise SourceError(f"{label}: file is empty (0 bytes), expected a header line")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        first = fh.readline()
        digest.update(first)
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    try:
        text = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{label}: line 1: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not text.strip():
        raise SourceError(f"{label}: line 1 is blank, expected a header line")
    header = tuple(next(csv.reader([text], **_csv_dialect(source.csv))))
    dupes = sorted({c for c in header if header.count(c) > 1})
    if dupes:
        raise SourceError(f"{label}: line 1: duplicate column name(s) {dupes}")
    missing = [c for c in source.required_columns if c not in header]
    if missing:
        raise SourceError(f"{label}: line 1: missing required column(s) {missing}; header has {list(header)}")
    extra = [c for c in header if c not in source.required_columns]
    if extra:
        logger.warning("%s: extra column(s) %s kept in bronze", label, extra)
    return SourceFile(source, path, header, digest.hexdigest(), size)


def _csv_dialect(options: dict[str, str]) -> dict:
    quote = options.get("quote", '"')
    escape = options.get("escape", '"')
    dialect = {"delimiter": options.get("sep", ","), "quotechar": quote}
    if escape == quote:
        dialect["doublequote"] = True
    else:
        dialect.update(doublequote=False, escapechar=escape)
    return dialect


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
    source's CSV options; keeps every field as text; parses the partition date.
    """
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    source = source_file.source
    columns = source_file.columns
    positional = [f"_c{i}" for i in range(len(columns))]
    schema = T.StructType(
        [T.StructField(c, T.StringType()) for c in positional] + [T.StructField("_malformed_line", T.StringType())]
    )
    options = {k: v for k, v in source.csv.items() if k != "comment"}
    options.update(mode="PERMISSIVE", columnNameOfCorruptRecord="_malformed_line")

    keep = (F.col("_source_line") > 1) & (F.trim(F.col("value")) != "")
    if source.csv.get("comment"):
        keep &= ~F.col("value").startswith(source.csv["comment"])
    parsed = lines.where(keep).select(
        F.from_csv(F.col("value"), schema.simpleString(), options).alias("r"), "_source_line"
    )
    date_col = columns[source_file.header.index(source.date_column)]
    fields = [F.col(f"r.{p}").alias(name) for p, name in zip(positional, columns)]
    out = parsed.select(*fields, "r._malformed_line", "_source_line")
    raw_date = F.trim(F.col(date_col))
    parsed_dates = [F.to_date(F.try_to_timestamp(raw_date, F.lit(fmt))) for fmt in source.date_formats]
    snapshot = parsed_dates[0] if len(parsed_dates) == 1 else F.coalesce(*parsed_dates)
    return out.select(
        *columns,
        F.lit(str(source_file.path)).alias("_source_file"),
        F.col("_source_line").cast("long").alias("_source_line"),
        F.lit(ingested_at).cast("timestamp").alias("_ingested_at"),
        F.lit(run_id).alias("_run_id"),
        "_malformed_line",
        snapshot.alias(PARTITION_COLUMN),
    )


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
    count differs from the header are kept under MALFORMED. None when the file has
    more than MAX_DIGEST_KEYS date texts. Pure Python, no Spark: it runs beside it."""
    source = source_file.source
    dialect = _csv_dialect(source.csv)
    sep, special = dialect["delimiter"], {dialect["quotechar"], dialect.get("escapechar") or dialect["quotechar"]}
    index = source_file.header.index(source.date_column)
    width = len(source_file.header)
    comment = source.csv.get("comment")
    out: dict[str, list[int]] = {}
    with source_file.path.open(encoding="utf-8", errors="surrogateescape", newline=None) as fh:
        next(fh, None)  # the header
        for line in fh:
            line = line.rstrip("\n")
            if not line.strip(" ") or (comment and line.startswith(comment)):
                continue  # Spark's bronze drops these lines too
            plain = not any(c in line for c in special)
            fields = line.split(sep) if plain else next(csv.reader((line,), **dialect))
            key = fields[index] if len(fields) == width else MALFORMED
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
        else:
            found.add(None if date is None else date.isoformat())
    if not ordered:
        return found

    def parse(text: str):
        raw = F.trim(F.lit(text))
        dates = [F.to_date(F.try_to_timestamp(raw, F.lit(fmt))) for fmt in source.date_formats]
        return (dates[0] if len(dates) == 1 else F.coalesce(*dates)).cast("string")

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
