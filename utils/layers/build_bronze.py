"""The bronze layer of a run: stage every selected source's rows for `bronze/<source>`,
whole or only the months whose lines changed."""

from __future__ import annotations

import datetime as dt
import functools
import glob
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from utils.lake import delta_io
from utils.lake.ledger import InputRecord, OutputRecord
from utils.layers import bronze
from utils.layers.run import (
    Build,
    Change,
    PendingWrite,
    committed_identity,
    fingerprint,
    partitions_in_range,
)

logger = logging.getLogger(__name__)


def build_bronze(build: Build, files: dict[str, list[bronze.SourceFile]]) -> list[PendingWrite]:
    """Stage every selected source for `bronze/<source>` (committed by the caller once all
    layers passed). `files` holds, per source, the landed files its table is made of.
    A table is skipped when it was last written from the same content hashes, reading
    options and date range and nobody has written it since, unless
    `options.full_refresh`. A single file that changed in some months only rewrites those
    partitions (see `_bronze_changes`); a source of several files (dated drops, API
    deliveries) that only gained files appends just their rows (see `_stage_multi`)."""
    progress = build.progress
    pending: list[PendingWrite] = []
    progress.start(len(files), "bronze")
    digester = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest")
    try:
        for name, sfs in files.items():
            if is_multi_file(build.config.sources[name]):
                _stage_multi(build, build.config.sources[name], sfs, pending)
            else:
                _stage_single(build, sfs[0], pending, digester)
            progress.advance(name)
    except BaseException:
        for write in pending:
            write.staged.abort()
        raise
    finally:
        digester.shutdown(wait=False, cancel_futures=True)
        progress.stop()
    return pending


def is_multi_file(source) -> bool:
    """A source whose table is the union of several landed files: a glob of drops, or
    an API (each delivery its own pages)."""
    return getattr(source, "api", None) is not None or glob.has_magic(str(source.path or ""))


def bronze_frame(build: Build, sf: bronze.SourceFile):
    """The bronze rows of one landed file (not yet written)."""
    spark, record = build.get_spark(), build.record
    if hasattr(bronze, "read_bronze"):
        return bronze.read_bronze(spark, sf, run_id=record.run_id, ingested_at=record.started_at,
                                  scratch=build.datamart.scratch / record.run_id)
    return bronze.parse_bronze(bronze.read_numbered_lines(spark, sf.path), sf, run_id=record.run_id,
                               ingested_at=record.started_at)


