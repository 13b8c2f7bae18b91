"""Streaming record readers: every record of a CSV, JSON Lines, JSON or Parquet file,
every field as text, with the record's locator, for the bronze layer.

`iter_records(path, source)` yields one :class:`RawRecord` per raw record;
`records_to_parquet(...)` writes them as all-string Arrow batches that Spark reads
into bronze (utils/layers/bronze.py builds the bronze rows from them exactly as from
its own fast CSV path: same columns, same date parsing).

Why this is hand-written rather than Spark's readers: Spark's CSV and JSON readers in
multiLine mode read a file as one stream and give a record no line number, and
bronze's per-line numbering (spark.read.text) only holds when a record is one line.
Spark's text decoding also replaces bytes that are invalid in the charset with U+FFFD
without any trace. Here every record keeps where it starts, and a byte that does not
decode marks its record malformed with the reason (the raw text keeps the byte
visible, backslash-escaped), so nothing is replaced silently.

Record locator (`RawRecord.line`, bronze `_source_line`):
  - CSV and JSON Lines: the physical line where the record starts, 1-based (a CSV
    header is line 1; blank and comment lines carry no record but count);
  - JSON documents and Parquet: the record's 1-based index in the file.

Formats (the source's `format`):
  - csv: any one-character `csv.sep` with quoting, or `whitespace: true` (fields are
    separated by runs of spaces/tabs, leading and trailing ones ignored, no quoting;
    values are kept exactly, `00042` stays `00042`). `header: false` takes the names
    from `columns`. `multiline: true` lets a quoted field span lines. A record whose
    field count differs from the header keeps the fields it has (missing ones null,
    extra ones dropped, as Spark's own CSV parser does) and is malformed. An empty
    field is null, as in Spark.
  - jsonl: one JSON object per line (or, with `json_record_path`, the records at
    that path in each line's document, all located at that line); blank lines carry
    no record.
  - json: a document (pretty-printed or not) holding the records: the document itself
    (an array of objects, or one object), or the array at `json_record_path` (a
    dotted path; a list met on the way is walked element by element).
  - parquet: every column cast to text by Arrow (dates `2023-01-01`, timestamps
    `2023-01-01 12:00:00.000000`), nested values as compact JSON, binary as hex.
  JSON fields (utils/ingest/json_values.py) are the record's top-level keys, or the declared `json_fields`
  (bronze column -> dotted path; a numeric part indexes a list). Strings are kept as
  they are, numbers exactly as written (`1.50` stays `1.50`), true/false as text,
  null as null, objects and arrays as compact JSON text.

Malformed records (`malformed` = the raw text, `reason` = why), each kept:
wrong field count ("3 fields, header has 5"), bytes not valid in the declared
encoding ("bytes not valid utf-8 at byte 17: 0x81", the byte's 1-based position in
its line), a NUL byte (text files hold none: "NUL byte at character 4"), a quoted
field not closed at the end of its line (multiline off) or of the file, not valid JSON
("not valid JSON: Expecting ',' delimiter at line 1 column 30"), a JSON value that is
not an object.

Memory: CSV and JSON Lines are read one physical line at a time (a multi-line CSV
record is held until its quote closes, at most MAX_RECORD_CHARS characters); a JSON
document is loaded whole (the standard parser needs all of it; documents are API
pages or exports of modest size); Parquet is read one row batch at a time.
Encodings must be ASCII-compatible (utf-8, ascii, latin-1, cp1252, iso-8859-x...):
lines are split on the byte 0x0A before decoding. A UTF-8 byte-order mark is skipped.
Lines end at LF or CRLF.
"""

from __future__ import annotations

import codecs
import csv
import json
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from utils.ingest.json_values import (
    RecordPathError,
    compact_json,
    dig,
    json_text,
    kind,
    loads,
    records_at,
)

logger = logging.getLogger(__name__)

FORMATS = ("csv", "jsonl", "json", "parquet")
#: A multi-line CSV record still open after this many characters is cut there and kept
#: as one malformed record (an unclosed quote must not hold the rest of the file).
MAX_RECORD_CHARS = 64 << 20
_WHITESPACE = re.compile(r"[ \t]+")

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # fields may be megabytes long


class ReadError(ValueError):
    """The file cannot be read as declared; the message says where (no source name)."""


