"""The gold layer of a domain with its own builder (``gold.builder`` in its YAML, e.g.
the energy domain's exploitation zone): the domain's pure function makes its gold tables
from silver as this run leaves it; the run stages them, records them in the ledger and
commits them with its other writes (upstream first, nothing visible before every layer
passed), and skips them when none of the silver inputs changed since they were built.

:func:`build_gold` (utils.layers.build_gold) dispatches here when the configuration has
``gold.builder``; the generic feature and label stores never come here."""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path

from utils.lake import delta_io
from utils.lake.ledger import OutputRecord
from utils.layers.run import Build, PendingWrite, PipelineError, committed_identity, fingerprint

logger = logging.getLogger(__name__)


def resolve_function(ref: str, where: str) -> Callable:
    """The function ``package.module:function`` names; PipelineError naming `where` (the
    YAML key) when it cannot be imported."""
    module, _, name = ref.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise PipelineError(f"{where}: cannot load {ref}: {exc}") from exc


def builder_fingerprint(build: Build, silver_fingerprints: dict[str, str], staged: set[str]) -> str:
    """Hash of what the builder's tables are made of: the gold section, the builder's
    source files (every *.py of its package, so that a change of its code rebuilds the
    tables) and the identity of every silver input (this run's fingerprint, else the
    committed table's). Raises when an input does not exist or the builder's module
    cannot be found. The run's --start/--end are not part of it: the tables are always
    built whole, from every silver partition."""
    spec, datamart = build.config.gold_builder, build.datamart
    identities = {}
    for t in spec.inputs:
        path = datamart.table("silver", t)
        if t not in staged and not delta_io.table_exists(path):
            raise PipelineError(f"gold: silver/{t} does not exist yet; build --layers silver first")
        identities[t] = silver_fingerprints.get(f"silver/{t}") or committed_identity(build.ledger, f"silver/{t}", path)
    try:
        code = spec.code_fingerprint()
    except (OSError, ValueError) as exc:
        raise PipelineError(f"{build.config.file}: gold.builder: {exc}") from exc
    return fingerprint("gold", spec.fingerprint(), identities, code)


def build_builder_gold(
    build: Build,
    silver_views: dict[str, delta_io.TableView],
    silver_fingerprints: dict[str, str],
) -> list[PendingWrite]:
    """Stage every table of ``gold.outputs`` as the domain's builder makes it from the
    silver inputs (staged views of this run, else the committed tables), each replacing
    its table whole; [] when every output was built from the same inputs and code and
    nobody wrote it since (recorded as unchanged). The frames the builder returns may be
    persisted (a table that feeds another): they are unpersisted once staged, or when
    staging fails."""
    spec, options, progress = build.config.gold_builder, build.options, build.progress
    fp = builder_fingerprint(build, silver_fingerprints, set(silver_views))
    paths = {n: build.datamart.table("gold", n) for n in spec.outputs}
    if not options.full_refresh and all(
            build.ledger.unchanged(f"gold/{n}", fp, delta_io.table_version(p)) for n, p in paths.items()):
        for n, p in paths.items():
            logger.info("gold/%s: inputs unchanged since version %s, skipped", n, delta_io.table_version(p))
            build.record.outputs.append(OutputRecord("gold", f"gold/{n}", str(p), delta_io.table_version(p),
                                                     0, 0, 0, 0, 0, 0.0, "unchanged", fp))
        return []
    if options.start is not None or options.end is not None:
        logger.info("gold: %s builds its tables whole from every silver partition (--start/--end select what "
                    "bronze and silver rebuild)", spec.builder)
    builder = resolve_function(spec.builder, f"{build.config.file}: gold.builder")
    spark = build.get_spark()
    progress.start(len(paths), "gold")
    began = time.perf_counter()
    staged: dict[str, delta_io.StagedWrite] = {}
    frames: dict = {}
    try:
        silver = {t: (silver_views.get(t) or delta_io.view(build.datamart.table("silver", t))).read(spark)
                  for t in spec.inputs}
        frames = builder(silver, build.config)
        if set(frames) != set(paths):
            raise PipelineError(f"gold: {spec.builder} returned {sorted(frames)}; gold.outputs declares "
                                f"{sorted(paths)}")
        for name, table in spec.outputs.items():
            staged[name] = delta_io.stage_table(
                frames[name], paths[name], mode="overwrite",
                partition_by=delta_io.DEFAULT_PARTITION_BY if table.partitioned else None,
                metadata={"run_id": build.record.run_id})
            progress.advance(name)
    except BaseException:
        for write in staged.values():
            write.abort()
        raise
    finally:
        progress.stop()
        for df in frames.values():  # the builder may persist what it returns: released once staged
            if hasattr(df, "unpersist"):
                df.unpersist()
    return _pending(staged, paths, fp, time.perf_counter() - began)


def _pending(staged: dict[str, delta_io.StagedWrite], paths: dict[str, Path], fp: str,
             seconds: float) -> list[PendingWrite]:
    """The staged gold writes handed to the run, in the order gold.outputs declares."""

    def report(out: OutputRecord) -> None:
        logger.info("%s: %d rows in %d partitions -> version %s", out.table, out.rows_written,
                    out.partitions_written, out.version)

    return [PendingWrite(write, OutputRecord("gold", f"gold/{name}", str(paths[name]), None, write.rows, 0, 0,
                                             len(write.partitions), 0, seconds, "staged", fp), report)
            for name, write in staged.items()]
