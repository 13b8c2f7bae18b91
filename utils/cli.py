"""Command line of `python main.py`: sub-commands, each with --help.

    python main.py [build options]        build every domain in conf/ (or --domain D)
    python main.py build [options]        the same, spelled out
    python main.py collect [--every 15m]  collect sources into landing only
    python main.py report | deck | docs   the quality report, the deck, the docs
    python main.py sql "SELECT ..."       SQL over a domain's silver and gold tables
    python main.py train --domain D       models out of time, tracked and registered in MLflow
    python main.py materialize            the online store (latest features per entity)
    python main.py serve [--port N]       the serving API (predict, recommend, features)
    python main.py monitor --domain D     drift, performance, alerts, retraining
    python main.py mlflow [--port N]      the MLflow UI, behind a login
    python main.py walkthrough --domain D the narrated walkthrough video (MP4 with chapters)

Exit status: 0 on success, 1 when the run fails (one line on stderr says why and where
the full log is), 2 for wrong options.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from utils.lake import logs
from utils.lake.config import CONF_DIR, ConfigError, load_config
from utils.lake.datamart import Datamart
from utils.lake.ledger import RunLedger
from utils.lake.pii import ENV_VAR
from utils.lake.spark import SparkSettings, get_spark
from utils.layers import pipeline

logger = logging.getLogger("utils")
from utils.lake.paths import PROJECT_ROOT, portable_path  # noqa: E402  (resolved once, in utils.lake.paths)


def _date(text: str) -> dt.date:
    """YYYY-MM-DD, or YYYY-MM for the first day of that month."""
    try:
        return dt.date.fromisoformat(text if len(text) > 7 else f"{text}-01")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD or YYYY-MM)") from exc


def _csv_list(text: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in text.split(",") if x.strip())


def _shared_options(p: argparse.ArgumentParser) -> None:
    """--domain, --config, --set, --data-root, --datamart: the same for every sub-command."""
    p.add_argument("--domain", default=None,
                   help=f"the domain: conf/<domain>.yaml (default: every domain in conf/: {', '.join(available_domains())})")
    p.add_argument("--config", type=Path, help="a configuration file instead of conf/<domain>.yaml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration key (YAML value), e.g. "
                        "sources.features_attributes.date_formats='[d/M/yyyy]'; repeatable")
    p.add_argument("--data-root", type=Path, default=None,
                   help="folder holding the source files (default: data/<domain>/ when it exists, else data/)")
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart",
                   help="folder of the datamart (every domain's tables, landing, _meta)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python main.py [build]",
        description="Build the lakehouse datamart: sources -> landing -> bronze -> silver -> gold Delta tables. "
                    "Other commands: python main.py collect | report | deck | docs | sql | train | materialize | serve | "
                    "monitor | mlflow (each with --help).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _shared_options(p)
    p.add_argument("--layers", type=_csv_list, default=pipeline.IMPLEMENTED_LAYERS,
                   help=f"comma-separated layers to build, from {','.join(pipeline.LAYERS)}")
    p.add_argument("--sources", type=_csv_list, default=None,
                   help="comma-separated sources to ingest (default: all declared)")
    p.add_argument("--start", type=_date, help="first snapshot date to process (YYYY-MM-DD or YYYY-MM)")
    p.add_argument("--end", type=_date, help="last snapshot date to process (YYYY-MM-DD or YYYY-MM)")
    p.add_argument("--full-refresh", action="store_true",
                   help="rebuild even when the inputs are unchanged since the last run")
    p.add_argument("--replay-quarantine", action="store_true",
                   help="silver: re-process only the partitions that hold quarantined rows "
                        "(after fixing the config or the data)")
    p.add_argument("--report", action="store_true",
                   help="after a successful run, profile its silver and gold tables into _meta/profile "
                        "and write the quality report (HTML, PDF, CSV) under _reports/<run_id>/")
    p.add_argument("--profile", action="store_true",
                   help="after a successful run, profile its silver and gold tables into _meta/profile only "
                        "(the report can be written later with `python -m utils.quality.report`)")
    p.add_argument("--master", default="local[*]",
                   help="Spark master URL: local[*], spark://host:7077, yarn, k8s://...")
    p.add_argument("--remote", default=None, metavar="sc://HOST:PORT",
                   help="a Spark Connect endpoint instead of --master (docs/cluster.md)")
    p.add_argument("--spark-ui", action="store_true", help="enable the Spark web UI (off by default)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def setup_logging(level: str, console: Console, log_file: Path | None) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    screen = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    screen.setLevel(level)
    root.addHandler(screen)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(file_handler)
    logs.quiet_noisy_loggers()


class RichProgress(pipeline.Progress):
    """A progress bar per layer on stderr."""

    def __init__(self, console: Console):
        self._bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[item]}"), TimeElapsedColumn(), console=console, transient=True,
        )
        self._task = None

    def start(self, total: int, label: str) -> None:
        self._bar.start()
        self._task = self._bar.add_task(label, total=total, item="")

    def advance(self, label: str) -> None:
        if self._task is not None:
            self._bar.update(self._task, advance=1, item=label)

    def stop(self) -> None:
        self._bar.stop()


def summary_table(record) -> Table:
    table = Table(title=f"run {record.run_id}: {record.status} in {record.seconds or 0:.1f}s")
    numeric = ("rows", "null dates", "quarantined", "partitions", "version", "seconds")
    for col in ("layer", "table", "status", *numeric):
        table.add_column(col, justify="right" if col in numeric else "left")
    for o in record.outputs:
        table.add_row(
            o.layer, o.table, o.status, f"{o.rows_written:,}", f"{o.rows_null_date:,}", f"{o.rows_quarantined:,}",
            str(o.partitions_written), "-" if o.version is None else str(o.version), f"{o.seconds:.1f}",
        )
    return table


SUBCOMMANDS = ("build", "collect", "report", "deck", "docs", "sql", "train", "materialize", "serve", "monitor",
               "mlflow", "walkthrough")


def available_domains() -> list[str]:
    """The domains declared in conf/ (one YAML file each)."""
    return sorted(p.stem for p in CONF_DIR.glob("*.yaml"))


def sample_maker(domain: str):
    """The domain's `ensure_sample(data_root)` (utils/domains/<domain>/), which generates
    its sample data when absent; None for a domain without a generator run on demand."""
    try:
        module = importlib.import_module(f"utils.domains.{domain}")
    except ModuleNotFoundError as exc:
        if exc.name != f"utils.domains.{domain}":
            raise
        return None
    return getattr(module, "ensure_sample", None)


def default_data_root(domain: str) -> Path:
    """data/<domain>/ when it exists or the domain generates its sample there; else data/
    (where the CS611 files are dropped)."""
    own = PROJECT_ROOT / "data" / domain
    return own if own.is_dir() or sample_maker(domain) else PROJECT_ROOT / "data"


def data_root_of(args, domain: str) -> Path:
    """--data-root, else the default, whose sample data is generated on first use."""
    if args.data_root is not None:
        return args.data_root.resolve()
    root = default_data_root(domain)
    maker = sample_maker(domain)
    if maker is not None and maker(root):
        logging.getLogger(__name__).info("%s: generated the sample data in %s", domain, portable_path(root))
    return root.resolve()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in SUBCOMMANDS else "build"
    if command == "collect":
        return collect_main(argv)
    if command == "sql":
        return sql_main(argv)
    if command == "train":
        built = _built_gold_trainer(_option(argv, "--domain"))
        if built is not None:
            return built(argv if "--tracking-uri" in argv else [*argv, "--track"])
        if _recommends(_option(argv, "--domain")):
            from utils.ml import recommend

            return recommend.main(argv if "--tracking-uri" in argv else [*argv, "--track"])
        from utils.ml import train

        # tracked in MLflow by default here; python -m utils.ml.train tracks with --track
        return train.main(argv if "--tracking-uri" in argv else [*argv, "--track"])
    if command in ("report", "deck", "docs", "materialize", "serve", "monitor", "mlflow", "walkthrough"):
        return _delegate(command, argv)
    return build_main(argv)


def _option(argv: list[str], name: str) -> str | None:
    """The value of `name` in `argv` (``--name V`` or ``--name=V``), else None."""
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _built_gold_trainer(domain: str | None):
    """The `main(argv)` of utils/domains/<domain>/train.py for a domain with its own gold
    builder (gold.builder in its YAML; e.g. energy's forecast), else None. A builder
    domain without such a module has no model: a clear error, not a stack trace."""
    if domain is None or domain not in available_domains():
        return None
    config = load_config(domain)
    if config.gold_builder is None:
        return None
    try:
        module = importlib.import_module(f"utils.domains.{domain}.train")
    except ModuleNotFoundError as exc:
        if exc.name != f"utils.domains.{domain}.train":
            raise

        def no_model(argv: list[str]) -> int:
            _consoles()[1].print(f"error: {domain} has no model to train (its gold is built by "
                                 f"{config.gold_builder.builder}, without a utils/domains/{domain}/train.py)")
            return 1

        return no_model
    return module.main


def _recommends(domain: str | None) -> bool:
    """Whether the domain's models are recommenders (gold.recommend in its YAML)."""
    if domain is None or domain not in available_domains():
        return False
    gold = load_config(domain).gold
    return gold is not None and gold.recommend is not None


#: Sub-commands that are another module's command line: python main.py <name> = python -m <module>.
DELEGATED = {
    "report": "utils.quality.report", "deck": "utils.present.deck", "docs": "utils.present.docs",
    "materialize": "utils.serve.online_store", "serve": "utils.serve.api", "monitor": "utils.ml.monitor",
    "mlflow": "utils.serve.mlflow_ui", "walkthrough": "utils.present.walkthrough",
}


def _delegate(command: str, argv: list[str]) -> int:
    """`report`, `deck`, `docs`, `materialize`, `serve`, `monitor`, `mlflow`: the tools'
    own command lines."""
    return importlib.import_module(DELEGATED[command]).main(argv)


def _consoles() -> tuple[Console, Console]:
    width = None if sys.stdout.isatty() else 120  # logs and CI: wide enough for the table
    return Console(width=width), Console(stderr=True, width=width)


def _fail(err: Console, exc: BaseException, log_file: Path) -> int:
    """Every failure ends as one line; the traceback goes to the log file."""
    logging.getLogger(__name__).debug("run failed", exc_info=True)
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    known = isinstance(exc, (ConfigError, pipeline.PipelineError)) or type(exc).__module__.startswith("utils")
    prefix = "" if known else f"{type(exc).__name__}: "
    err.print(f"error: {prefix}{message}", markup=False, highlight=False, soft_wrap=True)
    err.print(f"full log: {log_file}", markup=False, highlight=False, soft_wrap=True)
    return 1


def _domains(args) -> list[str]:
    if args.config is not None:
        return [args.domain or Path(args.config).stem]
    domains = [args.domain] if args.domain else available_domains()
    if args.data_root is not None and len(domains) > 1:
        # one folder cannot hold the sample data of every domain: say so rather than
        # build the other domains from the wrong files
        _consoles()[1].print(f"error: --data-root holds the data of one domain; add --domain NAME "
                             f"(domains in conf/: {', '.join(domains)})")
        raise SystemExit(2)
    return domains


def build_main(argv: list[str]) -> int:
    """Build each selected domain in turn, one ledger run each, one Spark session."""
    args = build_parser().parse_args(argv)
    out, err = _consoles()
    session: dict = {}
    for domain in _domains(args):
        code = _build_domain(args, domain, out, err, session)
        if code:
            return code
    return 0


def _build_domain(args, domain: str, out: Console, err: Console, session: dict) -> int:
    run_id = pipeline.new_run_id()
    datamart_root = args.datamart.resolve()
    log_file = Datamart(datamart_root).logs / f"{run_id}.log"
    setup_logging(args.log_level, err, log_file)
    try:
        data_root = data_root_of(args, domain)
        config = load_config(domain, path=args.config, overrides=args.overrides)
        options = pipeline.RunOptions(
            data_root=data_root, datamart=datamart_root,
            layers=tuple(args.layers), start=args.start, end=args.end,
            full_refresh=args.full_refresh, sources=args.sources, run_id=run_id,
            replay_quarantine=args.replay_quarantine, overrides=tuple(args.overrides),
            pii_key=os.environ[ENV_VAR].encode("utf-8") if os.environ.get(ENV_VAR) else None,
        )

        def spark():
            # one session serves every domain of this command; the first domain's
            # settings size it
            if "spark" not in session:
                session["spark"] = get_spark(SparkSettings(
                    master=args.master, app_name="lakehouse", ui=args.spark_ui,
                    conf=config.spark_conf, input_bytes=_input_bytes(config, options),
                    # on a cluster or Connect: proven shared with the executors at start
                    remote=args.remote, shared_storage=datamart_root))
            return session["spark"]

        logger.info("run %s: domain %s, layers %s, data %s", run_id, config.domain, ",".join(options.layers),
                    options.data_root)
        record = pipeline.run_pipeline(config, options, spark, RichProgress(err))
        _evaluate_recommenders(config, options, record, spark)
        _evaluate_built_gold(config, options, record, spark)
        _materialize(config, options, record)
        _monitor(config, options, record, spark)
    except KeyboardInterrupt:
        err.print(f"error: interrupted; tables keep their last committed versions (log: {log_file})")
        return 130
    except Exception as exc:
        return _fail(err, exc, log_file)
    report_paths = None
    if args.report or args.profile:
        report_paths = _profile_and_report(record, options, spark, report=args.report)
    out.print(summary_table(record))
    runs = Datamart(options.datamart).runs
    out.print(f"run record: {RunLedger(runs).record_path(run_id)}", soft_wrap=True)
    out.print(f"ledger: {runs}  log: {log_file}", soft_wrap=True)
    if report_paths:
        out.print(f"report: {report_paths['html']}  (pdf: {report_paths['pdf']})", soft_wrap=True)
    elif not args.report:
        latest = _latest_report(options.datamart)
        hint = "add --report, or run `python main.py report`"
        if latest is None:
            out.print(f"report: none yet for this datamart; {hint}", soft_wrap=True)
        else:
            out.print(f"report: latest is {latest} (run {latest.parent.name}); for this run {hint}", soft_wrap=True)
    return 0


def _wrote(record, layer: str, table: str | None = None) -> bool:
    """Whether the run wrote a table of `layer` (or that `table`), rather than skipping it."""
    return any(o.layer == layer and (table is None or o.table == table) and o.status != "unchanged"
               for o in record.outputs)


def _evaluate_recommenders(config, options, record, spark) -> None:
    """After a build that wrote gold (or left no evaluation yet), a domain with
    recommenders is evaluated: <datamart>/_models/<domain>/evaluation.json."""
    if config.gold is None or config.gold.recommend is None or "gold" not in options.layers:
        return
    from utils.ml import recommend

    latest = Datamart(options.datamart, config.domain).models / "evaluation.json"
    wrote_gold = _wrote(record, "gold")
    if wrote_gold or not latest.is_file():
        report = recommend.run(spark(), options.datamart, config.domain)
        logger.info("\n%s", recommend.summary(report))


def _evaluate_built_gold(config, options, record, spark) -> None:
    """After a build of the gold of a domain with its own builder, the domain's
    gold.evaluate runs, e.g. the energy analyses: forced when the build wrote gold, else
    it recomputes only what is missing or older than the gold tables (it decides)."""
    spec = config.gold_builder
    if spec is None or spec.evaluate is None or "gold" not in options.layers:
        return
    from utils.layers.build_gold_builder import resolve_function

    evaluate = resolve_function(spec.evaluate, f"{config.file}: gold.evaluate")
    evaluate(spark, options.datamart, config, options.data_root, force=_wrote(record, "gold"))


def _materialize(config, options, record) -> None:
    """After a build that wrote the feature store (or left no online store yet), its
    latest rows go to the default online store (SQLite under the datamart). A domain whose
    gold is its builder's is materialised from the table its ``serving`` module names
    (energy: building_days), or skipped when it has none."""
    if "gold" not in options.layers or (config.gold is None and config.gold_builder is None):
        return
    from utils.serve import online_store

    table = "feature_store"
    if config.gold is None:
        module = online_store.serving_module(config.domain)
        if module is None:
            logger.info("online store: %s has no feature store and its builder serves nothing; skipped",
                        config.domain)
            return
        table = module.TABLE
    store = online_store.open_store(online_store.default_url(options.datamart))
    try:
        known = store.info(config.domain) is not None
    finally:
        store.close()
    wrote = _wrote(record, "gold", f"gold/{table}")
    if wrote or not known:
        online_store.materialize(options.datamart, [config.domain])


def _monitor(config, options, record, spark) -> None:
    """After a build that wrote gold, a domain whose champion (classifier, recommender or
    the energy forecast) is in the datamart's MLflow store is monitored (drift,
    performance, alerts, retraining as its monitoring: section says). No store or no
    champion: nothing to monitor yet (an info line says so)."""
    if config.gold is None and config.gold_builder is not None and "gold" in options.layers:
        if not config.gold_builder.builder.startswith("utils.domains.energy."):
            logger.info("monitoring: %s has no model to monitor; skipped", config.domain)
        elif not _wrote(record, "gold"):
            logger.info("monitoring %s: gold unchanged; skipped", config.domain)
        elif not (Path(options.datamart) / "_mlflow" / "mlflow.db").is_file():
            logger.info("monitoring %s skipped: no MLflow store yet; train the forecast first "
                        "(python main.py train --domain %s)", config.domain, config.domain)
        else:
            from utils.ml import monitor

            try:
                result = monitor.monitor(options.datamart, config.domain)
            except monitor.NoChampionError as exc:
                logger.info("monitoring %s skipped: %s", config.domain, exc)
                return
            logger.info("monitoring %s: %d alert(s)", config.domain, len(result.get("alerts", [])))
        return
    if config.gold is None or not config.gold.labels or "gold" not in options.layers:
        return
    if not _wrote(record, "gold"):
        return
    if not (Path(options.datamart) / "_mlflow" / "mlflow.db").is_file():
        return
    from utils.ml import monitor

    try:
        result = monitor.monitor(options.datamart, config.domain, spark=spark)
    except monitor.NoChampionError as exc:
        logger.info("monitoring %s skipped: %s", config.domain, exc)
        return
    logger.info("monitoring %s: %d alert(s)", config.domain, len(result.get("alerts", [])))


def collect_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python main.py collect",
        description="Collect the sources of each domain into the landing zone (datamart/landing/...), "
                    "without building tables. Every round is one run in the ledger; every attempt a row "
                    "of _meta/ingestion.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _shared_options(p)
    p.add_argument("--sources", type=_csv_list, default=None, help="comma-separated sources (default: all)")
    p.add_argument("--every", default=None, metavar="PERIOD",
                   help="collect again every PERIOD (e.g. 30s, 15m, 1h) until stopped; Ctrl-C ends it after "
                        "the delivery in progress")
    p.add_argument("--rounds", type=int, default=None, help="with --every: stop after this many rounds")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def collect_main(argv: list[str]) -> int:
    """`python main.py collect`: one round per domain, or rounds --every PERIOD."""
    from utils.ingest import collect

    args = collect_parser().parse_args(argv)
    out, err = _consoles()
    datamart = Datamart(args.datamart.resolve())
    log_file = datamart.logs / f"collect-{pipeline.new_run_id()}.log"
    setup_logging(args.log_level, err, log_file)
    try:
        period = collect.parse_every(args.every) if args.every else None
        configs = [load_config(d, path=args.config, overrides=args.overrides) for d in _domains(args)]
    except (ValueError, ConfigError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        return 2 if isinstance(exc, ValueError) else 1
    failures = []

    def one_round() -> None:
        for config in configs:
            try:
                data_root = data_root_of(args, config.domain)
                record = collect.collect_run(config, data_root=data_root, datamart=datamart.for_domain(config.domain),
                                             run_id=pipeline.new_run_id(), sources=args.sources)
            except Exception as exc:
                failures.append(exc)
                raise
            landed = {i.source for i in record.inputs}
            out.print(f"collect {config.domain}: run {record.run_id}: "
                      + (f"landed {', '.join(sorted(landed))}" if landed else "nothing new"), soft_wrap=True)

    if period is None:
        try:
            one_round()
        except Exception as exc:
            return _fail(err, exc, log_file)
        return 0
    stop = threading.Event()
    previous = signal.getsignal(signal.SIGINT)

    def interrupt(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        logger.warning("stopping after the delivery in progress (Ctrl-C again to abort it)")
        stop.set()

    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        rounds = collect.collect_every(one_round, period, stop=stop, max_rounds=args.rounds)
    finally:
        signal.signal(signal.SIGINT, previous)
    out.print(f"collect: {rounds} round(s), {len(failures)} failed", soft_wrap=True)
    return 1 if failures and len(failures) == rounds * len(configs) else 0


def sql_parser() -> argparse.ArgumentParser:
    """Options of `python main.py sql` (its body is utils.warehouse.command)."""
    p = argparse.ArgumentParser(
        prog="python main.py sql",
        description="SQL over a domain's silver and gold Delta tables (embedded DuckDB, no copy): gold tables by "
                    "name (label_store) or as gold.<table>, silver tables as silver.<table>. Without a query: "
                    "the tables. --ddl prints their DDL; --warehouse exports them into PostgreSQL.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    _shared_options(p)
    p.add_argument("query", nargs="?", default=None, help='the SQL, e.g. "SELECT count(*) FROM label_store"; '
                                                          '- reads it from stdin')
    p.add_argument("--format", choices=("table", "csv", "json"), default="table", help="how results are printed")
    p.add_argument("--max-rows", type=int, default=1000, help="--format table: print at most this many rows")
    p.add_argument("--ddl", action="store_true", help="print the DDL of the tables (types, keys, comments)")
    p.add_argument("--dialect", choices=("postgresql", "duckdb"), default="postgresql", help="the DDL's dialect")
    p.add_argument("--warehouse", metavar="postgresql://USER@HOST:PORT/DB", default=None,
                   help="export the tables into this PostgreSQL database, atomically (schemas <domain>_<layer>)")
    p.add_argument("--layers", default=None,
                   help="comma-separated, from silver,gold: the layers to export (default gold) or to print the "
                        "DDL of (default both)")
    p.add_argument("--schema-prefix", default=None,
                   help="--warehouse: PostgreSQL schemas are <prefix>_<layer> (default: the domain)")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def sql_main(argv: list[str]) -> int:
    """`python main.py sql`: query, print the DDL of, or export a domain's warehouse."""
    from utils.warehouse.command import run_sql

    args = sql_parser().parse_args(argv)
    out, err = _consoles()
    setup_logging(args.log_level, err, None)
    return run_sql(args, out, err)


def _latest_report(datamart: Path) -> Path | None:
    """The HTML report of the newest run that has one (run ids sort by time)."""
    found = sorted(Path(datamart).glob("_reports/*/quality.html"), key=lambda p: p.parent.name)
    return found[-1] if found else None


def _input_bytes(config, options) -> int:
    """Bytes of the selected source files that exist (missing ones fail later, clearly)."""
    total = 0
    for name, source in config.sources.items():
        if options.sources and name not in options.sources:
            continue
        if getattr(source, "api", None) is not None or not source.path:
            continue
        path = source.resolve(options.data_root)
        if path.is_file():
            total += path.stat().st_size
    return total


def _profile_and_report(record, options, get_session, report: bool = True) -> dict | None:
    """Profile what the run wrote and (with `report`) build its report. The tables are
    committed by now, so a failure here is a warning, not a failed run."""
    from utils.quality import profile
    from utils.quality import report as report_module

    log = logging.getLogger(__name__)
    try:
        versions = {o.table: o.version for o in record.outputs if o.version is not None}
        if any(o.status == "written" and o.layer in ("silver", "gold") for o in record.outputs):
            profile.profile_datamart(get_session(), options.datamart, record.run_id, versions=versions)
        return report_module.build_report(options.datamart, record.run_id) if report else None
    except Exception:  # reported, with traceback in the run's log; the build itself succeeded
        log.warning("the quality report could not be built; see the log, or run `python -m utils.quality.report`",
                    exc_info=True)
        return None


if __name__ == "__main__":
    sys.exit(main())