class RawRecord(NamedTuple):
    """One raw record: where it starts, its fields as text (None when it could not be
    split into fields at all), and for a malformed record its raw text and the reason."""

    line: int
    fields: dict[str, str | None] | None
    malformed: str | None
    reason: str | None


@dataclass
class ReadStats:
    """What `records_to_parquet` wrote: records, of which malformed, and the files."""

    records: int = 0
    malformed: int = 0
    files: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class ReadOptions:
    """How a source's files are read (from its configuration, with the defaults)."""

    format: str
    header: bool
    columns: tuple[str, ...] | None
    encoding: str
    codec: str  # Python's canonical name of the encoding
    whitespace: bool
    multiline: bool
    record_path: str
    json_fields: dict[str, str]
    sep: str
    quote: str
    escape: str
    comment: str


def read_options(source) -> ReadOptions:
    """The reading options of a source; ReadError for an unknown or unsupported encoding."""
    encoding = getattr(source, "encoding", None) or "utf-8"
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as exc:
        raise ReadError(f"unknown encoding {encoding!r}") from exc
    if "\n".encode(codec) != b"\n" or "a".encode(codec) != b"a":
        raise ReadError(f"encoding {encoding!r} is not ASCII-compatible (lines are split on the byte 0x0A)")
    options = dict(getattr(source, "csv", None) or {})
    columns = getattr(source, "columns", None)
    fmt = getattr(source, "format", None) or "csv"
    if fmt not in FORMATS:
        raise ReadError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    return ReadOptions(
        format=fmt, header=bool(getattr(source, "header", True)),
        columns=tuple(columns) if columns else None, encoding=encoding, codec=codec,
        whitespace=bool(getattr(source, "whitespace", False)), multiline=bool(getattr(source, "multiline", False)),
        record_path=getattr(source, "json_record_path", "") or "",
        json_fields=dict(getattr(source, "json_fields", None) or {}),
        sep=options.get("sep", ","), quote=options.get("quote", '"'), escape=options.get("escape", '"'),
        comment=options.get("comment", "") or "",
    )


def csv_dialect(options: dict[str, str] | ReadOptions) -> dict:
    """Python csv.reader keywords for a source's CSV options (sep, quote, escape)."""
    if isinstance(options, ReadOptions):
        sep, quote, escape = options.sep, options.quote, options.escape
    else:
        sep, quote, escape = options.get("sep", ","), options.get("quote", '"'), options.get("escape", '"')
    dialect: dict[str, Any] = {"delimiter": sep, "quotechar": quote}
    if escape == quote:
        dialect["doublequote"] = True
    else:
        dialect.update(doublequote=False, escapechar=escape)
    return dialect


# --------------------------------------------------------------------------- text lines


def decode_line(raw: bytes, opts: ReadOptions) -> tuple[str, str | None]:
    """A line's bytes as text, and why it is malformed (None when fine): bytes invalid
    in the encoding are kept backslash-escaped and reported, as is a NUL byte."""
    try:
        text = raw.decode(opts.codec)
    except UnicodeDecodeError as exc:
        text = raw.decode(opts.codec, "backslashreplace")
        return text, f"bytes not valid {opts.encoding} at byte {exc.start + 1}: 0x{raw[exc.start]:02x}"
    if "\x00" in text:
        return text, f"NUL byte at character {text.index(chr(0)) + 1}"
    return text, None


def _text_lines(path: Path, opts: ReadOptions) -> Iterator[tuple[int, str, str | None]]:
    """(line number, text without its line end, reason when malformed), one line at a time."""
    bom = codecs.BOM_UTF8 if opts.codec == "utf-8" else b""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if number == 1 and bom and raw.startswith(bom):
                raw = raw[len(bom):]
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            yield number, *decode_line(raw, opts)


def split_fields(text: str, opts: ReadOptions, dialect: dict | None = None) -> list[str]:
    """One CSV record's fields (csv.Error when it cannot be split)."""
    if opts.whitespace:
        stripped = text.strip(" \t")
        return _WHITESPACE.split(stripped) if stripped else []
    return next(csv.reader([text], **(dialect or csv_dialect(opts))), [])


def quote_open(text: str, opts: ReadOptions, inside: bool) -> bool:
    """Whether a quoted field is open at the end of `text`, given whether one was at its start."""
    if opts.whitespace or not opts.quote:
        return False
    if opts.escape == opts.quote or not opts.escape:
        return inside ^ (text.count(opts.quote) % 2 == 1)
    skip = False
    for ch in text:
        if skip:
            skip = False
        elif ch == opts.escape and inside:
            skip = True
        elif ch == opts.quote:
            inside = not inside
    return inside