def _stage_single(build: Build, sf: bronze.SourceFile, pending: list[PendingWrite],
                  digester: ThreadPoolExecutor) -> None:
    options, datamart, ledger, record = build.options, build.datamart, build.ledger, build.record
    began = time.perf_counter()
    table_path = datamart.table("bronze", sf.source.name)
    inp = InputRecord(
        source=sf.source.name, path=str(sf.path), sha256=sf.sha256, bytes=sf.size,
        source_config_hash=sf.source.fingerprint(), range_start=options.start, range_end=options.end,
    )
    record.inputs.append(inp)
    name = f"bronze/{sf.source.name}"
    fp = fingerprint(sf.sha256, inp.source_config_hash, options.start, options.end)
    current_version = delta_io.table_version(table_path)
    if not options.full_refresh and ledger.unchanged(name, fp, current_version):
        inp.skipped = True
        logger.info("bronze/%s: %s unchanged since version %s, skipped", sf.source.name, sf.path.name, current_version)
        record.outputs.append(OutputRecord(
            "bronze", name, str(table_path), current_version,
            0, 0, 0, 0, 0, time.perf_counter() - began, "unchanged", fp,
        ))
        return

    ranged = options.start is not None or options.end is not None
    # the file's date digests (pure Python) are computed while Spark starts and works
    digests = None if ranged else digester.submit(bronze.date_digests, sf)
    df = bronze_frame(build, sf)
    changed = None
    if not ranged and not options.full_refresh:
        changed = _bronze_changes(build, sf, digests.result(), table_path)
    if ranged:
        df = bronze.restrict_to_range(df, options.start, options.end)
        mode, partitions = "overwrite_partitions", [None, *partitions_in_range(table_path, options.start, options.end)]
    elif changed is not None:
        # only the months whose rows differ are rewritten; the others keep their rows
        # (and the lineage of the run that ingested them)
        build.changes[name] = Change(committed_identity(ledger, name, table_path), frozenset(changed))
        dates = [None if p is None else dt.date.fromisoformat(p) for p in changed]
        df = df.where(bronze.in_partitions(changed))
        mode, partitions = "overwrite_partitions", dates
    else:
        mode, partitions = "overwrite", None
    staged = delta_io.stage_table(
        df, table_path, mode=mode, partitions=partitions,
        metadata={"run_id": record.run_id, "source_sha256": sf.sha256},
    )
    if digests is not None and digests.result() is not None:
        # kept with the commit, for the next run to find which months the file changed
        staged.metadata[bronze.DIGEST_KEY] = json.dumps(digests.result(), separators=(",", ":"))
    null_rows = staged.partitions.get(f"{bronze.PARTITION_COLUMN}={delta_io.NULL_PARTITION}", 0)
    if null_rows:
        logger.warning(
            "bronze/%s: %d row(s) have a %s that none of the formats %s parses; "
            "they are kept with a null snapshot_date",
            sf.source.name, null_rows, sf.source.date_column, list(sf.source.date_formats),
        )
    seconds = time.perf_counter() - began
    output = OutputRecord(
        "bronze", name, str(table_path), None, staged.rows, null_rows, 0,
        len(staged.partitions), 0, seconds, "staged", fp,
    )

    kept = "" if changed is None else \
        f" ({len({k[0] for k in delta_io.list_partitions(table_path)} - changed)} unchanged kept)"

    def report(out: OutputRecord, source: str = sf.source.name, kept: str = kept) -> None:
        logger.info("bronze/%s: %d rows in %d partitions%s -> version %s (%.1fs)",
                    source, out.rows_written, out.partitions_written, kept, out.version, out.seconds)

    pending.append(PendingWrite(staged, output, report))


FILES_KEY = "lakehouse.files"  # commit metadata: the landed files a multi-file table is made of


def _stage_multi(build: Build, source, sfs: list[bronze.SourceFile], pending: list[PendingWrite]) -> None:
    """Stage `bronze/<source>` of a source made of several landed files. When the
    committed table was made of a subset of today's files (recorded in its commit) and
    nobody wrote it since, only the new files' rows are appended; else every file is
    read and the table replaced."""
    options, datamart, ledger, record = build.options, build.datamart, build.ledger, build.record
    began = time.perf_counter()
    name, table_path = f"bronze/{source.name}", datamart.table("bronze", source.name)
    config_hash = source.fingerprint()
    for sf in sfs:
        record.inputs.append(InputRecord(
            source=source.name, path=sf_name(sf), sha256=sf.sha256, bytes=sf.size,
            source_config_hash=config_hash, range_start=options.start, range_end=options.end,
        ))
    fp = fingerprint(sorted(sf.sha256 for sf in sfs), config_hash, options.start, options.end)
    version = delta_io.table_version(table_path)
    if not options.full_refresh and ledger.unchanged(name, fp, version):
        for inp in record.inputs[-len(sfs):]:
            inp.skipped = True
        logger.info("bronze/%s: %d landed file(s) unchanged since version %s, skipped", source.name, len(sfs), version)
        record.outputs.append(OutputRecord("bronze", name, str(table_path), version, 0, 0, 0, 0, 0,
                                           time.perf_counter() - began, "unchanged", fp))
        return
    ranged = options.start is not None or options.end is not None
    previous = _committed_files(build, name, table_path)
    names = [sf_name(sf) for sf in sfs]
    new = [sf for sf in sfs if previous is not None and sf_name(sf) not in previous]
    append = not (options.full_refresh or ranged) and previous is not None and set(previous) <= set(names)
    chosen = new if append else sfs
    frames = [bronze_frame(build, sf) for sf in chosen]
    df = functools.reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    if ranged:
        df = bronze.restrict_to_range(df, options.start, options.end)
        mode, partitions = "overwrite_partitions", [None, *partitions_in_range(table_path, options.start, options.end)]
    else:
        mode, partitions = ("append", None) if append else ("overwrite", None)
    staged = delta_io.stage_table(df, table_path, mode=mode, partitions=partitions,
                                  metadata={"run_id": record.run_id}, schema_evolution=True)
    staged.metadata[FILES_KEY] = json.dumps(names, separators=(",", ":"))
    if append:
        touched = frozenset(None if k.split("=", 1)[1] == delta_io.NULL_PARTITION else k.split("=", 1)[1]
                            for k in staged.partitions)
        build.changes[name] = Change(committed_identity(ledger, name, table_path), touched)
    null_rows = staged.partitions.get(f"{bronze.PARTITION_COLUMN}={delta_io.NULL_PARTITION}", 0)
    output = OutputRecord("bronze", name, str(table_path), None, staged.rows, null_rows, 0,
                          len(staged.partitions), 0, time.perf_counter() - began, "staged", fp)
    how = f"{len(chosen)} new file(s) appended" if append else f"{len(chosen)} file(s)"

    def report(out: OutputRecord) -> None:
        logger.info("bronze/%s: %d rows from %s in %d partitions -> version %s (%.1fs)",
                    source.name, out.rows_written, how, out.partitions_written, out.version, out.seconds)

    pending.append(PendingWrite(staged, output, report))


