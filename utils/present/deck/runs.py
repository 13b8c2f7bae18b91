"""The run the deck shows and what it inherits: the ledger row and run record of a run,
the Delta versions the runs up to it left, the newest input record per source, the
`_meta` rows that still describe the state after it, and the configuration it used."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from utils.lake.config import ConfigError, DomainConfig, load_config
from utils.lake.ledger import RunLedger
from utils.lake.paths import PROJECT_ROOT

from .facts import DeckError
from .format import portable_path

logger = logging.getLogger(__name__)


def ledger_runs(datamart: Path, domain: str | None = None) -> list[dict[str, Any]]:
    """The latest row of every build of the ledger (of `domain`), oldest first;
    collection rounds are left out."""
    return RunLedger(datamart / "_meta" / "runs", domain=domain).builds()


def resolve_run(datamart: str | Path, run_id: str | None = None,
                domain: str | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the run, every successful run of its domain up to it, oldest first): `run_id`, or
    the latest successful run of the ledger (of `domain`). Raises :class:`DeckError`
    naming the datamart."""
    root = Path(datamart)
    if not root.is_dir():
        raise DeckError(f"{root}: no such datamart folder")
    runs = ledger_runs(root, domain)
    if not runs:
        raise DeckError(f"{root}: no runs in the ledger (_meta/runs); build the datamart first with "
                        f"python main.py --datamart {root}")
    done = [r for r in runs if r["status"] == "success"]
    if run_id is None:
        if not done:
            raise DeckError(f"{root}: no successful run in the ledger ({len(runs)} runs, none succeeded)")
        run = done[-1]
        newer = [r for r in runs if r["started_at"] > run["started_at"]]
        if newer:
            logger.warning("%d newer run(s) did not succeed (latest: %s %s); the deck shows %s",
                           len(newer), newer[-1]["run_id"], newer[-1]["status"], run["run_id"])
    else:
        run = next((r for r in runs if r["run_id"] == run_id), None)
        if run is None:
            raise DeckError(f"{root}: no run {run_id} in the ledger")
        if run["status"] != "success":
            raise DeckError(f"{root}: run {run_id} has status {run['status']}; the deck shows successful runs only")
    # only the run's own domain: in a datamart of several domains, another domain's runs
    # wrote other tables and their _meta rows must not add to this one's facts
    upto = [r for r in done if r["started_at"] <= run["started_at"] and r.get("domain") == run.get("domain")]
    return run, upto


def run_record(datamart: Path, run: dict[str, Any]) -> tuple[dict[str, Any], Path | None]:
    """The run's JSON record when it exists (same content as the ledger row), else the row."""
    path = datamart / "_meta" / "run_records" / f"{run['run_id']}.json"
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8")), path
        except (OSError, ValueError) as exc:
            logger.warning("cannot read run record %s (%s); using the ledger row", path, exc)
    return run, None


def run_options(record: dict[str, Any]) -> dict[str, Any]:
    """The options of a run record (a dict, or its JSON text in a ledger row)."""
    opts = record.get("options") or {}
    if isinstance(opts, str):
        try:
            opts = json.loads(opts)
        except ValueError:
            opts = {}
    return dict(opts)


def as_time(value: Any) -> dt.datetime | None:
    """A timestamp of a run record (datetime or ISO text) as a datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value))


def table_versions(runs: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The Delta version of every table as the last of `runs` left it: the newest
    version any of them recorded (runs oldest first)."""
    versions: dict[str, int] = {}
    for run in runs:
        for o in run.get("outputs") or []:
            if o.get("version") is not None:
                versions[o["table"]] = int(o["version"])
    return versions


def latest_inputs(runs: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per source, the input record of the newest of `runs` (oldest first) that read it,
    so a run restricted to some sources still shows the files of the others."""
    out: dict[str, dict[str, Any]] = {}
    for run in runs:
        for i in run.get("inputs") or []:
            out[i["source"]] = i
    return out


def source_inputs(runs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per source, every input record (one per file or API page) of the newest of `runs`
    (oldest first) that read it."""
    out: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        mine: dict[str, list[dict[str, Any]]] = {}
        for i in run.get("inputs") or []:
            mine.setdefault(i["source"], []).append(i)
        out.update(mine)
    return out


def effective_rows(rows: list[dict[str, Any]], run_ids: Sequence[str], key: Callable[[dict], Any]) -> list[dict[str, Any]]:
    """The rows that describe the state after the last of `run_ids` (oldest first): for
    every `key`, the rows of the newest of those runs that wrote that key."""
    order = {rid: i for i, rid in enumerate(run_ids)}
    newest: dict[Any, int] = {}
    for r in rows:
        i = order.get(r["run_id"])
        if i is not None:
            k = key(r)
            newest[k] = max(newest.get(k, -1), i)
    return [r for r in rows if r["run_id"] in order and order[r["run_id"]] == newest[key(r)]]


def _load_config(options: dict[str, Any], domain: str) -> DomainConfig:
    """The configuration file the run names, or the current conf/<domain>.yaml."""
    path = options.get("config_file")
    if path and Path(path).is_file():
        return load_config(domain, path=path)
    if path:
        logger.warning("the run's configuration %s is gone; using conf/%s.yaml", path, domain)
    return load_config(domain)


def _config_at_version(config: DomainConfig, code_version: str) -> DomainConfig | None:
    """The same configuration file as committed at the run's code version (``git show``),
    or None when git, the commit or the file is not there."""
    import subprocess
    import tempfile

    sha = code_version.removesuffix("-dirty")
    try:
        rel = config.file.resolve().relative_to(PROJECT_ROOT)
        text = subprocess.run(["git", "show", f"{sha}:{rel.as_posix()}"], cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=10, check=True).stdout
    except (ValueError, OSError, subprocess.SubprocessError) as exc:
        logger.debug("no configuration at %s: %s", sha, exc)
        return None
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / config.file.name
        file.write_text(text, encoding="utf-8")
        try:
            old = load_config(config.domain, path=file)
        except ConfigError as exc:
            logger.debug("configuration at %s does not load: %s", sha, exc)
            return None
    return old


def run_config(options: dict[str, Any], domain: str, config_hash: str, code_version: str) -> tuple[DomainConfig, str]:
    """(the configuration of the run, where it came from): the run's file when its hash
    still matches, else that file as committed at the run's code version when that one
    matches, else the current file (with a warning)."""
    config = _load_config(options, domain)
    where = portable_path(config.file)
    if config.config_hash == config_hash:
        return config, where
    old = _config_at_version(config, code_version) if code_version else None
    if old is not None and old.config_hash == config_hash:
        logger.info("configuration %s changed since the run; using it as of git %s", config.file, code_version)
        return old, f"{where} at git {code_version.removesuffix('-dirty')}"
    logger.warning("configuration %s has changed since run (hash %s, run %s); descriptions and features come "
                   "from the current file", config.file, config.config_hash, config_hash)
    return config, f"{where} (changed since the run)"