def _blank(text: str, opts: ReadOptions) -> bool:
    # spaces only, as Spark's trim() in bronze's fast path; tabs too when they separate fields
    return not text.strip(" \t" if opts.whitespace else " ")


class TextProbe:
    """Fed a text file's bytes in order (while it is hashed): whether they all decode
    strictly in the declared encoding, the line of the first byte that does not, the
    line of the first NUL byte, and whether anything but whitespace follows line 1."""

    def __init__(self, opts: ReadOptions):
        self.opts = opts
        self._decoder = codecs.getincrementaldecoder(opts.codec)("strict")
        self._lines = 0  # line ends before the current chunk
        self.bad_line: int | None = None
        self.nul_line: int | None = None
        self.data_after_line_1 = False

    def feed(self, chunk: bytes) -> None:
        if self.bad_line is None:
            pending = len(self._decoder.getstate()[0])
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                self.bad_line = self._lines + chunk.count(b"\n", 0, max(exc.start - pending, 0)) + 1
        if self.nul_line is None and b"\x00" in chunk:
            self.nul_line = self._lines + chunk.count(b"\n", 0, chunk.index(b"\x00")) + 1
        if not self.data_after_line_1:
            rest = chunk if self._lines else chunk.partition(b"\n")[2]
            self.data_after_line_1 = bool(rest.strip(b" \t\r\n"))
        self._lines += chunk.count(b"\n")

    def close(self) -> None:
        if self.bad_line is None:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.bad_line = self._lines + 1

    @property
    def clean(self) -> bool:
        """Every byte decoded and no NUL byte: what Spark's text reader can take as is."""
        return self.bad_line is None and self.nul_line is None


#: Share of control characters or undecodable bytes in the first KB that marks a file binary.
BINARY_SHARE = 0.10


def binary_reason(head: bytes, opts: ReadOptions) -> str | None:
    """Why the first bytes of a file are not text in the declared encoding (None when
    they are): more than BINARY_SHARE of them undecodable bytes or control characters.
    A stray bad byte in a text file stays below it (its record is quarantined)."""
    if opts.codec == "utf-8" and head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8):]
    text = codecs.getincrementaldecoder(opts.codec)("replace").decode(head, final=False)
    if not text:
        return None
    bad = sum(1 for ch in text if ch == "\ufffd" or (ord(ch) < 32 and ch not in "\t\n\r\f") or 0x7f <= ord(ch) < 0xa0)
    if bad / len(text) <= BINARY_SHARE:
        return None
    return (f"not {opts.encoding} text: {bad} of the first {len(text)} characters are control characters "
            "or invalid bytes (a binary file?)")


# --------------------------------------------------------------------------- CSV


def csv_header(path: Path, opts: ReadOptions) -> tuple[str, ...]:
    """The column names: line 1 split like a record, or the declared `columns`."""
    if not opts.header:
        if not opts.columns:
            raise ReadError("header: false needs the column names in `columns`")
        return opts.columns
    with open(path, "rb") as fh:
        raw = fh.readline()
    if opts.codec == "utf-8" and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    text, reason = decode_line(raw.rstrip(b"\r\n"), opts)
    if reason:
        raise ReadError(f"line 1 (the header): {reason}")
    if _blank(text, opts):
        raise ReadError("line 1 is blank, expected a header line")
    try:
        return tuple(split_fields(text, opts))
    except csv.Error as exc:
        raise ReadError(f"line 1 (the header): not valid CSV: {exc}") from exc


def _csv_records(path: Path, opts: ReadOptions) -> Iterator[RawRecord]:
    names = csv_header(path, opts)
    expected = f"header has {len(names)}" if opts.header else f"columns declares {len(names)}"
    dialect = csv_dialect(opts)
    lines = _text_lines(path, opts)
    if opts.header:
        next(lines, None)
    pending: list[tuple[int, str, str | None]] = []
    inside, size = False, 0
    for item in lines:
        text = item[1]
        if not pending and (_blank(text, opts) or (opts.comment and text.startswith(opts.comment))):
            continue
        pending.append(item)
        inside = quote_open(text, opts, inside)
        if opts.multiline:
            size += len(text)
            if inside and size <= MAX_RECORD_CHARS:
                continue
            why = None if not inside else f"quoted field still open after {MAX_RECORD_CHARS} characters"
        else:
            why = None if not inside else "quoted field not closed at the end of the line (multiline is off)"
        yield _csv_record(pending, names, expected, opts, dialect, why)
        pending, inside, size = [], False, 0
    if pending:
        yield _csv_record(pending, names, expected, opts, dialect, "quoted field not closed by the end of the file")