def sf_name(sf: bronze.SourceFile) -> str:
    """What a bronze row's _source_file says of its file (the landing path relative to
    the datamart, once the landing step named it)."""
    return getattr(sf, "name", None) or str(sf.path)


def _committed_files(build: Build, name: str, table_path: Path) -> list[str] | None:
    """The landed files the committed table was made of, when its last commit says so and
    it is the version this domain's ledger last wrote; else None."""
    version = delta_io.table_version(table_path)
    last = build.ledger.last_write_record(name)
    if version is None or last is None or last[1]["version"] != version:
        return None
    commit = delta_io.history(table_path, 1)[0]
    if commit.get("version") != version or FILES_KEY not in commit:
        return None
    return json.loads(commit[FILES_KEY])


def _bronze_changes(
    build: Build, sf: bronze.SourceFile, digests: dict | None, table_path: Path
) -> set[str | None] | None:
    """The partitions of `bronze/<source>` whose rows the file now changes, when only
    some do (else None: the table is rewritten whole). It needs the committed table to
    come from a whole-file ingest with the same source settings and header, its commit
    to carry that file's date digests, and no malformed line to have changed."""
    name = f"bronze/{sf.source.name}"
    version = delta_io.table_version(table_path)
    last = build.ledger.last_write_record(name)
    if digests is None or version is None or last is None or last[1]["version"] != version:
        return None
    previous = next((i for i in last[0]["inputs"] or [] if i["source"] == sf.source.name), None)
    if (previous is None or previous["source_config_hash"] != sf.source.fingerprint()
            or previous["range_start"] is not None or previous["range_end"] is not None):
        return None
    commit = delta_io.history(table_path, 1)[0]
    if commit.get("version") != version or bronze.DIGEST_KEY not in commit:
        return None
    committed = delta_io.view(table_path)
    if set(committed.schema.names) != {*sf.columns, *bronze.RESERVED}:
        return None  # the header changed
    texts = bronze.changed_date_texts(digests, json.loads(commit[bronze.DIGEST_KEY]))
    if not texts or bronze.MALFORMED in texts or len(texts) > 1000:
        return None  # lines only moved, a malformed line changed, or too much changed
    changed = bronze.partitions_of(build.get_spark(), sf.source, texts)
    total = {k[0] for k in committed.partitions()} | changed
    if changed == total:
        return None
    logger.info("bronze/%s: %d of %d partitions changed (%s)", sf.source.name, len(changed), len(total),
                ", ".join(sorted(p or "null" for p in changed)[:6]) + (" ..." if len(changed) > 6 else ""))
    return changed