def _csv_record(pending, names, expected: str, opts: ReadOptions, dialect: dict, why: str | None) -> RawRecord:
    """One record from its physical lines; malformed when a line did not decode, its
    quote did not close, or its field count differs from the header."""
    first = pending[0][0]
    text = "\n".join(t for _, t, _ in pending)
    for number, _, reason in pending:
        if reason:
            why = reason if number == first else f"line {number}: {reason}"
            break
    try:
        values = split_fields(text, opts, dialect)
    except csv.Error as exc:
        return RawRecord(first, None, text, why or f"not valid CSV: {exc}")
    if why is None and len(values) != len(names):
        why = f"{len(values)} field{'s' if len(values) != 1 else ''}, {expected}"
    fields = {n: (values[i] or None) if i < len(values) else None for i, n in enumerate(names)}
    return RawRecord(first, fields, text if why else None, why)


# --------------------------------------------------------------------------- JSON


def record_fields(record: dict, opts: ReadOptions) -> dict[str, str | None]:
    """A JSON object's bronze fields: the declared paths, else its top-level keys."""
    if opts.json_fields:
        return {name: json_text(dig(record, path)) for name, path in opts.json_fields.items()}
    return {str(k): json_text(v) for k, v in record.items()}


def _jsonl_records(path: Path, opts: ReadOptions) -> Iterator[RawRecord]:
    for number, text, reason in _text_lines(path, opts):
        if not text.strip():
            continue
        if reason:
            yield RawRecord(number, None, text, reason)
            continue
        try:
            value = loads(text)
        except json.JSONDecodeError as exc:
            yield RawRecord(number, None, text, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
            continue
        try:
            records = records_at(value, opts.record_path) if opts.record_path else [value]
        except RecordPathError as exc:
            yield RawRecord(number, None, text, str(exc))
            continue
        for record in records:  # one, unless a record path selects an array in the line
            if isinstance(record, dict):
                yield RawRecord(number, record_fields(record, opts), None, None)
            else:
                yield RawRecord(number, None, compact_json(record), f"not a JSON object but {kind(record)}")


def load_json_document(path: Path, opts: ReadOptions) -> list[Any]:
    """The records of a JSON document (loaded whole): the values at the record path,
    arrays flattened. ReadError, with the line, when it does not decode or parse."""
    data = path.read_bytes()
    if opts.codec == "utf-8" and data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        text = data.decode(opts.codec)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ReadError(f"line {line}: bytes not valid {opts.encoding} at byte {exc.start + 1}: "
                        f"0x{data[exc.start]:02x}") from exc
    try:
        document = loads(text)
    except json.JSONDecodeError as exc:
        raise ReadError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    try:
        return records_at(document, opts.record_path)
    except RecordPathError as exc:
        raise ReadError(str(exc)) from exc


def _json_records(path: Path, opts: ReadOptions) -> Iterator[RawRecord]:
    for index, record in enumerate(load_json_document(path, opts), 1):
        if isinstance(record, dict):
            yield RawRecord(index, record_fields(record, opts), None, None)
        else:
            yield RawRecord(index, None, compact_json(record), f"record {index} is not a JSON object but {kind(record)}")


def json_field_names(path: Path, opts: ReadOptions) -> tuple[tuple[str, ...], set[str], int]:
    """For a JSON or JSON Lines file: its bronze column names (the declared json_fields,
    else every top-level key in order of first appearance), the names some record
    holds a value for (present, possibly null), and the number of records."""
    names: dict[str, None] = dict.fromkeys(opts.json_fields)
    present: set[str] = set()
    records = 0
    for record in _json_records(path, opts) if opts.format == "json" else _jsonl_records(path, opts):
        records += 1
        if record.fields is None:
            continue
        if opts.json_fields:
            present |= {k for k, v in record.fields.items() if v is not None}
        else:
            names.update(dict.fromkeys(record.fields))
            present |= set(record.fields)
    return tuple(names), present, records


# --------------------------------------------------------------------------- Parquet


def _text_array(column):
    """An Arrow column as strings: scalars cast, nested values as compact JSON, binary as hex."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.dictionary_decode(), kind.value_type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.cast(pa.string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return pa.array([None if v is None else v.hex() for v in column.to_pylist()], pa.string())
    if pa.types.is_nested(kind):
        return pa.array([None if v is None else json.dumps(v, default=str, ensure_ascii=False, separators=(",", ":"))
                         for v in column.to_pylist()], pa.string())
    return pc.cast(column, pa.string())


def parquet_columns(path: Path) -> tuple[tuple[str, ...], int]:
    """A Parquet file's top-level column names and row count (ReadError if not Parquet)."""
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError... for non-Parquet bytes
        raise ReadError(f"not a Parquet file ({str(exc).splitlines()[0]})") from exc
    return tuple(meta.schema_arrow.names), meta.metadata.num_rows


def _parquet_text_batches(path: Path, batch_rows: int):
    """(first record index, {column: string array}) per row batch of a Parquet file."""
    import pyarrow.parquet as pq

    first = 1
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        yield first, {name: _text_array(batch.column(i)) for i, name in enumerate(batch.schema.names)}
        first += batch.num_rows


def _parquet_records(path: Path) -> Iterator[RawRecord]:
    for first, columns in _parquet_text_batches(path, 10_000):
        values = {name: array.to_pylist() for name, array in columns.items()}
        rows = len(next(iter(values.values()), []))
        for i in range(rows):
            yield RawRecord(first + i, {name: vals[i] for name, vals in values.items()}, None, None)


# --------------------------------------------------------------------------- entry points


def iter_records(path: Path | str, source) -> Iterator[RawRecord]:
    """Every raw record of one file of `source`, in file order (see the module docstring)."""
    path = Path(path)
    opts = read_options(source)
    if opts.format == "csv":
        return _csv_records(path, opts)
    if opts.format == "jsonl":
        return _jsonl_records(path, opts)
    if opts.format == "json":
        return _json_records(path, opts)
    return _parquet_records(path)


def positional_schema(width: int):
    """The Arrow schema of the files `records_to_parquet` writes."""
    import pyarrow as pa

    return pa.schema([*(pa.field(f"_c{i}", pa.string()) for i in range(width)),
                      pa.field("_source_line", pa.int64()), pa.field("_malformed_record", pa.string()),
                      pa.field("_malformed_reason", pa.string())])


def records_to_parquet(
    path: Path | str, source, out_dir: Path | str, columns: tuple[str, ...] | list[str], batch_rows: int = 50_000,
) -> ReadStats:
    """Write every record of one file to `out_dir/part-00000.parquet`: one row per
    record, field `columns[i]` as string column `_c{i}` (null when the record lacks
    it), then `_source_line` (long), `_malformed_record`, `_malformed_reason`. Batches
    of `batch_rows` rows, so memory stays bounded whatever the file size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, out_dir = Path(path), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    schema = positional_schema(len(columns))
    stats = ReadStats(files=[out_dir / "part-00000.parquet"])
    with pq.ParquetWriter(stats.files[0], schema) as writer:
        if read_options(source).format == "parquet":
            for first, arrays in _parquet_text_batches(path, batch_rows):
                rows = len(next(iter(arrays.values()))) if arrays else 0
                nulls = pa.nulls(rows, pa.string())
                data = [arrays.get(c, nulls) for c in columns]
                data += [pa.array(range(first, first + rows), pa.int64()), nulls, nulls]
                writer.write_batch(pa.RecordBatch.from_arrays(data, schema=schema))
                stats.records += rows
            return stats
        buffer: list[list] = [[] for _ in range(len(columns) + 3)]

        def flush() -> None:
            if buffer[-3]:
                writer.write_batch(pa.RecordBatch.from_arrays(
                    [pa.array(values, type=f.type) for values, f in zip(buffer, schema)], schema=schema))
                for values in buffer:
                    values.clear()

        for record in iter_records(path, source):
            fields = record.fields or {}
            for i, name in enumerate(columns):
                buffer[i].append(fields.get(name))
            buffer[-3].append(record.line)
            buffer[-2].append(record.malformed)
            buffer[-1].append(record.reason)
            stats.records += 1
            stats.malformed += record.malformed is not None
            if len(buffer[-3]) >= batch_rows:
                flush()
        flush()
    return stats
